"""What warm workers compute while nobody asks: each framework's ops, compiled.

Eager JAX compiles every op for each new shape, dtype and transformation (10-50 ms
each): through warm workers a new expression's first check took 0.3-1.2 s, a repeat
0.1 s. Forward mode also costs each framework a one-time set-up on first use. So once
a framework is loaded, and only while no request waits, every function of the grammar
and the arithmetic runs through it: float32 and float64, reverse and forward mode,
orders 1 and 2, at the usual shape of a check's points (backends/lanes.py). Each item
is small (a request that arrives waits for one item at most, a fraction of a second)
and its rows are discarded.

Two drivers: the service steps through :func:`requests` from its main loop
(:class:`Warmup`, whose progress ``service status`` shows), and a Python process's
warm workers (:class:`autograd_cli.execution.warm.Session`) each run :class:`Idle`'s
items of their own framework between tasks, the last task's expression in the
neighbouring settings first (the next call often changes only the dtype, mode or order).
"""

from __future__ import annotations

import itertools
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_cli.core.model import Request
from autograd_cli.expr.functions import FUNCTIONS, Function
from autograd_cli.expr.nodes import variables as variables_of
from autograd_cli.expr.parser import parse

if TYPE_CHECKING:
    from autograd_cli.execution.runner import Pool
    from autograd_cli.expr.nodes import Expr


#: The backends worth warming: the ones that compile or set up per op.
FRAMEWORKS = ("torch", "tensorflow", "jax")
#: Most used first: a request in the first minute likely finds its ops ready.
SETTINGS = (
    ("float32", "reverse", 1),
    ("float64", "reverse", 1),
    ("float32", "forward", 1),
    ("float32", "reverse", 2),
    ("float64", "forward", 1),
    ("float64", "reverse", 2),
    ("float32", "forward", 2),
    ("float64", "forward", 2),
)
#: Functions per item: small enough that a request never waits long behind one.
GROUP = 4
#: The arithmetic: a constant on either side of each operator (each pairing of a
#: vector and a scalar is an op of its own for JAX), then variables together.
ARITHMETIC = (
    "x + 1", "1 + x", "x - 1", "1 - x", "2*x", "x*2", "x/2", "2/x", "-x",
    "2*x**3 + 4*x**2 + 5*x + 6", "x**2 + x**3 + x**0.5 + x**-1",
    "x*y + x/y - y + x + 1", "x**y + y**x + (x + y)**2",
)
#: Each request's point (inside most functions' domains; a NaN compiles the same).
POINT = {"x": 0.5, "y": 2.0}
#: The highest order a neighbouring setting of a task goes to (higher orders of a
#: user's expression can take seconds to compile: a request would wait behind one).
NEIGHBOUR_ORDER = 2


@dataclass(frozen=True)
class Item:
    """One expression in one setting, at :data:`POINT`."""

    text: str
    expr: Expr
    variables: tuple[str, ...]
    wrt: tuple[str, ...]
    dtype: str
    mode: str

    @property
    def order(self) -> int:
        return max((name.count(",") + 1 for name in self.wrt), default=1)


def wrt_for(variables: tuple[str, ...], order: int) -> tuple[str, ...]:
    """Each variable's pure derivative of ``order``: ``("x,x", "y,y")`` for order 2."""
    return tuple(",".join([v] * order) for v in variables)


def items() -> Iterator[Item]:
    """Every item, most used settings first."""
    for (dtype, mode, order), text in itertools.product(SETTINGS, texts()):
        expr = parse(text)
        variables = variables_of(expr)
        yield Item(text, expr, variables, wrt_for(variables, order), dtype, mode)


def neighbours(item: Item) -> list[Item]:
    """``item``'s expression in the settings one or two changes away (the other of
    float32/float64, the other mode, the next order up to :data:`NEIGHBOUR_ORDER`),
    fewest changes first."""
    dtypes = dict.fromkeys((item.dtype, "float32", "float64"))
    modes = dict.fromkeys((item.mode, "reverse", "forward"))
    orders = dict.fromkeys((item.order, *range(item.order + 1, NEIGHBOUR_ORDER + 1)))
    found = []
    for dtype, mode, order in itertools.product(dtypes, modes, orders):
        changes = (dtype != item.dtype) + (mode != item.mode) + (order != item.order)
        if changes:
            wrt = item.wrt if order == item.order else wrt_for(item.variables, order)
            found.append((changes, Item(item.text, item.expr, item.variables, wrt, dtype,
                                        mode)))
    return [neighbour for _, neighbour in sorted(found, key=lambda pair: pair[0])]


def call(function: Function) -> str:
    """``name(x)``, ``name(x, y)``, with a 1 for each parameter that has no default."""
    inputs = ["x", "y"][: function.arity]
    return f"{function.name}({', '.join(inputs + ['1'] * (function.required - function.arity))})"


def texts() -> list[str]:
    """The expressions of one setting: the arithmetic, then the functions in groups."""
    calls = [call(f) for f in FUNCTIONS.values()]
    groups = [calls[i : i + GROUP] for i in range(0, len(calls), GROUP)]
    return [*ARITHMETIC, *(" + ".join(group) for group in groups)]


def requests(backends: tuple[str, ...]) -> Iterator[Request]:
    """Every item, most used settings first, for ``backends``' frameworks."""
    frameworks = tuple(b for b in backends if b in FRAMEWORKS)
    if not frameworks:
        return
    for item in items():
        yield Request(
            text=item.text,
            expr=item.expr,
            variables=item.variables,
            points=points(item),
            wrt=item.wrt,
            dtype=item.dtype,
            backends=frameworks,
            timeout=30.0,
            order=item.order,
            mode=item.mode,
        )


def points(item: Item, dtype: Any = None) -> dict[str, np.ndarray]:
    """The item's one point per variable (0.5 for a variable :data:`POINT` lacks)."""
    return {v: np.array([POINT.get(v, 0.5)], dtype=dtype) for v in item.variables}


class Warmup:
    """The background warm-up's progress: the items left, how many ran."""

    def __init__(self, backends: tuple[str, ...], log: Callable[[str], None]) -> None:
        self.items: Iterator[Request] | None = requests(backends)
        self.done = 0
        self.log = log

    @property
    def running(self) -> bool:
        return self.items is not None

    def step(self, pool: Pool) -> bool:
        """Run one item on ``pool`` (its rows discarded); False once none is left. A
        failure only ends the warm-up."""
        request = None if self.items is None else next(self.items, None)
        if request is None:
            if self.items is not None:
                self.log("warm-up done: every function compiled")
            self.items = None
            return False
        self.done += 1
        try:
            pool.submit(request, request.backends).results()
        except Exception:
            self.log("warm-up stopped:\n" + traceback.format_exc())
            self.items = None
        return True


class Idle:
    """A worker's own queue of items for its framework: the neighbours of the tasks it
    answered (the latest first), then every item of :func:`items`, each run once.
    ``target`` and ``device`` say what the worker evaluates them with."""

    def __init__(self, backend: str, target: str = "", device: str = "cpu") -> None:
        self.target = target
        self.device = device
        self.urgent: deque[Item] = deque()
        self.general: Iterator[Item] | None = items() if backend in FRAMEWORKS else None
        self.seen: set[tuple[Expr, tuple[str, ...], str, str]] = set()

    def answered(self, item: Item) -> None:
        """A task was answered: its setting is compiled, its neighbours come next."""
        if self.general is None:
            return
        self.seen.add(_key(item))
        fresh = [n for n in neighbours(item) if _key(n) not in self.seen]
        self.urgent.extendleft(reversed(fresh))

    def next(self) -> Item | None:
        """The next item not run yet; None once every one has been."""
        while self.general is not None:
            item = self.urgent.popleft() if self.urgent else next(self.general, None)
            if item is None:
                self.general = None
                return None
            if _key(item) not in self.seen:
                self.seen.add(_key(item))
                return item
        return None


def _key(item: Item) -> tuple[Expr, tuple[str, ...], str, str]:
    return (item.expr, item.wrt, item.dtype, item.mode)
