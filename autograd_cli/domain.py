"""Where calculus itself has no answer: points where f is undefined, kinks, domain edges.

Why: frameworks disagree most exactly where the derivative does not exist (abs'(0) is 0
in PyTorch and 1 in JAX; sqrt'(0) is inf; 1/x at 0). Such rows are labelled
(``undefined``, ``nondifferentiable``) and explained, and do not count as mismatches
unless ``--strict``: gradcheck explains rather than cries wolf.

How. OUR tree is walked, never SymPy's: SymPy simplifies ``sqrt(x)**2`` to ``x`` for a
real x, which would make f defined where every framework computes NaN. Each node's
argument is checked against its function's domain and kinks (abs at 0, sqrt and log at
<= 0, a zero denominator, asin/acos at |u| >= 1, tan at odd multiples of pi/2, a
negative base to a non-integer power, 0 to a negative one):

* a screen over all points at once, in float64 with a running first-order error bound,
  settles the clear cases at numpy speed (``x < 0`` under sqrt by a margin, a
  denominator far from 0), so sweeps of millions of points pay little;
* points within the error bound of a critical value are decided exactly: the tree is
  evaluated in mpmath at three precisions, and a quantity is exactly zero when it is
  0 or shrinks with the precision (``sin(pi)`` is ~2^-190 at 192 bits, ~2^-766 at 768);
* at a kink or a domain edge the one-sided derivatives decide. They are *evaluated*:
  SymPy's derivative in adaptive mpmath at x0 ± h for h = 2^-32, 2^-64, 2^-96, 2^-128
  (relative to |x0|), on each side where our tree says f is defined; differences that
  shrink give the limit, values that grow give ±inf. ``sympy.limit`` was not chosen:
  it can take seconds or hang on derivatives with Abs and sign, and it knows SymPy's
  domain, not ours. Where both sides exist and agree (``x*abs(x)`` at 0) the point is
  differentiable and is judged as usual.

``nan`` or ``inf`` as a point is ``undefined`` (not a point of the real line). mpmath
and SymPy are imported only when a point needs an exact look.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from autograd_cli.expr.nodes import Binary, Call, Const, Expr, Num, Unary, Var

UNDEFINED = "undefined"
NONDIFFERENTIABLE = "nondifferentiable"
OVERFLOW = "overflow"
UNDERFLOW = "underflow"
#: Properties of a point (the same for every backend there).
POINT_STATUSES: tuple[str, ...] = (UNDEFINED, NONDIFFERENTIABLE)
#: Row statuses that are explained, not counted as mismatches unless --strict.
SPECIAL_STATUSES: tuple[str, ...] = (UNDEFINED, NONDIFFERENTIABLE, OVERFLOW, UNDERFLOW)
#: Per-point codes in :class:`Labels`: 0 is an ordinary point.
CODES: dict[str, int] = {UNDEFINED: 1, NONDIFFERENTIABLE: 2}
STATUS_OF_CODE: dict[int, str] = {code: status for status, code in CODES.items()}

#: Most points given the exact look (about a millisecond each) per check or sweep;
#: beyond, they are judged as usual and counted in ``Labels.unchecked`` (only
#: ill-conditioned expressions, e.g. underflowing ones, get near it).
MAX_EXACT = 2_000

#: Points screened at a time: the temporaries of a node stay in cache.
_BLOCK = 1 << 16
#: The screen's error bound is first order: a point within this many bounds of a
#: critical value gets the exact look.
_SAFETY = 64.0
_U = 2.0**-52
_TINY = 2.0**-1022
#: Operations whose small results are exact (no underflow error): x - 1 = 0 is 0.
_EXACT_AT_ZERO = frozenset({"add", "sub", "neg", "pos", "abs"})
_PRECISIONS = (192, 384, 768)
#: One-sided steps: h = scale * 2**-k.
_STEPS = (32, 64, 96, 128)
_SIDE_PRECISION = 512

_CRITICAL = frozenset(
    {"div", "log", "log2", "log10", "sqrt", "abs", "asin", "acos", "tan", "pow"}
)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Special:
    """Why one derivative at one point is not judged, and its one-sided values."""

    status: str
    reason: str
    left: float | None = None
    right: float | None = None


@dataclass
class Labels:
    """Per derivative label: a code per point (0, or :data:`CODES`) and its reason."""

    size: int
    codes: dict[str, np.ndarray]
    reasons: dict[str, np.ndarray]  # index into texts, -1 where the code is 0
    texts: list[str] = field(default_factory=list)
    sides: dict[tuple[str, int], tuple[float | None, float | None]] = field(
        default_factory=dict
    )
    unchecked: int = 0
    checked: int = 0  # points given the exact look

    def at(self, wrt: str, i: int) -> Special | None:
        code = int(self.codes[wrt][i])
        if not code:
            return None
        left, right = self.sides.get((wrt, i), (None, None))
        return Special(STATUS_OF_CODE[code], self.texts[int(self.reasons[wrt][i])], left, right)

    def any(self) -> bool:
        return any(bool(c.any()) for c in self.codes.values())


def _empty(size: int, wrt: Sequence[str]) -> Labels:
    return Labels(
        size,
        {w: np.zeros(size, dtype=np.int8) for w in wrt},
        {w: np.full(size, -1, dtype=np.int32) for w in wrt},
    )


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class _Step:
    op: str  # "var", "num", "pi", "e", an operator or a function name
    args: tuple[int, ...]
    node: Expr
    variables: frozenset[str]


def _program(expr: Expr) -> list[_Step]:
    """The tree in post-order (children first, left to right): innermost findings first."""
    steps: list[_Step] = []

    def visit(node: Expr) -> int:
        if isinstance(node, Var):
            steps.append(_Step("var", (), node, frozenset((node.name,))))
        elif isinstance(node, Num):
            steps.append(_Step("num", (), node, frozenset()))
        elif isinstance(node, Const):
            steps.append(_Step(node.name, (), node, frozenset()))
        else:
            children: tuple[Expr, ...]
            op: str
            if isinstance(node, Unary):
                op, children = node.op, (node.operand,)
            elif isinstance(node, Binary):
                op, children = node.op, (node.left, node.right)
            elif isinstance(node, Call):
                op, children = node.func, node.args
            else:  # pragma: no cover - the parser makes no other node
                raise TypeError(f"not an expression node: {node!r}")
            args = tuple(visit(child) for child in children)
            names = frozenset().union(*(steps[a].variables for a in args))
            steps.append(_Step(op, args, node, names))
        return len(steps) - 1

    visit(expr)
    return steps


def _critical(step: _Step, steps: Sequence[_Step]) -> bool:
    if step.op != "pow":
        return step.op in _CRITICAL
    exponent = steps[step.args[1]].node
    return not (isinstance(exponent, Num) and exponent.value.denominator == 1
                and exponent.value >= 0)


def _printed(node: Expr) -> str:
    """Our tree as text when the source is not at hand (fully parenthesized)."""
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Const):
        return node.name
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Unary):
        return ("-" if node.op == "neg" else "+") + _printed(node.operand)
    if isinstance(node, Binary):
        symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}[node.op]
        return f"({_printed(node.left)}{symbol}{_printed(node.right)})"
    return f"{node.func}({', '.join(_printed(a) for a in node.args)})"


def _source(node: Expr, text: str | None) -> str:
    if text is not None and 0 <= node.span.start < node.span.end <= len(text):
        return " ".join(text[node.span.start:node.span.end].split())
    return _printed(node)


# Reasons a point is undefined: (step, kind) -> text. Texts name no point, so one text
# serves every point of a region (sqrt over [-4, 0) is one reason, not 5000).
def _hard_text(kind: str, step: _Step, steps: Sequence[_Step], text: str | None) -> str:
    node = _source(step.node, text)
    arg = _source(steps[step.args[0]].node, text) if step.args else ""
    if kind == "div":
        den = _source(steps[step.args[1]].node, text)
        return f"{node} is undefined: its denominator {den} is 0 (division by zero)"
    if kind == "log0":
        return f"{node} is undefined: its argument {arg} is 0 ({step.op}(0) = -inf)"
    if kind == "neg":
        return f"{node} is undefined: its argument {arg} is negative"
    if kind == "out":
        return f"{node} is undefined: its argument {arg} is outside [-1, 1]"
    if kind == "tan":
        return f"{node} is undefined: {arg} is an odd multiple of pi/2 (a pole)"
    if kind == "pow0":
        return f"{node} is undefined: 0 to a negative power (a pole)"
    if kind == "powneg":
        return f"{node} is undefined: a negative base {arg} to a non-integer power"
    raise AssertionError(kind)  # pragma: no cover


def _kink_text(
    kind: str, step: _Step, steps: Sequence[_Step], text: str | None, both: bool
) -> str:
    """Why the point is suspect; ``both``: f is defined on both sides (then an edge
    such as sqrt(x**2) at 0 is a kink, not an edge)."""
    node = _source(step.node, text)
    arg = _source(steps[step.args[0]].node, text)
    if kind == "kink" or (both and kind == "edge"):
        return f"{node} is not differentiable where {arg} is 0 (a kink)"
    if kind == "edge":
        return f"{node} is at the edge of its domain ({arg} = 0)"
    if kind == "edge1":
        return f"{node} is at the edge of its domain (|{arg}| = 1)"
    if kind == "powvar":
        return f"{node} has a negative base: real only at integer exponents"
    raise AssertionError(kind)  # pragma: no cover


def _nonfinite_text(name: str, value: float) -> str:
    if math.isnan(value):
        return f"{name} = nan is not a number"
    return f"{name} = {'-' if value < 0 else ''}inf is not a point of the real line"


# --------------------------------------------------------------------------- screen


def _num_value(value: Fraction) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _screen(
    steps: Sequence[_Step], columns: Mapping[str, np.ndarray], text: str | None,
    texts: dict[str, int],
) -> tuple[np.ndarray, np.ndarray]:
    """(reason index or -1 where f is certainly undefined, points that need an exact
    look) for one block, in float64 with a first-order bound on each value's error."""
    n = len(next(iter(columns.values())))
    reason = np.full(n, -1, dtype=np.int32)
    suspect = np.zeros(n, dtype=bool)

    def mark(kind: str, step: _Step, where: np.ndarray) -> None:
        where = where & (reason < 0)
        if where.any():
            key = _hard_text(kind, step, steps, text)
            reason[where] = texts.setdefault(key, len(texts))

    def near(value: np.ndarray, err: np.ndarray) -> np.ndarray:
        """Within the bound of 0, or not finite (an overflow on the way)."""
        return ~(np.abs(value) > _SAFETY * err) | np.isnan(value)

    values: list[Any] = [None] * len(steps)
    for k, step in enumerate(steps):
        a = [values[i] for i in step.args]
        for i in step.args:
            values[i] = None
        v, e = _screen_step(step, a, columns, n)
        if step.args and step.op not in _EXACT_AT_ZERO:  # underflow to 0 is not a zero
            e = np.where(np.abs(v) < _TINY, e + _TINY, e)
        if _critical(step, steps):
            (u, eu) = a[0]
            if step.op == "div":
                b, eb = a[1]
                mark("div", step, (b == 0) & (eb == 0))
                suspect |= near(b, eb)
            elif step.op in ("log", "log2", "log10", "sqrt"):
                definite = (u < 0) & ~near(u, eu)
                mark("neg", step, definite)
                if step.op != "sqrt":
                    mark("log0", step, (u == 0) & (eu == 0))
                suspect |= near(u, eu)
            elif step.op == "abs":
                suspect |= near(u, eu)
            elif step.op in ("asin", "acos"):
                w = np.abs(u) - 1.0
                ew = eu + _U
                mark("out", step, (w > 0) & ~near(w, ew))
                suspect |= near(w, ew)
            elif step.op == "tan":
                suspect |= near(np.cos(u), eu + _U)
            elif step.op == "pow":
                b, eb = a[1]
                constant = not steps[step.args[1]].variables
                rounded = np.round(b)
                integer = (eb == 0) & (b == rounded)  # certainly an integer
                maybe_integer = near(b - rounded, eb + _U * np.abs(b))
                mark("powneg", step, (u < 0) & ~near(u, eu) & ~maybe_integer)
                mark("pow0", step, (u == 0) & (eu == 0) & (b < 0) & ~near(b, eb))
                suspect |= near(u, eu) & ~(integer & (b >= 0) & constant)
                suspect |= (u < 0) & maybe_integer & ~(integer & constant)
        values[k] = (v, e)
    return reason, suspect & (reason < 0)


def _screen_step(
    step: _Step, a: list[Any], columns: Mapping[str, np.ndarray], n: int
) -> tuple[Any, Any]:
    """One node's float64 value and a bound on its error (first order)."""
    op = step.op
    if op == "var":
        assert isinstance(step.node, Var)
        return columns[step.node.name], np.zeros(n)
    if op in ("num", "pi", "e"):
        if op == "num":
            assert isinstance(step.node, Num)
            value = _num_value(step.node.value)
        else:
            value = math.pi if op == "pi" else math.e
        return np.full(n, value), np.full(n, abs(value) * _U)
    with np.errstate(all="ignore"):
        u, eu = a[0]
        if op in ("neg", "pos"):
            return (-u if op == "neg" else u), eu
        if op in ("add", "sub", "mul", "div", "pow"):
            b, eb = a[1]
            if op == "add":
                r = u + b
                return r, eu + eb + np.abs(r) * _U
            if op == "sub":
                r = u - b
                return r, eu + eb + np.abs(r) * _U
            if op == "mul":
                r = u * b
                return r, np.abs(u) * eb + np.abs(b) * eu + eu * eb + np.abs(r) * _U
            if op == "div":
                r = u / b
                slack = np.abs(b) - eb
                err = np.where(slack > 0, (eu + np.abs(r) * eb) / slack, np.inf)
                return r, err + np.abs(r) * _U
            r = np.power(u, b)
            err = np.abs(r) * (np.abs(b) * eu / np.abs(u) + np.abs(np.log(np.abs(u))) * eb)
            return r, np.where(np.isnan(err), np.inf, err) + 4 * np.abs(r) * _U
        if op in ("sin", "cos"):
            r = np.sin(u) if op == "sin" else np.cos(u)
            return r, eu + 2 * _U
        if op == "tan":
            r = np.tan(u)
            return r, (1 + r * r) * eu + 2 * np.abs(r) * _U
        if op in ("asin", "acos"):
            r = np.arcsin(u) if op == "asin" else np.arccos(u)
            slope = 1 / np.sqrt(1 - u * u)
            return r, np.where(np.isfinite(slope), slope * eu, np.inf) + 2 * np.abs(r) * _U
        if op == "atan":
            r = np.arctan(u)
            return r, eu + 2 * np.abs(r) * _U
        if op in ("sinh", "cosh"):
            r = np.sinh(u) if op == "sinh" else np.cosh(u)
            return r, np.cosh(u) * eu + 2 * np.abs(r) * _U
        if op == "tanh":
            return np.tanh(u), eu + 2 * _U
        if op == "exp":
            r = np.exp(u)
            return r, r * eu + 2 * r * _U
        if op in ("log", "log2", "log10"):
            function = {"log": np.log, "log2": np.log2, "log10": np.log10}[op]
            r = function(u)
            return r, 1.5 * eu / np.abs(u) + 2 * np.abs(r) * _U
        if op == "sqrt":
            r = np.sqrt(u)
            return r, np.where(r > 0, eu / (2 * r), np.inf) + np.abs(r) * _U
        if op == "abs":
            return np.abs(u), eu
        if op == "sigmoid":
            return 1 / (1 + np.exp(-u)), eu / 4 + 2 * _U
    raise ValueError(f"no screen for {op!r}")  # pragma: no cover


# --------------------------------------------------------------------------- exact look


@functools.lru_cache(maxsize=1)
def _mp_ops() -> dict[str, Callable[..., Any]]:
    """Our tree's operations on mpmath at the current precision, with the reference's
    real-function semantics (NaN where undefined)."""
    import mpmath

    from autograd_cli.backends.analytic import _exp, _guarded, _hyperbolic, _pow, _trig

    def div(a: Any, b: Any) -> Any:
        return mpmath.mpf("nan") if b == 0 else a / b

    return {
        "neg": lambda a: -a,
        "pos": lambda a: +a,
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": div,
        "pow": _pow,
        **{name: _guarded(_trig(name)) for name in ("sin", "cos", "tan")},
        "asin": _guarded(mpmath.asin),
        "acos": _guarded(mpmath.acos),
        "atan": _guarded(mpmath.atan),
        "sinh": _guarded(_hyperbolic("sinh")),
        "cosh": _guarded(_hyperbolic("cosh")),
        "tanh": _guarded(mpmath.tanh),
        "exp": _guarded(_exp),
        "log": _guarded(mpmath.log),
        "log2": _guarded(lambda a: mpmath.log(a, 2)),
        "log10": _guarded(lambda a: mpmath.log(a, 10)),
        "sqrt": _guarded(mpmath.sqrt),
        "abs": _guarded(mpmath.fabs),
        "sigmoid": _guarded(lambda a: 1 / (1 + _exp(-a))),
    }


def _evaluate(steps: Sequence[_Step], env: Mapping[str, Any], bits: int) -> list[Any]:
    """Every node's value in mpmath at ``bits`` (inputs exact, whatever their length)."""
    import mpmath

    ops = _mp_ops()
    values: list[Any] = []
    with mpmath.workprec(bits):
        for step in steps:
            if step.op == "var":
                assert isinstance(step.node, Var)
                values.append(env[step.node.name])
            elif step.op == "num":
                assert isinstance(step.node, Num)
                value = step.node.value
                values.append(mpmath.fdiv(value.numerator, value.denominator))
            elif step.op in ("pi", "e"):
                values.append(+mpmath.pi if step.op == "pi" else +mpmath.e)
            else:
                args = [values[i] for i in step.args]
                try:
                    values.append(ops[step.op](*args))
                except (ZeroDivisionError, ValueError, OverflowError):
                    values.append(mpmath.mpf("nan"))
    return values


def _is_zero(values: Sequence[Any]) -> bool:
    """A quantity at rising precisions: exactly zero when it is 0 at the highest, or it
    shrinks with the precision (rounding noise), rather than staying put."""
    last = values[-1]
    if last == 0:
        return True
    before = max(abs(v) for v in values[:-1])
    return bool(abs(last) <= before * 2.0**-64)


def _exact_findings(
    steps: Sequence[_Step], env: Mapping[str, Any]
) -> tuple[tuple[str, int] | None, list[tuple[str, int]]]:
    """(the innermost reason f is undefined, or None; the kinks and edges met)."""
    import mpmath

    runs = [_evaluate(steps, env, bits) for bits in _PRECISIONS]

    def at(i: int) -> list[Any]:
        return [run[i] for run in runs]

    def derived(i: int, function: Callable[[Any], Any]) -> list[Any]:
        out = []
        for bits, run in zip(_PRECISIONS, runs, strict=True):
            with mpmath.workprec(bits):
                out.append(function(run[i]))
        return out

    kinks: list[tuple[str, int]] = []
    for k, step in enumerate(steps):
        if not _critical(step, steps):
            continue
        if any(mpmath.isnan(runs[-1][i]) for i in step.args):
            continue
        u = at(step.args[0])
        top = u[-1]
        if step.op == "div":
            if _is_zero(at(step.args[1])):
                return ("div", k), kinks
        elif step.op in ("log", "log2", "log10", "sqrt"):
            if _is_zero(u):
                if step.op == "sqrt":
                    kinks.append(("edge", k))
                else:
                    return ("log0", k), kinks
            elif top < 0:
                return ("neg", k), kinks
        elif step.op == "abs":
            if _is_zero(u):
                kinks.append(("kink", k))
        elif step.op in ("asin", "acos"):
            w = derived(step.args[0], lambda a: abs(a) - 1)
            if _is_zero(w):
                kinks.append(("edge1", k))
            elif w[-1] > 0:
                return ("out", k), kinks
        elif step.op == "tan":
            if mpmath.isfinite(top) and _is_zero(derived(step.args[0], mpmath.cos)):
                return ("tan", k), kinks
        elif step.op == "pow":
            b = at(step.args[1])
            if not mpmath.isfinite(b[-1]):
                continue
            integer = _is_zero(derived(step.args[1], lambda a: a - mpmath.nint(a)))
            constant = not steps[step.args[1]].variables
            if _is_zero(u):
                if b[-1] < 0 and not _is_zero(b):
                    return ("pow0", k), kinks
                if not (integer and constant) and not _is_zero(b):
                    kinks.append(("edge", k))
            elif top < 0:
                if not integer:
                    return ("powneg", k), kinks
                if not constant:
                    kinks.append(("powvar", k))
    return None, kinks


# --------------------------------------------------------------------------- one side


@dataclass(frozen=True)
class _Side:
    kind: str  # "finite", "inf", "undefined" (f is not defined there), "none" (no limit)
    value: float | None = None
    spread: float = 0.0  # how far the limit may be from value

    def describe(self) -> str:
        if self.kind == "finite":
            return short(self.value)
        if self.kind == "inf":
            return "inf" if (self.value or 0) > 0 else "-inf"
        return "undefined" if self.kind == "undefined" else "no limit"

    @property
    def number(self) -> float | None:
        return self.value if self.kind in ("finite", "inf") else None


def short(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isinf(value) or math.isnan(value):
        return repr(value)
    text = f"{value:.7g}"
    return "0" if text in ("0", "-0") else text


def _side(
    steps: Sequence[_Step], derivative: Any, env: Mapping[str, float], along: str, sign: int
) -> _Side:
    """The limit of ``derivative`` as ``along`` approaches its value from one side."""
    import mpmath

    from autograd_cli.backends.analytic import _evaluate_point, _nearest_float

    x0 = env[along]
    scale = abs(x0) if x0 != 0 else 1.0
    values = []
    for k in _STEPS:
        with mpmath.workprec(_SIDE_PRECISION):
            shift = mpmath.ldexp(mpmath.mpf(scale), -k) * sign
            moved = mpmath.fadd(mpmath.mpf(x0), shift, exact=True)
            point = {name: (moved if name == along else mpmath.mpf(v))
                     for name, v in env.items()}
        f = _evaluate(steps, point, _SIDE_PRECISION)[-1]
        if not mpmath.isfinite(f):
            return _Side("undefined")
        saved = mpmath.mp.prec
        try:
            value, _ = _evaluate_point(derivative, point)
        finally:
            mpmath.mp.prec = saved
        if mpmath.isnan(value):
            return _Side("none")
        values.append(value)
    deltas = [abs(b - a) for a, b in itertools.pairwise(values)]
    last = values[-1]
    noise = abs(last) * 2.0**-100
    if all(later <= earlier / 16 + noise for earlier, later in itertools.pairwise(deltas)):
        # Differences shrink geometrically: add the tail they leave (x**1.5 at 0 gives
        # 1.5*sqrt(h) -> 0, not 1.5*2**-64).
        step, before = values[-1] - values[-2], values[-2] - values[-3]
        ratio = step / before if before != 0 else 0
        tail = step * ratio / (1 - ratio)
        limit = last + tail
        spread = abs(tail) + abs(step) * 2.0**-16 + noise
        if abs(limit) <= 4 * spread:
            limit = mpmath.mpf(0)
        return _Side("finite", _nearest_float(limit), float(spread))
    sizes = [abs(v) for v in values]
    steps_up = [b - a for a, b in itertools.pairwise(sizes)]
    growing = all(d > 0 for d in steps_up) and all(
        later >= earlier / 2 for earlier, later in itertools.pairwise(steps_up)
    )
    if growing and len({mpmath.sign(v) for v in values}) == 1:
        return _Side("inf", math.inf if last > 0 else -math.inf)
    return _Side("none")


def _agree(left: _Side, right: _Side) -> bool:
    if left.kind != "finite" or right.kind != "finite":
        return False
    assert left.value is not None and right.value is not None
    gap = abs(left.value - right.value)
    return gap <= 4 * (left.spread + right.spread) + 2.0**-50 * max(
        abs(left.value), abs(right.value)
    )


def _partials(label: str) -> list[tuple[str, ...]]:
    """The derivatives whose sides decide a label: "x,y" needs d/dx along x, then
    d2/dxdy along y (each order must exist around the point for the next)."""
    names = tuple(label.split(","))
    return [names[: i + 1] for i in range(len(names))]


# --------------------------------------------------------------------------- classify


def classify(
    expr: Expr,
    inputs: Mapping[str, np.ndarray],
    wrt: Sequence[str],
    text: str | None = None,
    max_exact: int = MAX_EXACT,
) -> Labels:
    """Which points are undefined or not differentiable, per derivative label in
    ``wrt`` ("x", or "x,y" for higher orders), at exactly the points given (float64
    arrays of the values the backends saw); ``text`` is the source, for reasons.
    At most ``max_exact`` points get the exact look (a sweep shares one budget)."""
    steps = _program(expr)
    names = [s.node.name for s in steps if isinstance(s.node, Var)]
    columns = {name: np.asarray(inputs[name], dtype=np.float64) for name in dict.fromkeys(names)}
    size = len(next(iter(inputs.values()))) if inputs else 1
    labels = _empty(size, wrt)
    if not columns:
        return labels
    texts: dict[str, int] = {}
    reason = np.full(size, -1, dtype=np.int32)
    suspect = np.zeros(size, dtype=bool)
    critical = any(_critical(s, steps) for s in steps)
    for name, column in columns.items():
        if np.isfinite(column).all():
            continue
        for value in (math.nan, math.inf, -math.inf):
            where = (column == value) if not math.isnan(value) else np.isnan(column)
            where &= reason < 0
            if where.any():
                reason[where] = texts.setdefault(_nonfinite_text(name, value), len(texts))
    if critical:
        for lo in range(0, size, _BLOCK):
            hi = min(lo + _BLOCK, size)
            part = {name: c[lo:hi] for name, c in columns.items()}
            with np.errstate(all="ignore"):
                r, s = _screen(steps, part, text, texts)
            free = reason[lo:hi] < 0
            reason[lo:hi] = np.where(free, r, reason[lo:hi])
            suspect[lo:hi] = s & free & (r < 0)
    candidates = np.flatnonzero(suspect)
    if candidates.size > max(max_exact, 0):
        labels.unchecked = int(candidates.size - max(max_exact, 0))
        candidates = candidates[:max(max_exact, 0)]
    labels.checked = int(candidates.size)
    kinks: dict[int, list[tuple[str, int]]] = {}
    if candidates.size:
        import mpmath

        for i in candidates.tolist():
            env = {name: mpmath.mpf(float(c[i])) for name, c in columns.items()}
            try:
                hard, found = _exact_findings(steps, env)
            except (ArithmeticError, ValueError, TypeError):  # judged as usual, counted
                labels.unchecked += 1
                continue
            if hard is not None:
                reason[i] = texts.setdefault(_hard_text(hard[0], steps[hard[1]], steps, text),
                                             len(texts))
            elif found:
                kinks[i] = found
    undefined = reason >= 0
    for label in wrt:
        labels.codes[label][undefined] = CODES[UNDEFINED]
        labels.reasons[label][undefined] = reason[undefined]
    if kinks:
        _decide_kinks(expr, steps, columns, wrt, kinks, labels, texts, text)
    labels.texts = sorted(texts, key=texts.__getitem__)
    return labels


def _decide_kinks(
    expr: Expr,
    steps: Sequence[_Step],
    columns: Mapping[str, np.ndarray],
    wrt: Sequence[str],
    kinks: Mapping[int, list[tuple[str, int]]],
    labels: Labels,
    texts: dict[str, int],
    text: str | None,
) -> None:
    """At each kink or edge, per label: one-sided derivatives; label unless they agree."""
    import sympy

    from autograd_cli.backends.analytic import compile_mpmath, to_sympy

    f = to_sympy(expr)
    compiled: dict[tuple[str, ...], Any] = {}

    def derivative(partial: tuple[str, ...]) -> Any:
        if partial not in compiled:
            symbols = [sympy.Symbol(name, real=True) for name in partial]
            compiled[partial] = compile_mpmath(sympy.diff(f, *symbols))
        return compiled[partial]

    for i, found in kinks.items():
        env = {name: float(c[i]) for name, c in columns.items()}
        kind, k = found[0]
        for label in wrt:
            for partial in _partials(label):
                along = partial[-1]
                if along not in env or not any(
                    along in steps[j].variables for _, j in found
                ):
                    continue
                function = derivative(partial)
                try:
                    left = _side(steps, function, env, along, -1)
                    right = _side(steps, function, env, along, +1)
                except (ArithmeticError, ValueError, TypeError):
                    left = right = _Side("none")
                if _agree(left, right):
                    continue
                both = "undefined" not in (left.kind, right.kind)
                what = _kink_text(kind, steps[k], steps, text, both)
                order = "" if len(partial) == 1 else (
                    f" (of the derivative by {', '.join(partial)})")
                reason = f"{what}: left {left.describe()}, right {right.describe()}{order}"
                labels.codes[label][i] = CODES[NONDIFFERENTIABLE]
                labels.reasons[label][i] = texts.setdefault(reason, len(texts))
                labels.sides[(label, i)] = (left.number, right.number)
                break


# --------------------------------------------------------------------------- sweeps


def runs(codes: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs of equal non-zero codes: (code, first index, last index)."""
    codes = np.asarray(codes)
    if codes.size == 0:
        return []
    edges = np.flatnonzero(np.diff(codes)) + 1
    starts = np.r_[0, edges]
    ends = np.r_[edges, codes.size] - 1
    return [(int(codes[s]), int(s), int(e)) for s, e in zip(starts, ends, strict=True)
            if codes[s]]


@dataclass
class SpecialRuns:
    """A sweep's labelled points, gathered chunk by chunk as runs of one status and one
    reason (the first ``limit`` runs kept, every point counted)."""

    wrt: str
    limit: int = 100
    kept: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(POINT_STATUSES, 0))
    dropped: int = 0
    unchecked: int = 0
    checked: int = 0

    def add(self, start: int, x: np.ndarray, labels: Labels) -> None:
        """The labelled points of a chunk whose first point is number ``start``."""
        self.unchecked += labels.unchecked
        self.checked += labels.checked
        codes = labels.codes[self.wrt]
        if not codes.any():
            return
        reasons = labels.reasons[self.wrt].astype(np.int64)
        key = np.where(codes > 0, codes.astype(np.int64) * (1 << 32) + reasons + 1, 0)
        for _, first, last in runs(key):
            status = STATUS_OF_CODE[int(codes[first])]
            reason = labels.texts[int(reasons[first])]
            count = last - first + 1
            self.counts[status] += count
            previous = self.kept[-1] if self.kept else None
            if (previous is not None and previous["end"] == start + first - 1
                    and previous["status"] == status and previous["reason"] == reason):
                previous.update(to=float(x[last]), end=start + last)
                previous["points"] += count
                previous.pop("left", None)
                previous.pop("right", None)
            elif len(self.kept) < self.limit:
                run: dict[str, Any] = {"status": status, "from": float(x[first]),
                                       "to": float(x[last]), "points": count,
                                       "reason": reason, "end": start + last}
                if count == 1 and (self.wrt, first) in labels.sides:
                    run["left"], run["right"] = labels.sides[(self.wrt, first)]
                self.kept.append(run)
            else:
                self.dropped += 1

    def to_list(self) -> list[dict[str, Any]]:
        """The kept runs for JSON: status, from, to, points, reason (left, right)."""
        return [{k: v for k, v in run.items() if k != "end"} for run in self.kept]

    def warnings(self, swept: str, shown: int = 5) -> list[str]:
        """One line per run (the first few), for stderr."""
        lines = []
        for run in self.kept[:shown]:
            where = (f"{swept} = {short(run['from'])}" if run["points"] == 1 else
                     f"{swept} from {short(run['from'])} to {short(run['to'])} "
                     f"({run['points']:,} points)")
            lines.append(f"{run['status']} at {where}: {run['reason']}")
        more = len(self.kept) - shown + self.dropped
        if more > 0:
            lines.append(f"... and {more:,} more runs of such points (see the JSON output)")
        if self.unchecked:
            lines.append(f"{self.unchecked:,} points near a kink or a domain edge were not "
                         "checked exactly (too many): they are judged as usual")
        return lines
