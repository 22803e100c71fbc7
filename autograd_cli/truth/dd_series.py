"""Taylor series in double-double for the vectorized sweep reference: erf (and erfc)
near 0, sinc's derivatives near 0.

Why: scipy's erf and erfc are float64 (a float64 sweep demands 58 bits), and erfc
between 0.5 and 1 is 1 - erf inside scipy, about 15 ULPs; sinc's derivatives by
Leibniz's rule are 0/0 at 0 and cancel near it. A series in double-double, every
operation's rounding and the truncation in the bound (:mod:`~.double_double`'s
arithmetic), is right to ~100 bits there, for float32 and float64 sweeps alike.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from autograd_cli.truth.dd_special import FUNCTIONS, apply_f64, quotient
from autograd_cli.truth.double_double import Arr, Value, add, any_flag, mul, sum_terms, two_sum

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


def erf_series(x: Value, limit: float = SERIES_LIMIT, tolerance: float = 2.0**-72) -> Value:
    """erf(x) for |x| <= limit (at most 3.2) in double-double: the Taylor series by
    Horner in x**2 with as many terms as ``limit`` and ``tolerance`` need, every operation's rounding
    (cancellation included: the terms reach e**(x**2)) and the truncation in the bound."""
    coefficients, scale = _erf_coefficients()
    n, remainder = _erf_terms(limit, tolerance)
    terms = coefficients[:n]
    s = mul(x, x)
    acc = terms[-1]
    for term in reversed(terms[:-1]):
        acc = add(mul(acc, s), term)
    result = mul(mul(acc, x), scale)
    return Value(
        result.hi,
        result.lo,
        sum_terms(result.err, remainder / limit * (np.abs(x.hi) + x.width())),
        result.nan,
        result.unsure,
    )


def _take(v: Value, index: np.ndarray) -> Value:
    def part(a: Arr) -> Arr:
        return a[index] if isinstance(a, np.ndarray) and a.ndim else a

    return Value(part(v.hi), part(v.lo), part(v.err), part(v.nan), part(v.unsure))


def _put(target: Value, index: np.ndarray, v: Value) -> Value:
    """``target`` with the points at ``index`` replaced by ``v``'s (arrays of the block)."""
    n = np.shape(target.hi)[0]

    def full(a: Arr, fill: object) -> np.ndarray:
        return np.array(np.broadcast_to(np.asarray(fill if a is None else a), (n,)))

    hi, lo, err = full(target.hi, 0.0), full(target.lo, 0.0), full(target.err, 0.0)
    nan, unsure = full(target.nan, False), full(target.unsure, False)
    hi[index], lo[index] = v.hi, v.lo
    err[index] = v.err
    nan[index] = False if v.nan is None else v.nan
    unsure[index] = False if v.unsure is None else v.unsure
    return Value(hi, lo, err, nan if nan.any() else None, unsure if unsure.any() else None)


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
    part = _take(x, index)
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
    return _put(result, index, series)


# --------------------------------------------------------------------------- erfinv

#: |erfinv(x)| from which scipy's value is refined (below, its ~3 ULPs, doubled, are
#: far inside a float32 sweep's 48 bits: erfinv' = sqrt(pi)/2 e**(y**2) magnifies
#: them by 2y**2 only), and up to which (erf's series there: 3.2, x = 1 - 6e-6).
ERFINV_REFINED = (1.0, 3.2)
_HALF_SQRT_PI = math.sqrt(math.pi) / 2


def erfinv(x: Value) -> Value:
    """erfinv(x): scipy's float64 y0 (:func:`~.dd_special.apply_f64`), and where |y0| is in ERFINV_REFINED one Newton
    step y1 = y0 - (erf(y0) - x) sqrt(pi)/2 e**(y0**2), erf(y0) - x in double-double
    (erf's series), so y1 is right to ~95 bits. The bound holds without trusting scipy:
    |y0 - y| <= e0 = |erf(y0) - x| / erf'(y0) (to 1%: e0 is tiny), and Newton's error
    is erf''/(2 erf') e0**2 <= (|y0| + e0) e0**2 (to 1%)."""
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
    part = _take(x, index)
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
    return _put(result, index, Value(y1_hi, y1_lo, err, nan, unsure))


def _negate(v: Value) -> Value:
    return Value(-np.asarray(v.hi), -np.asarray(v.lo), v.err, v.nan, v.unsure)


# --------------------------------------------------------------------------- sinc near 0

#: |x| up to which sinc's derivatives come from their series (|pi*x| <= 1).
SINC_SERIES_LIMIT = 0.3
_SINC_TERMS = 14


@functools.lru_cache(maxsize=8)
def _sinc_coefficients(n: int) -> tuple[tuple[Value, ...], Value, Value, float]:
    """g(t) = sin(t)/t = sum (-1)**k t**(2k)/(2k+1)!, so g^(n)(t) = t**p * sum_j
    c_j t**(2j) with p = n % 2, k = (n + p)/2 + j, c_j = (-1)**k/((2k+1)(2j+p)!);
    the c_j, pi, pi**n as double-doubles and the truncation bound at |t| = 1."""
    from fractions import Fraction

    import mpmath

    def exact(value: Fraction) -> Value:
        hi = float(value)
        lo = float(value - Fraction(hi))
        return Value(hi, lo, float(abs(value - Fraction(hi) - Fraction(lo))) * 2)

    def dd(value: object) -> Value:
        hi = float(value)  # type: ignore[arg-type]
        return Value(hi, float(value - hi), abs(hi) * 2.0**-200)  # type: ignore[operator]

    p = n % 2
    terms = tuple(
        exact(Fraction((-1) ** ((n + p) // 2 + j), (n + p + 2 * j + 1) * math.factorial(2 * j + p)))
        for j in range(_SINC_TERMS)
    )
    with mpmath.workprec(256):
        pi, pi_n = dd(mpmath.pi), dd(mpmath.pi**n)
    remainder = 2.0 / math.factorial(2 * _SINC_TERMS + p)
    return terms, pi, pi_n, remainder


def sinc_series(n: int, x: Value) -> Value:
    """d^n/dx^n sin(pi*x)/(pi*x) for |pi*x| <= 1: pi**n g^(n)(pi*x) by Horner."""
    terms, pi, pi_n, remainder = _sinc_coefficients(n)
    t = mul(pi, x)
    s = mul(t, t)
    acc = terms[-1]
    for term in reversed(terms[:-1]):
        acc = add(mul(acc, s), term)
    if n % 2:
        acc = mul(acc, t)
    result = mul(acc, pi_n)
    return Value(
        result.hi,
        result.lo,
        sum_terms(result.err, remainder * abs(pi_n.hi)),
        result.nan,
        result.unsure,
    )


def sinc_derivative(n: int, numerator: Value, x: Value) -> Value:
    """The n-th derivative of sinc: Leibniz's quotient, and the series near 0 (where
    the quotient cancels, and is 0/0 at 0)."""
    result = quotient(numerator, x, n)
    hi = np.asarray(x.hi, dtype=np.float64)
    if not hi.ndim:
        return sinc_series(n, x) if abs(float(hi)) <= SINC_SERIES_LIMIT else result
    index = np.flatnonzero(np.abs(hi) <= SINC_SERIES_LIMIT)
    if not index.size:
        return result
    part = _take(x, index)
    series = sinc_series(n, part)
    series = Value(series.hi, series.lo, series.err, part.nan, part.unsure)
    return _put(result, index, series)


# --------------------------------------------------------------------------- digamma's zeros

#: Terms of digamma's Taylor series about each of its zeros.
_ZERO_TERMS = 40
#: Digamma's zeros below -this are left to scipy's value (and mpmath where it falls short).
_ZERO_LIMIT = 4096


@functools.lru_cache(maxsize=256)
def _digamma_zero(k: int) -> tuple[Value, float, tuple[Value, ...], float]:
    """Zero k of digamma (0: the positive root 1.4616...; k >= 1: the one in
    (-k, 1 - k)), as a double-double, the radius the series is used within, the
    coefficients psi^(j)(x0)/j! for j >= 1, and the next coefficient's size (the
    truncation bound is twice it times |h|**(terms + 1): the ratio of terms is below
    1/3 within the radius, the nearest pole being 3 radii away or more)."""
    import mpmath

    with mpmath.workprec(96):
        low, high = (mpmath.mpf(1), mpmath.mpf(2)) if k == 0 else (-k + 1e-9, 1 - k - 1e-9)
        x0 = mpmath.findroot(lambda t: mpmath.psi(0, t), (low, high), solver="anderson")
        distance = x0 if k == 0 else min(x0 + k, 1 - k - x0)
        radius = float(distance) / 3
        coefficients = [mpmath.psi(j, x0) / mpmath.factorial(j) for j in range(1, _ZERO_TERMS + 2)]
        hi = float(x0)
        root = Value(hi, float(x0 - hi), 0.0)
        terms = tuple(_dd(c) for c in coefficients[:_ZERO_TERMS])
        return root, radius, terms, float(abs(coefficients[_ZERO_TERMS]))


def _dd(value: object) -> Value:
    hi = float(value)  # type: ignore[arg-type]
    return Value(hi, float(value - hi), abs(hi) * 2.0**-200)  # type: ignore[operator]


def digamma_near_zeros(x: Value, result: Value) -> Value:
    """``result`` (scipy's digamma) with the points near a zero of digamma replaced by
    the series about it, in double-double: there scipy's error is absolute and the
    value small, so the relative accuracy a sweep demands comes only from this."""
    hi = np.asarray(x.hi, dtype=np.float64)
    if not hi.ndim:
        return result
    k = np.where(hi > 0, 0, np.floor(-hi) + 1)
    candidates = np.flatnonzero((hi > 0.5) & (hi < 2.5) | (hi < 0) & (hi > -_ZERO_LIMIT))
    for zero in np.unique(k[candidates]).astype(int).tolist():
        root, radius, terms, next_term = _digamma_zero(zero)
        index = candidates[(k[candidates] == zero) & (np.abs(hi[candidates] - root.hi) < radius)]
        if not index.size:
            continue
        part = _take(x, index)
        h = add(part, Value(-root.hi, -root.lo, 0.0))
        acc = terms[-1]
        for term in reversed(terms[:-1]):
            acc = add(mul(acc, h), term)
        series = mul(acc, h)
        truncation = 2 * next_term * np.abs(h.hi + np.abs(h.lo) + h.err) ** (_ZERO_TERMS + 1)
        series = Value(
            series.hi,
            series.lo,
            sum_terms(series.err, truncation),
            part.nan,
            any_flag(series.unsure, part.unsure),
        )
        result = _put(result, index, series)
    return result
