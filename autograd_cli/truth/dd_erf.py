"""erf, erfc and erfinv in double-double for the vectorized sweep reference.

Why: scipy's erf and erfc are float64 (a float64 sweep demands 58 bits), and erfc
between 0.5 and 1 is 1 - erf inside scipy (15 ULPs of erfc measured); erfinv's
derivative sqrt(pi)/2 e**(y**2) magnifies scipy's erfinv error by 2y**2, so near
+-1 not even a float32 sweep's 48 bits survive. The Taylor series of erf
(:func:`~.dd_series.horner`) gives ~100 bits within |x| <= 3.2, and one Newton step
on scipy's erfinv with it gives erfinv to ~95 bits.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from autograd_cli.truth.dd_series import exact_terms, horner, put, take
from autograd_cli.truth.dd_special import FUNCTIONS, apply_f64
from autograd_cli.truth.double_double import Value, add, any_flag, mul, sum_terms, two_sum

# --------------------------------------------------------------------------- erf near 0

#: |x| up to which erf and erfc come from the double-double series, not scipy.
SERIES_LIMIT = 1.5
#: The most Taylor terms of erf kept (enough for |x| <= 3.2 to 2**-110).
_MAX_TERMS = 80


@functools.lru_cache(maxsize=1)
def _erf_coefficients() -> tuple[tuple[Value, ...], Value]:
    """(-1)**n/(n!(2n+1)) as double-doubles (exact rationals rounded, the rounding in
    the bound) and 2/sqrt(pi) (its digits as a literal: no mpmath at import)."""
    terms = tuple(
        _literal(Fraction((-1) ** n, math.factorial(n) * (2 * n + 1)), 0.0)
        for n in range(_MAX_TERMS)
    )
    return terms, _literal(
        Fraction("1.12837916709551257389615890312154517168810125865799771368817"), 1e-59
    )


def _literal(value: Fraction, error: float) -> Value:
    """An exact rational (a constant's digits, right to ``error``) as a double-double,
    its rounding in the bound."""
    hi = float(value)
    lo = float(value - Fraction(hi))
    return Value(hi, lo, float(abs(value - Fraction(hi) - Fraction(lo))) + error)


@functools.lru_cache(maxsize=64)
def _erf_terms(limit: float, tolerance: float) -> tuple[int, float]:
    """How many Taylor terms erf needs for |x| <= limit to an absolute ``tolerance``,
    and the truncation bound: the
    terms alternate and decrease from n > limit**2 on, so the remainder is below the
    first one left out, 2/sqrt(pi) |x|**(2n+1)/(n!(2n+1)) (taken as 1.2 times), at
    most the bound at ``limit`` times |x|/limit."""
    for n in range(max(8, int(limit * limit) + 2), _MAX_TERMS):
        log_term = (2 * n + 1) * math.log(max(limit, 1e-300)) - math.lgamma(n + 1)
        remainder = 1.2 * math.exp(log_term - math.log(2 * n + 1)) * (1 + 1e-9)
        if remainder < tolerance:
            return n, remainder
    raise ValueError(f"erf's series is not used beyond |x| = {limit}")


@functools.lru_cache(maxsize=64)
def _erf_split(limit: float, tolerance: float) -> int:
    n, _ = _erf_terms(limit, tolerance)
    return exact_terms(_erf_coefficients()[0][:n], limit * limit, tolerance / 4)


def erf_series(x: Value, limit: float = SERIES_LIMIT, tolerance: float = 2.0**-72) -> Value:
    """erf(x) for |x| <= limit (at most 3.2) in double-double: the Taylor series by
    :func:`horner` in x**2 with as many terms as ``limit`` and ``tolerance`` need,
    every operation's rounding (cancellation included: the terms reach e**(x**2)) and
    the truncation in the bound."""
    coefficients, scale = _erf_coefficients()
    n, remainder = _erf_terms(limit, tolerance)
    terms = coefficients[:n]
    acc = horner(terms, mul(x, x), _erf_split(limit, tolerance))
    result = mul(mul(acc, x), scale)
    return Value(
        result.hi,
        result.lo,
        sum_terms(result.err, remainder / limit * (np.abs(x.hi) + x.width())),
        result.nan,
        result.unsure,
    )


def erf_family(name: str, x: Value) -> Value:
    """erf or erfc: scipy, except within SERIES_LIMIT of 0, where the series gives
    ~100 bits (and erfc = 1 - erf there loses nothing: erfc(1.5) is 0.03)."""
    result = apply_f64(FUNCTIONS[name], x)
    hi = np.asarray(x.hi, dtype=np.float64)
    if not hi.ndim:
        return result
    index = np.flatnonzero(np.abs(hi) <= SERIES_LIMIT)
    if not index.size:
        return result
    part = take(x, index)
    series = erf_series(part)
    if name == "erfc":
        series = add(
            Value(1.0, 0.0, 0.0),
            Value(-series.hi, -series.lo, series.err, series.nan, series.unsure),
        )
    flags = any_flag(part.nan, part.unsure)
    series = Value(
        series.hi,
        series.lo,
        series.err,
        part.nan,
        any_flag(series.unsure, flags if flags is not part.nan else None),
    )
    return put(result, index, series)


# --------------------------------------------------------------------------- erfinv

#: |erfinv(x)| from which scipy's value is refined (below, its ~3 ULPs, doubled, are
#: far inside a float32 sweep's 48 bits: erfinv' = sqrt(pi)/2 e**(y**2) magnifies
#: them by 2y**2 only), and up to which (erf's series there: 3.2, x = 1 - 6e-6).
ERFINV_REFINED = (1.0, 3.2)
_HALF_SQRT_PI = math.sqrt(math.pi) / 2


def erfinv(x: Value) -> Value:
    """erfinv(x): scipy's float64 y0 (:func:`~.dd_special.apply_f64`), and where |y0|
    is in ERFINV_REFINED one Newton step y1 = y0 - (erf(y0) - x) sqrt(pi)/2 e**(y0**2),
    erf(y0) - x in double-double (erf's series), so y1 is right to ~95 bits. The bound
    holds without trusting scipy: |y0 - y| <= e0 = |erf(y0) - x| / erf'(y0) (to 1%:
    e0 is tiny), and Newton's error is erf''/(2 erf') e0**2 <= (|y0| + e0) e0**2 (to
    1%)."""
    result = apply_f64(FUNCTIONS["erfinv"], x)
    hi = np.asarray(x.hi, dtype=np.float64)
    if not hi.ndim:
        return result
    low, high = ERFINV_REFINED
    with np.errstate(all="ignore"):
        magnitude = np.abs(np.asarray(result.hi, dtype=np.float64))
        index = np.flatnonzero((magnitude > low) & (magnitude <= high))
    if not index.size:
        return result
    part = take(x, index)
    y0 = np.asarray(result.hi, dtype=np.float64)[index]  # any float64 near y will do
    limit = float(np.max(np.abs(y0)))
    residual = add(erf_series(Value(y0, 0.0, 0.0), limit, 2.0**-104), _negate(part))
    with np.errstate(all="ignore"):
        slope = _HALF_SQRT_PI * np.exp(y0 * y0)  # 1/erf'(y0), to 2**-40 (generous)
        r = np.abs(residual.hi) + np.abs(residual.lo) + residual.err
        e0 = 1.01 * r * slope
        step = (residual.hi + residual.lo) * slope
        y1_hi, y1_lo = two_sum(y0, -step)
        err = (
            np.abs(step) * 2.0**-40
            + 1.01 * residual.err * slope
            + 1.01 * (np.abs(y0) + e0) * e0 * e0
        )
    unsure = any_flag(
        None if result.unsure is None else result.unsure[index],
        residual.unsure,
        ~(e0 < 2.0**-30),
    )
    nan = None if result.nan is None else result.nan[index]
    return put(result, index, Value(y1_hi, y1_lo, err, nan, unsure))


def _negate(v: Value) -> Value:
    return Value(-np.asarray(v.hi), -np.asarray(v.lo), v.err, v.nan, v.unsure)
