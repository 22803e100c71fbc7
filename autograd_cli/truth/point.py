"""The exact reference at given points: SymPy differentiates, mpmath evaluates.

Why adaptive precision: the backends are judged in ULPs, so the truth must be right
to well beyond float64 (a double-double, ~106 bits) even where the expression cancels.
Each point is evaluated at rising precision until two evaluations agree, at the very
input each backend saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from autograd_cli.core.model import partial_of
from autograd_cli.expr.nodes import Expr
from autograd_cli.truth.deadline import Deadline
from autograd_cli.truth.mpmath_ops import MpFunc, compile_mpmath, mp_nan, mp_real
from autograd_cli.truth.symbolic import differentiate, format_sympy, sympy_ops, to_sympy

#: Precisions tried per point, in bits: accept the first that agrees with the one before.
PRECISIONS: tuple[int, ...] = (160, 256, 512, 1024, 2048, 4096)

#: Relative agreement demanded between two precisions (a double-double needs ~106 bits).
AGREEMENT_BITS = 112

def _agree(a: Any, b: Any) -> bool:
    import mpmath

    if a != a or b != b:
        return a != a and b != b
    if a == b:
        return True
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
        return False
    return bool(abs(a - b) <= abs(b) * mpmath.ldexp(1, -AGREEMENT_BITS))


def evaluate_point(function: MpFunc, env: Mapping[str, Any]) -> tuple[Any, int]:
    """The value at one point, raising precision until two evaluations agree.

    Two zeros may be one cancellation seen twice (softsign' at -1.341e154 is
    1/(1+|x|) - |x|/(1+|x|)**2: 0 at 160 and 256 bits, 5.56e-309 from 512 on), so a
    zero is confirmed at the top precision."""
    previous: Any = None
    value: Any = None
    for bits in PRECISIONS:
        value = _evaluate_at(function, env, bits)
        if previous is not None and _agree(previous, value):
            if value == 0 and bits < PRECISIONS[-1]:
                return _evaluate_at(function, env, PRECISIONS[-1]), PRECISIONS[-1]
            return value, bits
        previous = value
    return value, PRECISIONS[-1]


def _evaluate_at(function: MpFunc, env: Mapping[str, Any], bits: int) -> Any:
    import mpmath

    mpmath.mp.prec = bits
    try:
        return mp_real(function(dict(env)))
    except (ZeroDivisionError, ValueError, OverflowError):
        return mp_nan()


def nearest_float(value: Any) -> float:
    """The float64 nearest to an exact mpf (ties to even, gradual underflow)."""
    import mpmath

    if value != value:
        return float("nan")
    if mpmath.isinf(value):
        return float("inf") if value > 0 else float("-inf")
    sign, man, exp, bc = value._mpf_
    if not man:
        return 0.0
    if exp + bc > 1025:
        return float("-inf") if sign else float("inf")
    if exp + bc < -1076:
        return -0.0 if sign else 0.0
    exact = Fraction(man << exp) if exp >= 0 else Fraction(man, 1 << -exp)
    try:
        result = float(exact)
    except OverflowError:
        result = float("inf")
    return -result if sign else result


def double_double(value: Any) -> tuple[float, float]:
    """(hi, lo): hi the nearest float64, lo the nearest float64 to value - hi."""
    import mpmath

    hi = nearest_float(value)
    if not np.isfinite(hi):
        return hi, 0.0
    return hi, nearest_float(mpmath.fsub(value, hi, exact=True))


@dataclass
class Reference:
    """The exact f and its partials at every point, each as a float64 double-double."""

    expression: str
    derivative_expressions: dict[str, str]
    values: np.ndarray
    values_lo: np.ndarray
    derivatives: dict[str, np.ndarray]
    derivatives_lo: dict[str, np.ndarray]
    precision_bits: int


def _size(inputs: Mapping[str, np.ndarray]) -> int:
    return len(next(iter(inputs.values()))) if inputs else 1


def reference(
    expr: Expr,
    inputs: Mapping[str, np.ndarray],
    wrt: tuple[str, ...],
    *,
    deadline: Deadline | None = None,
) -> Reference:
    """Exact values and partials of ``expr`` at exactly the points in ``inputs``;
    ``wrt`` holds labels ("x", "x,x", "x,y"), which key the partials. With a
    ``deadline``, raises ReferenceTimeout rather than run past it."""
    if deadline is None:
        return _reference(expr, inputs, wrt, None)
    sympy_ops()  # imported before the alarm is armed: no import is ever cut in half
    with deadline.alarm():
        return _reference(expr, inputs, wrt, deadline)


def _reference(
    expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], deadline: Deadline | None
) -> Reference:
    import mpmath

    order = max((len(partial_of(name)) for name in wrt), default=1)
    if deadline is not None:
        deadline.doing = f"sympy.diff of --order {order}" if order > 1 else "sympy.diff"
    f = to_sympy(expr)
    partials = {name: differentiate(f, name) for name in wrt}
    missing = sorted(s.name for s in f.free_symbols if s.name not in inputs)
    if missing:
        raise ValueError(f"no input values for variable(s): {', '.join(missing)}")
    if deadline is not None:
        deadline.doing = "compiling the derivatives for mpmath"
    targets = {"": compile_mpmath(f), **{k: compile_mpmath(v) for k, v in partials.items()}}

    n = _size(inputs)
    hi = {key: np.empty(n, dtype=np.float64) for key in targets}
    lo = {key: np.empty(n, dtype=np.float64) for key in targets}
    columns = {name: np.asarray(a).tolist() for name, a in inputs.items()}
    used = PRECISIONS[0]
    saved = mpmath.mp.prec
    try:
        for i in range(n):
            if deadline is not None:
                deadline.doing = f"mpmath, {i:,} of {n:,} points done"
                deadline.check()
            env = {name: mpmath.mpf(column[i]) for name, column in columns.items()}
            for key, function in targets.items():
                value, bits = evaluate_point(function, env)
                used = max(used, bits)
                hi[key][i], lo[key][i] = double_double(value)
    finally:
        mpmath.mp.prec = saved

    if deadline is not None:
        deadline.doing = "printing the derivatives"
    return Reference(
        expression=format_sympy(f),
        derivative_expressions={k: format_sympy(v) for k, v in partials.items()},
        values=hi[""],
        values_lo=lo[""],
        derivatives={k: hi[k] for k in partials},
        derivatives_lo={k: lo[k] for k in partials},
        precision_bits=used,
    )


def round_double_double(hi: np.ndarray, lo: np.ndarray, dtype: str) -> np.ndarray:
    """hi + lo correctly rounded to ``dtype`` (a plain cast of hi can miss a tie)."""
    from autograd_cli.core.dtypes import numpy_dtype, round_to

    target = numpy_dtype(dtype)
    hi = np.asarray(hi, dtype=np.float64)
    if target == np.float64:
        return hi.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = round_to(hi, dtype)
        back = rounded.astype(np.float64)
        gap = hi - back
        other = np.where(
            gap > 0,
            np.nextafter(rounded, target.type(np.inf)),
            np.nextafter(rounded, target.type(-np.inf)),
        )
        half = (other.astype(np.float64) - back) / 2
        tie = np.isfinite(rounded) & (gap != 0) & (gap == half) & (np.sign(lo) == np.sign(gap))
    return np.where(tie, other, rounded).astype(target)
