"""Double-double arithmetic on numpy arrays, with a running error bound: the exact part
of the vectorized sweep reference (:mod:`~autograd_cli.truth.vectorized`).

Its own module because it knows nothing of SymPy, functions or sweeps: error-free
transformations (two-sum, Dekker's two-product), and ``+ - * /``, integer powers,
square roots, abs and step functions on :class:`Value` (a double-double with a bound on
its absolute error and per-point NaN/unsure flags), each over all points of a block at
once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

_U = 2.0**-53  # unit roundoff of float64
_SPLITTER = 134217729.0  # 2**27 + 1
TINY = 2.0**-968  # below this a double-double's low word loses bits
_DENORMAL_ERROR = 2.0**-1070


# --------------------------------------------------------------------------- values

Arr = Any  # a float64 (or bool) ndarray over the block's points, or a scalar constant


@dataclass
class Value:
    """A double-double ``hi + lo`` with a bound on its absolute error and per-point
    flags; a flag of None means False everywhere."""

    hi: Arr
    lo: Arr
    err: Arr
    nan: Arr = None  # certainly NaN: a real-domain violation upstream
    unsure: Arr = None  # not to be trusted here: recompute with mpmath

    @property
    def exact(self) -> bool:
        return is_zero(self.err) and is_zero(self.lo)

    def width(self) -> Arr:
        """How far the true value may be from ``hi``."""
        return 0.0 if self.exact else np.abs(self.lo) + self.err


def is_zero(a: Arr) -> bool:
    """A scalar zero: known exact for every point, so its terms can be skipped."""
    return not isinstance(a, np.ndarray) and a == 0


def any_flag(*flags: Arr) -> Arr:
    present = [f for f in flags if f is not None and (isinstance(f, np.ndarray) or f)]
    if not present:
        return None
    result = present[0]
    for flag in present[1:]:
        result = result | flag
    return result


def sum_terms(*terms: Arr) -> Arr:
    """A sum of error terms that stays a scalar 0 when every term is one."""
    present = [t for t in terms if not is_zero(t)]
    if not present:
        return 0.0
    result = present[0]
    for term in present[1:]:
        result = result + term
    return result


def _where(flag: Arr, value: float, array: Arr) -> Arr:
    return array if flag is None else np.where(flag, value, array)


# --------------------------------------------------------------------------- double-double


def two_sum(a: Arr, b: Arr) -> tuple[Arr, Arr]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _fast_two_sum(a: Arr, b: Arr) -> tuple[Arr, Arr]:
    s = a + b
    return s, b - (s - a)


def _split(a: Arr) -> tuple[Arr, Arr]:
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def two_prod(a: Arr, b: Arr) -> tuple[Arr, Arr]:
    """a*b = p + e exactly (Dekker); beyond 2**995 the split overflows and e is NaN,
    which every later step carries into the value or its bound."""
    p = a * b
    ah, al = _split(a)
    if b is a:
        return p, ((ah * ah - p) + 2 * (ah * al)) + al * al
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _underflow(result: Arr, *factors: Arr) -> Arr:
    """An absolute error term where a product or quotient of nonzero numbers came out
    so small that its low word (or all of it) underflowed."""
    small = np.abs(result) < TINY
    if not isinstance(small, np.ndarray):
        return _DENORMAL_ERROR if small and all(np.all(f != 0) for f in factors) else 0.0
    if not small.any():
        return 0.0
    for f in factors:
        small = small & (f != 0)
    return np.where(small, _DENORMAL_ERROR, 0.0)


def add(x: Value, y: Value) -> Value:
    s, e = two_sum(x.hi, y.hi)
    nan, unsure = any_flag(x.nan, y.nan), any_flag(x.unsure, y.unsure)
    if is_zero(x.lo) and is_zero(y.lo):
        return Value(s, e, sum_terms(x.err, y.err), nan, unsure)
    if is_zero(x.lo) or is_zero(y.lo):
        t = y.lo if is_zero(x.lo) else x.lo
        e2 = e + t
        rounding = _U * np.abs(e2)
    else:
        t = x.lo + y.lo
        e2 = e + t
        rounding = _U * (np.abs(t) + np.abs(e2))
    hi, lo = two_sum(s, e2)
    return Value(hi, lo, sum_terms(x.err, y.err, rounding), nan, unsure)


def _scale(x: Value, c: float) -> Value:
    """x times a power of two (-1 included): exact, barring overflow and underflow."""
    hi = x.hi * c
    err = x.err if is_zero(x.err) else x.err * abs(c)
    if abs(c) < 1:
        err = sum_terms(err, _underflow(hi, x.hi))
    return Value(hi, x.lo * c, err, x.nan, x.unsure)


def _power_of_two(v: Value) -> float | None:
    if isinstance(v.hi, np.ndarray) or not v.exact or not math.isfinite(v.hi):
        return None
    return float(v.hi) if v.hi != 0 and abs(math.frexp(v.hi)[0]) == 0.5 else None


def mul(x: Value, y: Value) -> Value:
    for a, b in ((x, y), (y, x)):
        c = _power_of_two(b)
        if c is not None:
            return _scale(a, c)
    p, e = two_prod(x.hi, y.hi) if x is not y else two_prod(x.hi, x.hi)
    nan, unsure = any_flag(x.nan, y.nan), any_flag(x.unsure, y.unsure)
    propagated = sum_terms(
        0.0 if is_zero(y.err) else np.abs(x.hi) * y.err,
        0.0 if is_zero(x.err) else np.abs(y.hi) * x.err,
        0.0 if is_zero(x.err) or is_zero(y.err) else x.err * y.err,
    )
    if not is_zero(propagated):
        propagated = propagated * (1 + 2.0**-50)
    if is_zero(x.lo) and is_zero(y.lo):
        return Value(p, e, sum_terms(propagated, _underflow(p, x.hi, y.hi)), nan, unsure)
    cross = sum_terms(0.0 if is_zero(y.lo) else x.hi * y.lo, 0.0 if is_zero(x.lo) else x.lo * y.hi)
    hi, lo = _fast_two_sum(p, e + cross)
    rounding = 8 * _U * _U * np.abs(hi) + _underflow(hi, x.hi, y.hi)
    return Value(hi, lo, sum_terms(propagated, rounding), nan, unsure)


def div(x: Value, y: Value, *, zero_is_nan: bool) -> Value:
    """x / y. Dividing by an exact zero gives NaN for ``zero_is_nan`` (mpmath's
    ``0**-n``); otherwise that point is recomputed (``acot(0)`` is finite)."""
    q1 = x.hi / y.hi
    p, e = two_prod(q1, y.hi)
    s, f = two_sum(x.hi, -p)
    tail = f - e
    if not is_zero(x.lo):
        tail = tail + x.lo
    if not is_zero(y.lo):
        tail = tail - q1 * y.lo
    hi, lo = _fast_two_sum(q1, (s + tail) / y.hi)
    exact_zero = (y.hi == 0) if is_zero(y.err) else (y.hi == 0) & (y.err == 0)
    doubtful = None
    propagated = x.err
    if not is_zero(y.err):
        margin = np.abs(y.hi) - y.err
        doubtful = (margin <= 0) & ~exact_zero
        propagated = sum_terms(x.err, np.abs(hi) * y.err) / margin
    elif not is_zero(x.err):
        propagated = x.err / np.abs(y.hi)
    if not is_zero(propagated):
        propagated = propagated * (1 + 2.0**-50)
    rounding = 16 * _U * _U * np.abs(hi) + _underflow(hi, x.hi)
    if zero_is_nan:
        nan, unsure = any_flag(x.nan, y.nan, exact_zero), any_flag(x.unsure, y.unsure, doubtful)
    else:
        nan, unsure = any_flag(x.nan, y.nan), any_flag(x.unsure, y.unsure, doubtful, exact_zero)
    return Value(_where(nan, np.nan, hi), lo, sum_terms(propagated, rounding), nan, unsure)


def sqrt(x: Value) -> Value:
    """Double-double square root: one Newton step from the float64 root (Karp)."""
    s = np.sqrt(np.maximum(x.hi, 0.0))
    p, e = two_prod(s, s)
    r = (x.hi - p) - e
    if not is_zero(x.lo):
        r = r + x.lo
    positive = s > 0
    hi, lo = _fast_two_sum(s, np.where(positive, r / np.where(positive, 2 * s, 1.0), 0.0))
    nan = any_flag(x.nan, below(x, 0.0))
    unsure = any_flag(x.unsure, (x.hi > 0) & (x.hi < TINY))
    propagated: Arr = 0.0
    if not is_zero(x.err):
        doubtful = (x.err > 0) & (x.hi < 2 * x.err)
        unsure = any_flag(unsure, doubtful if nan is None else doubtful & ~nan)
        propagated = x.err / np.where(positive, hi, np.inf)
    rounding = 4 * _U * _U * np.abs(hi)
    return Value(_where(nan, np.nan, hi), lo, sum_terms(propagated, rounding), nan, unsure)


def below(x: Value, bound: float) -> Arr:
    """Points where x is certainly below ``bound`` (its whole error interval is)."""
    flag = (x.hi + x.width()) < bound
    return flag if isinstance(flag, np.ndarray) or flag else None


def above(x: Value, bound: float) -> Arr:
    flag = (x.hi - x.width()) > bound
    return flag if isinstance(flag, np.ndarray) or flag else None


def straddles(x: Value, point: float) -> Arr:
    """Points whose error interval holds ``point`` without x being exactly it."""
    if x.exact:
        return None
    width = x.width()
    return (x.hi - width <= point) & (x.hi + width >= point) & (width > 0)


def integer_power(x: Value, n: int) -> Value:
    """x**n by repeated squaring; a negative n is a reciprocal (0**-n is NaN)."""
    result: Value | None = None
    base = x
    k = abs(n)
    while k:
        if k & 1:
            result = base if result is None else mul(result, base)
        k >>= 1
        if k:
            base = mul(base, base)
    assert result is not None
    return result if n > 0 else div(Value(1.0, 0.0, 0.0), result, zero_is_nan=True)


def absolute(x: Value) -> Value:
    negative = x.hi < 0
    return Value(np.where(negative, -x.hi, x.hi), np.where(negative, -x.lo, x.lo), x.err,
                 x.nan, x.unsure)


def step_function(kind: str, x: Value, at_zero: Value | None = None) -> Value:
    """sign, Heaviside and DiracDelta: exact, except where the sign is in doubt."""
    hi = np.asarray(x.hi, dtype=np.float64)
    doubt = None if x.exact else (np.abs(hi) <= x.width()) & (x.width() > 0)
    zero = hi == 0
    nan = x.nan
    if kind == "sign":
        value = np.sign(hi)
    elif kind == "heaviside":
        value = np.where(hi > 0, 1.0, 0.0)
        if at_zero is None:
            nan = any_flag(nan, zero)
        else:
            value = np.where(zero, at_zero.hi, value)
    else:
        value = np.zeros_like(hi)
        nan = any_flag(nan, zero)
    value = np.where(np.isnan(hi), np.nan, _where(nan, np.nan, value))
    return Value(value, 0.0, 0.0, nan, any_flag(x.unsure, doubt))
