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

A kink depends on the direction: a critical argument that does not move with the
variable differentiated by makes none (x**y at x = 0 is 0**y = 0 for y > 0 along y;
its derivative there, which SymPy's x**y*log(x) cannot give, comes from the tree with
that power folded to 0 and is handed on in ``Labels.exact``).

``nan`` or ``inf`` as a point is ``undefined`` (not a point of the real line). mpmath
and SymPy are imported only when a point needs an exact look.

Apart from classify, :func:`intermediate_range` (sweeps) and
:func:`intermediate_findings` (a check's rows) find where a value or derivative inside
the computation leaves the dtype's range while the exact f' is in range
(``exp(100*x)/exp(100*x)`` at 1 in float32): a row outside tolerance there is the
dtype's range speaking, labelled ``overflow`` or ``underflow``.
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

from autograd_cli.core.model import partial_of
from autograd_cli.core.statuses import (
    CODES,
    NONDIFFERENTIABLE,
    OVERFLOW,
    POINT_STATUSES,
    RANGE_CODES,
    STATUS_OF_CODE,
    UNDEFINED,
    UNDERFLOW,
)
from autograd_cli.expr.nodes import Binary, Call, Const, Expr, Num, Unary, Var

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
    #: label -> {point: (hi, lo)}: the exact derivative where SymPy's formula has no
    #: value but the point is ordinary along the label (x**y by y at x = 0 is 0).
    exact: dict[str, dict[int, tuple[float, float]]] = field(default_factory=dict)

    def at(self, wrt: str, i: int) -> Special | None:
        code = int(self.codes[wrt][i])
        if not code:
            return None
        left, right = self.sides.get((wrt, i), (None, None))
        return Special(STATUS_OF_CODE[code], self.texts[int(self.reasons[wrt][i])], left, right)

    def any(self) -> bool:
        return any(bool(c.any()) for c in self.codes.values())

    def exact_for(
        self, wrt: str, hi: np.ndarray, lo: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The exact derivatives (double-double) with :attr:`exact` put in: copies where
        there is something to put in, else ``hi`` and ``lo`` themselves."""
        fixes = self.exact.get(wrt)
        if not fixes:
            return hi, lo
        hi, lo = np.array(hi, dtype=np.float64), np.array(lo, dtype=np.float64)
        for i, (h, low) in fixes.items():
            hi[i], lo[i] = h, low
        return hi, lo


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
    if kind in ("edge", "pow00"):
        return f"{node} is at the edge of its domain ({arg} = 0)"
    if kind == "edge1":
        return f"{node} is at the edge of its domain (|{arg}| = 1)"
    if kind == "powvar":
        return f"{node} has a negative base: real only at integer exponents"
    raise AssertionError(kind)  # pragma: no cover


def _jump_text(step: _Step, steps: Sequence[_Step], text: str | None, along: str) -> str:
    """0**0 = 1 where the base stays 0 and the exponent moves: f jumps."""
    node = _source(step.node, text)
    base = _source(steps[step.args[0]].node, text)
    exponent = _source(steps[step.args[1]].node, text)
    return (f"{node} is not continuous along {along} where {base} is 0 and {exponent} is "
            "0: 0**0 = 1, but 0 to a positive power is 0 and to a negative one undefined")


def _role(kind: str, step: _Step, steps: Sequence[_Step], along: str) -> str | None:
    """How a finding bears on the derivative along ``along``: "kink" (the one-sided
    derivatives decide), "jump" (f itself jumps along it) or None (the node is smooth
    along it). A critical argument that stays put along ``along`` is no kink there:
    0**y is 0 for every y > 0, so x**y at x = 0 has the y-derivative 0."""
    if step.op == "pow" and kind in ("edge", "pow00"):
        base = along in steps[step.args[0]].variables
        exponent = along in steps[step.args[1]].variables
        if kind == "edge":  # 0**b with b > 0: 0 while the base stays 0
            return "kink" if base else None
        if base and exponent:  # x**x at 0
            return "kink"
        return "jump" if exponent else None  # u**0 = 1 while the exponent stays 0
    return "kink" if along in step.variables else None


def _folds(
    found: Sequence[tuple[str, int]], steps: Sequence[_Step], label: str
) -> dict[int, int]:
    """Powers that are constant along every variable of ``label`` at the point (step ->
    its value there): 0**b with b > 0 and a base that stays 0 is 0, u**0 with an
    exponent that stays 0 is 1. SymPy's derivative of x**y by y, x**y*log(x), is NaN
    at x = 0; the derivative of the folded tree is the true one (0)."""
    names = set(partial_of(label))
    folds: dict[int, int] = {}
    for kind, j in found:
        step = steps[j]
        if step.op != "pow" or kind not in ("edge", "pow00"):
            continue
        if kind == "edge" and not names & steps[step.args[0]].variables:
            folds[j] = 0
        elif kind == "pow00" and not names & steps[step.args[1]].variables:
            folds[j] = 1
    return folds


def _folded(node: Expr, folds: Mapping[int, int]) -> Expr:
    """Our tree with the nodes whose id is in ``folds`` replaced by that number."""
    if id(node) in folds:
        value = folds[id(node)]
        return Num(Fraction(value), str(value), node.span)
    if isinstance(node, Unary):
        return Unary(node.op, _folded(node.operand, folds), node.span)
    if isinstance(node, Binary):
        return Binary(node.op, _folded(node.left, folds), _folded(node.right, folds),
                      node.span)
    if isinstance(node, Call):
        return Call(node.func, tuple(_folded(a, folds) for a in node.args), node.span)
    return node


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

    from autograd_cli.truth.mpmath_ops import guarded, hyperbolic, mp_exp, mp_pow, trig

    def div(a: Any, b: Any) -> Any:
        return mpmath.mpf("nan") if b == 0 else a / b

    return {
        "neg": lambda a: -a,
        "pos": lambda a: +a,
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": div,
        "pow": mp_pow,
        **{name: guarded(trig(name)) for name in ("sin", "cos", "tan")},
        "asin": guarded(mpmath.asin),
        "acos": guarded(mpmath.acos),
        "atan": guarded(mpmath.atan),
        "sinh": guarded(hyperbolic("sinh")),
        "cosh": guarded(hyperbolic("cosh")),
        "tanh": guarded(mpmath.tanh),
        "exp": guarded(mp_exp),
        "log": guarded(mpmath.log),
        "log2": guarded(lambda a: mpmath.log(a, 2)),
        "log10": guarded(lambda a: mpmath.log(a, 10)),
        "sqrt": guarded(mpmath.sqrt),
        "abs": guarded(mpmath.fabs),
        "sigmoid": guarded(lambda a: 1 / (1 + mp_exp(-a))),
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
                if _is_zero(b):
                    if not constant:  # 0**0 = 1: a jump along the exponent
                        kinks.append(("pow00", k))
                elif not (integer and constant):
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

    from autograd_cli.truth.point import evaluate_point, nearest_float

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
            value, _ = evaluate_point(derivative, point)
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
        return _Side("finite", nearest_float(limit), float(spread))
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
    names = partial_of(label)
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
    """At each kink or edge, per label: one-sided derivatives along each variable the
    critical argument moves with; label unless they agree. Where a power is constant
    along the label (0**y at x = 0 along y), the derivative of the folded tree is used,
    and recorded in ``labels.exact`` where the point is not labelled."""
    import mpmath

    from autograd_cli.truth.mpmath_ops import compile_mpmath
    from autograd_cli.truth.point import double_double, evaluate_point
    from autograd_cli.truth.symbolic import differentiate, to_sympy

    compiled: dict[tuple[tuple[str, ...], tuple[tuple[int, int], ...]], Any] = {}

    def derivative(partial: tuple[str, ...], folds: Mapping[int, int]) -> Any:
        key = (partial, tuple(sorted(folds.items())))
        if key not in compiled:
            tree = _folded(expr, {id(steps[j].node): v for j, v in folds.items()})
            compiled[key] = compile_mpmath(differentiate(to_sympy(tree), ",".join(partial)))
        return compiled[key]

    for i, found in kinks.items():
        env = {name: float(c[i]) for name, c in columns.items()}
        for label in wrt:
            folds = _folds(found, steps, label)
            labelled = False
            for partial in _partials(label):
                along = partial[-1]
                if along not in env:
                    continue
                roles = [(_role(kind, steps[j], steps, along), kind, j) for kind, j in found]
                jump = next((j for role, _, j in roles if role == "jump"), None)
                if jump is not None:
                    reason = _jump_text(steps[jump], steps, text, along)
                    labels.codes[label][i] = CODES[NONDIFFERENTIABLE]
                    labels.reasons[label][i] = texts.setdefault(reason, len(texts))
                    labelled = True
                    break
                relevant = [(kind, j) for role, kind, j in roles if role == "kink"]
                if not relevant:
                    continue
                kind, k = relevant[0]
                try:
                    function = derivative(partial, folds)
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
                labelled = True
                break
            if labelled or not folds:
                continue
            saved = mpmath.mp.prec
            try:
                function = derivative(_partials(label)[-1], folds)
                point = {name: mpmath.mpf(v) for name, v in env.items()}
                value, _ = evaluate_point(function, point)
                labels.exact.setdefault(label, {})[i] = double_double(value)
            except (ArithmeticError, ValueError, TypeError):
                pass
            finally:
                mpmath.mp.prec = saved


# --------------------------------------------------------------------------- range



# What left the range: a node's value, its derivative along a variable (forward mode),
# the partial of its parent by it (both modes), or df/d(node) (reverse mode).
_VALUE, _TANGENT, _PARTIAL, _ADJOINT = 0, 1, 2, 3
#: Operations that give 0 only by underflow (from finite, non-zero arguments).
_NEVER_ZERO = frozenset({"exp", "sigmoid", "cosh", "mul", "div", "pow"})
_LN2, _LN10 = math.log(2.0), math.log(10.0)
_NP_UNARY: dict[str, Callable[[Any], Any]] = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "exp": np.exp,
    "log": np.log, "log2": np.log2, "log10": np.log10, "sqrt": np.sqrt, "abs": np.abs,
}


def _power(u: Any, b: Any) -> Any:
    """u**b, by repeated squaring for a constant integer exponent (numpy's power of a
    negative base to an integer is some 100 times slower than a multiplication)."""
    if np.ndim(b) == 0 and float(b).is_integer() and abs(b) <= 1 << 16:
        e, result, base = int(abs(b)), None, u
        while e:
            if e & 1:
                result = base if result is None else result * base
            e >>= 1
            if e:
                base = base * base
        if result is None:
            return np.ones_like(u)
        return 1 / result if b < 0 else result
    return np.power(u, b)


def _range_value(
    step: _Step, a: list[Any], columns: Mapping[str, np.ndarray], n: int
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
            return np.float64(_num_value(step.node.value)), None
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
    pole = None
    if op in ("log", "log2", "log10", "sqrt"):
        pole = u == 0
    elif op in ("asin", "acos"):
        pole = np.abs(u) == 1
    return _NP_UNARY[op](u), pole


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


class _Found:
    """Per point, the first quantity found out of range: its code (0: none), node, kind
    (_VALUE ...), detail (the parent for a partial, the variable for a tangent) and
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

    def merge(self, *others: _Found) -> _Found:
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
    steps: Sequence[_Step], columns: Mapping[str, np.ndarray], dtype: str,
    directions: Sequence[str],
) -> _Found:
    """The scan of :func:`intermediate_range` over one block of points. Constants stay
    numpy scalars and masks are built only where something is out of range, so a clean
    block costs a few passes per node."""
    from autograd_cli.comparison.verdicts import range_of

    limits = range_of(dtype)
    limit, tiny = limits.overflows_at, limits.smallest_normal
    n = len(next(iter(columns.values())))
    over, over_derivative, under = _Found(n), _Found(n), _Found(n)
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

    def check(found: _Found, code: int, quantity: Any, k: int, at: int, what: int,
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
        check(over, overflow, v, k, k, _VALUE, -1)
        if np.fmin.reduce(size(v), axis=None) < tiny:
            low = size(v) < tiny
            tiny_value = low & (v != 0)
            if step.op == "num":
                assert isinstance(step.node, Num)
                tiny_value = low if step.node.value != 0 else tiny_value
            elif step.op in _NEVER_ZERO:
                nonzero: Any = True
                if step.op in ("mul", "div", "pow"):
                    nonzero = a[0] != 0
                    if step.op == "mul":
                        nonzero = nonzero & (a[1] != 0)
                tiny_value = tiny_value | ((v == 0) & nonzero)
            under.flag(underflow, np.broadcast_to(tiny_value, (n,)) & good(k), k, _VALUE, -1,
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
                check(over_derivative, overflow, t, k, k, _TANGENT, index)
        for i, p in zip(step.args, parts, strict=True):
            if p is not None:
                check(over_derivative, overflow, p, k, i, _PARTIAL, k)
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
                check(over_derivative, overflow, adjoints[i], k, i, _ADJOINT, -1)
    return over.merge(under, over_derivative)  # a tiny value makes 1/u overflow: tell that


def _range_scan(
    steps: Sequence[_Step], columns: Mapping[str, np.ndarray], dtype: str,
    directions: Sequence[str],
) -> _Found:
    size = len(next(iter(columns.values())))
    found = _Found(size)
    found._make()
    for lo in range(0, size, _BLOCK):
        hi = min(lo + _BLOCK, size)
        with np.errstate(all="ignore"):
            part = _range_block(steps, {k: c[lo:hi] for k, c in columns.items()}, dtype,
                                directions)
        if part.any:
            for name in _FIELDS:
                getattr(found, name)[lo:hi] = getattr(part, name)
    return found


def _directions(
    wrt: str | Sequence[str] | None, columns: Mapping[str, np.ndarray]
) -> tuple[str, ...]:
    labels = [wrt] if isinstance(wrt, str) else list(wrt or [])
    names = [n for label in labels for n in partial_of(label)] if labels else list(columns)
    return tuple(n for n in dict.fromkeys(names) if n in columns)


def in_range(exact: np.ndarray, dtype: str) -> np.ndarray:
    """Where an exact derivative is finite, below the dtype's overflow and 0 or normal:
    where a result outside tolerance is no range event of the result itself."""
    from autograd_cli.comparison.verdicts import range_of

    limits = range_of(dtype)
    size = np.abs(np.asarray(exact, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        return np.isfinite(size) & (size < limits.overflows_at) & (
            (size == 0) | (size >= limits.smallest_normal))


def intermediate_range(
    expr: Expr,
    points: Mapping[str, np.ndarray],
    dtype: str,
    wrt: str | Sequence[str] | None = None,
    exact: np.ndarray | None = None,
) -> np.ndarray:
    """Per point (int8): :data:`RANGE_CODES` ``[OVERFLOW]`` where an intermediate of
    the computation leaves ``dtype``'s range, ``[UNDERFLOW]`` where no value overflows
    but a non-zero value falls below its smallest normal number (or to 0), else 0.
    Values come first, a derivative quantity only where no value left the range (a
    tiny u is what makes 1/u overflow: the underflow is the story).

    Intermediates, all evaluated in float64 over our tree (``points``: the inputs as
    the backends saw them, as float64 arrays): every node's value, its derivative
    along each variable of ``wrt`` (a label "x" or "x,y", or several; None: every
    variable) as forward mode carries it, the partial of each node by each argument
    that moves, and df/d(node) as reverse mode carries it. Overflow is a magnitude
    that rounds to inf in ``dtype`` (for float64, one that is inf in float64 from
    finite arguments); an inf from a division by an exact zero (a pole, sqrt'(0)) is
    no overflow: :func:`classify` labels such points, and its codes should win.
    Underflow looks at values only (the robust case: exp(-200*x) is 0 in float32).

    ``exact`` (the exact f' per point, float64): where given, points whose exact
    derivative is itself out of range (not finite, beyond the dtype, subnormal) get 0,
    as the per-row statuses of :func:`verdicts.range_statuses` cover those. A caller
    labels only rows whose result is outside tolerance: a backend that got it right
    stays ok.

    Cost: numpy passes over 65,536-point blocks, a few array operations per node for
    the value and partials, two per node and variable for the tangents, one or two per
    node for the adjoints. For 2**20 points on one core: about 30 ms for the 17 nodes
    of ``2*x**3+4*x**2+5*x+6``, 250 ms for the 21 of ``sin(x)*exp(-x**2)+log(abs(x)+1)/
    sqrt(x**2+1)`` (the transcendental functions dominate), about what classify's
    screen costs there and a tenth of the sweep's double-double reference.
    """
    steps = _program(expr)
    names = [s.node.name for s in steps if isinstance(s.node, Var)]
    columns = {name: np.asarray(points[name], dtype=np.float64) for name in dict.fromkeys(names)}
    if not columns:
        size = len(next(iter(points.values()))) if points else 1
        columns = {"": np.zeros(size)}
    codes = _range_scan(steps, columns, dtype, _directions(wrt, columns)).code
    if exact is not None:
        codes = np.where(in_range(exact, dtype), codes, 0).astype(np.int8)
    return codes


def intermediate_findings(
    expr: Expr,
    inputs: Mapping[str, np.ndarray],
    dtype: str,
    wrt: Sequence[str],
    text: str | None = None,
) -> dict[str, list[tuple[str, str] | None]]:
    """Per label and point, what :func:`intermediate_range` finds there as (status,
    which quantity left the range and by how much), or None: for labelling the rows
    of a check, whose few points may each get an exact look at the magnitude."""
    steps = _program(expr)
    names = [s.node.name for s in steps if isinstance(s.node, Var)]
    columns = {name: np.asarray(inputs[name], dtype=np.float64) for name in dict.fromkeys(names)}
    size = len(next(iter(inputs.values()))) if inputs else 1
    if not columns:
        columns = {"": np.zeros(size)}
    out: dict[str, list[tuple[str, str] | None]] = {}
    for label in wrt:
        directions = _directions(label, columns)
        found = _range_scan(steps, columns, dtype, directions)
        out[label] = [
            None if not found.code[i] else _range_text(found, i, steps, columns, directions,
                                                       dtype, text)
            for i in range(size)
        ]
    return out


def _range_text(
    found: _Found, i: int, steps: Sequence[_Step], columns: Mapping[str, np.ndarray],
    directions: Sequence[str], dtype: str, text: str | None,
) -> tuple[str, str]:
    from autograd_cli.comparison.verdicts import range_of

    k, what, detail = int(found.step[i]), int(found.what[i]), int(found.detail[i])
    size = float(found.size[i])
    name = _source(steps[k].node, text)
    if what == _VALUE:
        quantity = f"the constant {name}" if steps[k].op == "num" else name
    elif what == _TANGENT:
        quantity = f"d({name})/d{directions[detail]}"
    elif what == _PARTIAL:
        quantity = f"d({_source(steps[detail].node, text)})/d({name})"
    else:
        quantity = f"df/d({name})"
    magnitude = f"{size:.2g}"
    if what == _VALUE and (size == 0 or not math.isfinite(size)):
        import mpmath

        env = {n: mpmath.mpf(float(c[i])) for n, c in columns.items()}
        exact = _evaluate(steps, env, 64)[k]
        if mpmath.isfinite(exact):
            magnitude = mpmath.nstr(exact, 2, min_fixed=0, max_fixed=0)
    elif not math.isfinite(size):
        magnitude = f"{size} in float64"
    if steps[k].op != "num":
        quantity = f"{quantity} = {magnitude}"
    limits = range_of(dtype)
    if int(found.code[i]) == RANGE_CODES[OVERFLOW]:
        return OVERFLOW, f"{quantity} is beyond {dtype}'s range (max {limits.largest:.2g})"
    return UNDERFLOW, (f"{quantity} is below {dtype}'s smallest normal number "
                       f"({limits.smallest_normal:.2g})")


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
