"""What the service computes while nobody asks: each framework's ops, compiled.

Eager JAX compiles every op for each new shape, dtype and transformation (10-50 ms
each): through a warm service a new expression's first check took 0.3-1.2 s, a repeat
0.1 s. Forward mode also costs each framework a one-time set-up on first use. So once
the frameworks are loaded, and only while no request waits, the service runs every
function of the grammar and the arithmetic through the frameworks' workers: float32 and
float64, reverse and forward mode, orders 1 and 2, at the usual shape of a check's
points (backends/lanes.py). Each item is one small request (a request that arrives
waits for one item at most, a fraction of a second); the rows are discarded. JAX keeps
what it compiled in the service's persistent cache too (backends/jax.py), so a later
service reads it back instead of compiling again.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from autograd_cli.core.model import Request
from autograd_cli.expr.functions import FUNCTIONS, Function
from autograd_cli.expr.nodes import variables as variables_of
from autograd_cli.expr.parser import parse

if TYPE_CHECKING:
    from autograd_cli.execution.runner import Pool

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
    for (dtype, mode, order), text in itertools.product(SETTINGS, texts()):
        expr = parse(text)
        variables = variables_of(expr)
        yield Request(
            text=text,
            expr=expr,
            variables=variables,
            points={v: np.array([POINT[v]]) for v in variables},
            wrt=tuple(",".join([v] * order) for v in variables),
            dtype=dtype,
            backends=frameworks,
            timeout=30.0,
            order=order,
            mode=mode,
        )


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
