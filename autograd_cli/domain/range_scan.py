"""The scan behind the intermediate range checks: every node's value, its partials,
its forward-mode tangents and its reverse-mode adjoints, in float64 over blocks of
points, with the first quantity per point that leaves the dtype's range (:class:`Found`).

Why a module of its own: it is the numpy engine; what the findings mean and how they
read is :mod:`.range_check`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from autograd_cli.core.statuses import OVERFLOW, RANGE_CODES, UNDERFLOW
from autograd_cli.domain import numeric
from autograd_cli.domain.tree import BLOCK, Step, num_value
from autograd_cli.expr.nodes import Num, Var

# What left the range: a node's value, its derivative along a variable (forward mode),
# the partial of its parent by it (both modes), or df/d(node) (reverse mode).
VALUE, TANGENT, PARTIAL, ADJOINT = 0, 1, 2, 3
#: Operations that give 0 only by underflow (from finite, non-zero arguments).
_NEVER_ZERO = frozenset({"exp", "sigmoid", "cosh", "mul", "div", "pow"})
_LN2, _LN10 = math.log(2.0), math.log(10.0)
_SQRT_PI = math.sqrt(math.pi)
_NP_UNARY: dict[str, Callable[[Any], Any]] = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "exp": np.exp,
    "log": np.log, "log2": np.log2, "log10": np.log10, "sqrt": np.sqrt, "abs": np.abs,
}


def _power(u: Any, b: Any) -> Any:
    """u**b, by repeated squaring for a constant integer exponent (numpy's power of a
    negative base to an integer is some 100 times slower than a multiplication)."""
    if np.ndim(b) == 0 and float(b).is_integer() and abs(b) <= 1 << 16:
        from autograd_cli.truth.noise_floor import integer_power

        return integer_power(u, int(b))
    return np.power(u, b)


def _range_value(
    step: Step, a: list[Any], columns: Mapping[str, np.ndarray], n: int
) -> tuple[Any, Any]:
    """A node's float64 value (a numpy scalar for a constant), and where it divides by
    an exact zero (a pole, or an edge where a partial is infinite; None: nowhere): an
    inf there is not an overflow."""
    op = step.op
    if op == "var":
        assert isinstance(step.node, Var)
        return columns[step.node.name], None
    if op in ("num", "pi", "e"):
        if op == "num":
            assert isinstance(step.node, Num)
            return np.float64(num_value(step.node.value)), None
        return np.float64(math.pi if op == "pi" else math.e), None
    u = a[0]
    if op in ("neg", "pos"):
        return (-u if op == "neg" else u), None
    if op in ("add", "sub", "mul", "div", "pow"):
        b = a[1]
        if op == "add":
            return u + b, None
        if op == "sub":
            return u - b, None
        if op == "mul":
            return u * b, None
        if op == "div":
            return u / b, b == 0
        return _power(u, b), u == 0
    if op == "sigmoid":
        return 1 / (1 + np.exp(-u)), None
    if op not in _NP_UNARY:
        return numeric.value(op, a), _pole(op, a)
    pole = None
    if op in ("log", "log2", "log10", "sqrt"):
        pole = u == 0
    elif op in ("asin", "acos"):
        pole = np.abs(u) == 1
    return _NP_UNARY[op](u), pole


def _pole(op: str, a: list[Any]) -> Any:
    """Where an ML or special function, or its partial, is infinite by a pole (None:
    nowhere): an inf there is classify's to label, not an overflow."""
    u = a[0]
    if op in ("log1p", "acosh"):
        return u == (-1 if op == "log1p" else 1)
    if op in ("atanh", "erfinv"):
        return np.abs(u) == 1
    if op == "rsqrt":
        return u == 0
    if op in ("lgamma", "digamma"):
        return (u <= 0) & (u == np.round(u))
    if op in ("atan2", "hypot"):
        return (u == 0) & (a[1] == 0)
    if op == "xlogy":
        return a[1] == 0
    return None


def _range_partials(
    op: str, a: list[Any], r: np.ndarray, want: Sequence[bool]
) -> list[Any]:
    """The partial of a node (value ``r``) by each argument ``want`` asks for."""
    u = a[0]
    if op in ("add", "sub", "mul", "div", "pow"):
        b = a[1]
        if op == "add":
            pair: list[Any] = [1.0, 1.0]
        elif op == "sub":
            pair = [1.0, -1.0]
        elif op == "mul":
            pair = [b if want[0] else None, u if want[1] else None]
        elif op == "div":
            pair = [1 / b if want[0] else None, -(r / b) if want[1] else None]
        else:
            pair = [b * _power(u, b - 1) if want[0] else None,
                    r * np.log(u) if want[1] else None]
        return [p if w else None for p, w in zip(pair, want, strict=True)]
    if op not in _NP_UNARY and op not in ("neg", "pos", "sigmoid"):
        return [p if w else None for p, w in zip(numeric.partials(op, a, r), want, strict=True)]
    if not want[0]:
        return [None]
    partial: Any
    if op in ("neg", "pos"):
        partial = -1.0 if op == "neg" else 1.0
    elif op == "sin":
        partial = np.cos(u)
    elif op == "cos":
        partial = -np.sin(u)
    elif op == "tan":
        partial = 1 + r * r
    elif op in ("asin", "acos"):
        partial = (1 if op == "asin" else -1) / np.sqrt(1 - u * u)
    elif op == "atan":
        partial = 1 / (1 + u * u)
    elif op == "sinh":
        partial = np.cosh(u)
    elif op == "cosh":
        partial = np.sinh(u)
    elif op == "tanh":
        partial = 1 - r * r
    elif op == "exp":
        partial = r
    elif op in ("log", "log2", "log10"):
        partial = 1 / (u * {"log": 1.0, "log2": _LN2, "log10": _LN10}[op])
    elif op == "sqrt":
        partial = 0.5 / r
    elif op == "abs":
        partial = np.sign(u)
    elif op == "sigmoid":
        partial = r * (1 - r)
    else:  # pragma: no cover - the allowlist has no other function
        raise ValueError(f"no partial for {op!r}")
    return [partial]


_FIELDS = ("code", "step", "what", "detail", "size")


class Found:
    """Per point, the first quantity found out of range: its code (0: none), node, kind
    (VALUE ...), detail (the parent for a partial, the variable for a tangent) and
    float64 value. The arrays are made at the first finding."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.any = False

    def _make(self) -> None:
        n = self.n
        self.code = np.zeros(n, dtype=np.int8)
        self.step = np.full(n, -1, dtype=np.int32)
        self.what = np.zeros(n, dtype=np.int8)
        self.detail = np.full(n, -1, dtype=np.int32)
        self.size = np.zeros(n)
        self.any = True

    def flag(self, code: int, where: np.ndarray, step: int, what: int, detail: int,
             size: Any) -> None:
        if self.any:
            where = where & (self.code == 0)
        if where.any():
            if not self.any:
                self._make()
            self.code[where] = code
            self.step[where] = step
            self.what[where] = what
            self.detail[where] = detail
            self.size[where] = np.broadcast_to(size, where.shape)[where]

    def merge(self, *others: Found) -> Found:
        for other in others:
            if not other.any:
                continue
            if not self.any:
                self._make()
            where = (self.code == 0) & (other.code != 0)
            for name in _FIELDS:
                getattr(self, name)[where] = getattr(other, name)[where]
        return self


def _range_block(
    steps: Sequence[Step], columns: Mapping[str, np.ndarray], dtype: str,
    directions: Sequence[str],
) -> Found:
    """The scan of :func:`intermediate_range` over one block of points. Constants stay
    numpy scalars and masks are built only where something is out of range, so a clean
    block costs a few passes per node."""
    from autograd_cli.comparison.verdicts import range_of

    limits = range_of(dtype)
    # below half the smallest subnormal a value rounds to 0 in any IEEE evaluation;
    # above it gradual underflow keeps it (the noise floor counts what that costs)
    limit, tiny = limits.overflows_at, max(limits.rounds_to_zero, 5e-324)
    n = len(next(iter(columns.values())))
    over, over_derivative, under = Found(n), Found(n), Found(n)
    overflow, underflow = RANGE_CODES[OVERFLOW], RANGE_CODES[UNDERFLOW]
    moving = [bool(step.variables.intersection(directions)) for step in steps]
    values: list[Any] = []
    poles: list[Any] = []
    goods: dict[int, np.ndarray] = {}
    partials: list[list[Any]] = []
    tangents: dict[str, list[Any]] = {d: [] for d in directions}

    def good(k: int) -> np.ndarray:
        """Where node k's arguments are finite and it divides by no exact zero."""
        if k not in goods:
            mask: Any = np.ones(n, dtype=bool)
            for i in steps[k].args:
                mask = mask & np.isfinite(values[i])
            if poles[k] is not None:
                mask = mask & ~poles[k]
            goods[k] = np.broadcast_to(mask, (n,))
        return goods[k]

    buffer = np.empty(n)

    def size(quantity: Any) -> Any:
        """|quantity| (in a reused buffer for arrays)."""
        return np.abs(quantity, out=buffer) if np.ndim(quantity) else np.abs(quantity)

    checked: set[int] = set()  # ids of arrays checked (all stay alive in the block)

    def check(found: Found, code: int, quantity: Any, k: int, at: int, what: int,
              detail: int) -> None:
        if type(quantity) is float or id(quantity) in checked:  # ±1, or seen as a value
            return  # (a partial of mul is the other argument, exp's is exp itself)
        checked.add(id(quantity))
        magnitude = size(quantity)
        if np.fmax.reduce(magnitude, axis=None) >= limit:  # fmax: NaN is no answer
            hit = np.broadcast_to(magnitude >= limit, (n,))
            found.flag(code, hit & good(k), at, what, detail, quantity)

    for k, step in enumerate(steps):
        a = [values[i] for i in step.args]
        v, pole = _range_value(step, a, columns, n)
        values.append(v)
        poles.append(pole)
        if step.op in ("var", "pi", "e"):
            partials.append([])
            for d in directions:
                tangents[d].append(1.0 if step.op == "var" and getattr(step.node, "name", "")
                                   == d else None)
            continue
        check(over, overflow, v, k, k, VALUE, -1)
        if np.fmin.reduce(size(v), axis=None) < tiny:
            low = size(v) < tiny
            tiny_value = low & (v != 0)
            if step.op == "num":
                assert isinstance(step.node, Num)
                tiny_value = low if step.node.value != 0 else tiny_value
            elif step.op in _NEVER_ZERO or step.op in numeric.NEVER_ZERO:
                nonzero: Any = True
                if step.op in ("mul", "div", "pow"):
                    nonzero = a[0] != 0
                    if step.op == "mul":
                        nonzero = nonzero & (a[1] != 0)
                if step.op == "erfc":  # scipy's erfc is 0 from 26.55 on, float64's from 27.2
                    nonzero = -a[0] * a[0] - np.log(np.abs(a[0]) * _SQRT_PI) < math.log(tiny)
                tiny_value = tiny_value | ((v == 0) & nonzero)
            elif step.op in numeric.ZERO_ONLY_AT_ZERO:
                tiny_value = tiny_value | ((v == 0) & (a[0] != 0))
            under.flag(underflow, np.broadcast_to(tiny_value, (n,)) & good(k), k, VALUE, -1,
                       v)
        if not step.args:
            partials.append([])
            for d in directions:
                tangents[d].append(None)
            continue
        parts = _range_partials(step.op, a, v, [moving[i] for i in step.args])
        partials.append(parts)
        for index, d in enumerate(directions):
            t: Any = None
            for i, p in zip(step.args, parts, strict=True):
                ti = tangents[d][i]
                if p is None or ti is None:
                    continue
                term = p if type(ti) is float else (
                    (ti if p == 1.0 else -ti) if type(p) is float else p * ti)
                t = term if t is None else t + term
            tangents[d].append(t)
            if t is not None:
                check(over_derivative, overflow, t, k, k, TANGENT, index)
        for i, p in zip(step.args, parts, strict=True):
            if p is not None:
                check(over_derivative, overflow, p, k, i, PARTIAL, k)
    adjoints: list[Any] = [None] * len(steps)
    adjoints[-1] = 1.0
    for k in range(len(steps) - 1, -1, -1):
        adjoint = adjoints[k]
        if adjoint is None:
            continue
        for i, p in zip(steps[k].args, partials[k], strict=True):
            if p is None:
                continue
            adjoints[i] = p if type(adjoint) is float and adjoint == 1.0 else adjoint * p
            if steps[i].op != "var" and type(adjoints[i]) is not float:
                check(over_derivative, overflow, adjoints[i], k, i, ADJOINT, -1)
    return over.merge(under, over_derivative)  # a tiny value makes 1/u overflow: tell that


def range_scan(
    steps: Sequence[Step], columns: Mapping[str, np.ndarray], dtype: str,
    directions: Sequence[str],
) -> Found:
    size = len(next(iter(columns.values())))
    found = Found(size)
    found._make()
    for lo in range(0, size, BLOCK):
        hi = min(lo + BLOCK, size)
        with np.errstate(all="ignore"):
            part = _range_block(steps, {k: c[lo:hi] for k, c in columns.items()}, dtype,
                                directions)
        if part.any:
            for name in _FIELDS:
                getattr(found, name)[lo:hi] = getattr(part, name)
    return found
