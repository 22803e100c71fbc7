"""The special and piecewise functions of the vectorized sweep reference: erf, erfc,
erfinv, lgamma, polygamma from ``scipy.special``; Max/Min, floor, floor's derivative,
xlogy, atan2 and sinc's derivatives in double-double.

Why scipy, in float64: long double has no erf or gamma, and double-double versions
would be a library of their own. scipy's values carry an allowance of float64 ULPs
per function (measured against mpmath, :func:`measured_ulps`, times two), plus the
first-order correction ``f'(u)·lo`` for the argument's low word. That is ample for a
float32 sweep (48 bits demanded, ~50 given); a float64 sweep demands 58 bits, so its
points are recomputed in mpmath (:mod:`~autograd_cli.truth.point`): exact, and per
point. Near a zero of the function (lgamma's, digamma's) the allowance is absolute,
scaled by the terms the function's algorithm adds (the reflection formula's for
negative x), so the points there go to mpmath too, never with a wrong bound.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograd_cli.truth.dd_functions import finish
from autograd_cli.truth.double_double import (
    Arr,
    Value,
    add,
    any_flag,
    below,
    div,
    integer_power,
    is_zero,
    mul,
    straddles,
    sum_terms,
    two_sum,
)

_EPS = 2.0**-53
_SQRT_PI = math.sqrt(math.pi)


@dataclass(frozen=True)
class F64Function:
    """A scipy function: value, f' and |f''| (for the argument's low word and
    error), the allowance ``ulps`` times 2**-53 times ``scale`` (|f| by default),
    its real domain, and whether its poles are the non-positive integers."""

    name: str
    value: Callable[[Arr], Arr]
    derivative: Callable[[Arr, Arr], Arr]
    second: Callable[[Arr, Arr, Arr], Arr]
    ulps: float
    scale: Callable[[Arr, Arr], Arr] | None = None
    low: float = -math.inf
    high: float = math.inf
    poles: bool = False


def _sc() -> Any:
    import scipy.special

    return scipy.special


def _lgamma_scale(u: Arr, y: Arr) -> Arr:
    """gammaln's error is absolute in the size of the terms it adds: for -34 < u < 0
    (cephes recurs up to [2, 3)) lgamma(u + n) and the logs of u, ..., u + n - 1;
    below, log(pi/|sin(pi*u)|) and lgamma(1 - u) (the reflection)."""
    sc = _sc()
    negative = u < 0
    series = np.where((u > 0.5) & (u < 2.5), 3.0, 1.0)  # the series' 12 ULPs about 1.5
    if not np.any(negative):
        return np.abs(y) * series
    v = np.where(negative, u, -0.5)
    f = v - np.round(v)
    s = np.abs(np.sin(np.pi * f))
    reflected = np.abs(np.log(np.pi / s)) + np.abs(sc.gammaln(1 - v))
    n = np.ceil(2 - v)
    recurred = np.abs(sc.gammaln(v + n))
    for i in range(int(min(np.max(n), 40))):
        term = np.abs(np.log(np.abs(v + i)))
        recurred = recurred + np.where(i < n, term, 0.0)
    terms = np.where(v > -34, recurred * 0.25, reflected)  # measured: 0.9 ULPs of recurred
    near = np.where(v > -34, 0.25, 1.0)
    return np.where(negative, np.abs(y) * near + terms, np.abs(y) * series)


def _lgamma(u: Arr) -> Arr:
    """log|gamma(u)|: scipy's gammaln, except on (0.5, 2.5), where gammaln's error is
    absolute (about an ULP of 1) and lgamma crosses 0 at 1 and 2: there the Taylor
    series of lgamma(1 + z), plus log1p(z) about 2, keeps the relative accuracy."""
    sc = _sc()
    near = (u > 0.5) & (u < 2.5)
    y = sc.gammaln(u)
    if not np.any(near):
        return y
    v = u[near] if isinstance(u, np.ndarray) and u.ndim else np.asarray(u)
    second = v >= 1.5
    z = np.where(second, v - 2.0, v - 1.0)
    total = np.zeros_like(z)
    for c in reversed(_lgamma_series()):
        total = total * z + c
    total = total * z + np.where(second, np.log1p(z), 0.0)
    if not (isinstance(u, np.ndarray) and u.ndim):
        return total
    y = np.array(y, dtype=np.float64)
    y[near] = total
    return y


@functools.lru_cache(maxsize=1)
def _lgamma_series() -> tuple[float, ...]:
    """Coefficients of lgamma(1 + z)/z: -euler_gamma, then (-1)**k zeta(k)/k."""
    import mpmath

    with mpmath.workprec(80):
        return (
            float(-mpmath.euler),
            *(float((-1) ** k * mpmath.zeta(k) / k) for k in range(2, 64)),
        )


def _cot_polynomial(n: int) -> np.ndarray:
    """P_n with d^n/du^n cot(pi*u) = pi**n * P_n(cot(pi*u)) (P_0 = c,
    P_(k+1) = -(1 + c**2) * P_k'), coefficients lowest first."""
    p = np.array([0.0, 1.0])
    for _ in range(n):
        p = -np.polynomial.polynomial.polymul([1.0, 0.0, 1.0], np.polynomial.polynomial.polyder(p))
    return p


def _reflected(n: int, u: Arr) -> tuple[Arr, Arr, Arr]:
    """For u < 0: (-1)**n psi^(n)(1 - u) and pi**(n+1) P_n(cot(pi*u)), with cot
    taken at f = u - round(u) (exact, |f| <= 1/2), as tan(pi*(1/2 - |f|)) beyond
    |f| = 1/4 (exact again), so that no rounding of pi*u is magnified, and
    the size of the cot term's monomials (for the allowance)."""
    sc = _sc()
    f = u - np.round(u)
    g = np.abs(f)
    c = np.where(g < 0.25, 1 / np.tan(np.pi * f), np.sign(f) * np.tan(np.pi * (0.5 - g)))
    coefficients = _cot_polynomial(n)
    cot_term = np.pi ** (n + 1) * np.polynomial.polynomial.polyval(c, coefficients)
    size = np.pi ** (n + 1) * np.polynomial.polynomial.polyval(np.abs(c), np.abs(coefficients))
    return (-1) ** n * (sc.psi(1 - u) if n == 0 else sc.polygamma(n, 1 - u)), cot_term, size


def polygamma_value(n: int, u: Arr) -> Arr:
    """psi^(n)(u): scipy for u > 0, the reflection formula (its cot at the exactly
    reduced argument) for u <= 0; NaN at the poles."""
    sc = _sc()
    u = np.asarray(u, dtype=np.float64)
    negative = u <= 0
    if not np.any(negative):
        return sc.psi(u) if n == 0 else sc.polygamma(n, u)
    y = np.array(
        sc.psi(np.where(negative, 1.0, u))
        if n == 0
        else sc.polygamma(n, np.where(negative, 1.0, u)),
        dtype=np.float64,
    )
    if y.ndim == 0:
        reflected, cot, _ = _reflected(n, u)
        return np.nan if np.floor(u) == u else reflected - cot
    index = np.flatnonzero(negative)
    reflected, cot, _ = _reflected(n, u[index])
    y[index] = np.where(np.floor(u[index]) == u[index], np.nan, reflected - cot)
    return y


def _polygamma_scale(n: int) -> Callable[[Arr, Arr], Arr]:
    """For u < 0 the reflection's two terms' size (psi^(n)(1 - u) by its classical
    bounds, no second scipy call), so that near a zero of psi^(n) the allowance is
    absolute."""

    def scale(u: Arr, y: Arr) -> Arr:
        negative = u < 0
        if not np.any(negative):
            return np.abs(y)
        v = np.where(negative, u, -0.5)
        f = v - np.round(v)
        g = np.abs(f)
        c = np.abs(np.where(g < 0.25, 1 / np.tan(np.pi * f), np.tan(np.pi * (0.5 - g))))
        size = np.pi ** (n + 1) * np.polynomial.polynomial.polyval(c, np.abs(_cot_polynomial(n)))
        z = 1 - v  # |psi^(n)(z)| <= (n-1)!/z**n + n!/z**(n+1), or |log z| + 1/z for n = 0
        if n == 0:
            reflected = np.abs(np.log(z)) + 1 / z
        else:
            reflected = math.factorial(n - 1) / z**n + math.factorial(n) / z ** (n + 1)
        return np.where(negative, np.abs(y) + reflected + size, np.abs(y))

    return scale


def _polygamma(n: int) -> F64Function:
    return F64Function(
        f"polygamma{n}",
        lambda u: polygamma_value(n, u),
        lambda u, y: polygamma_value(n + 1, u),
        lambda u, y, d: np.abs(polygamma_value(n + 2, u)),
        POLYGAMMA_ULPS[n] if n < len(POLYGAMMA_ULPS) else 64.0,
        _polygamma_scale(n),
        poles=True,
    )


def _erfc_scale(u: Arr, y: Arr) -> Arr:
    """scipy's erfc is 1 - erf on (0, 1): its error there is absolute (2.6 ULPs of 1
    measured, 15 of erfc at 0.9); beyond 1, relative and growing as u**2."""
    return np.where((u > 0) & (u <= 1), 1.0, np.abs(y) * np.where(u > 1, u * u, 1.0))


def _erf_slope(u: Arr, y: Arr) -> Arr:
    return 2 / _SQRT_PI * np.exp(-u * u)


#: Allowances in float64 ULPs of ``scale``: twice the largest error
#: :func:`measured_ulps` found over its ranges (scipy 1.17, x86-64), at least 2.
ERF_ULPS, ERFC_ULPS, ERFINV_ULPS, LGAMMA_ULPS = 6.0, 10.0, 6.0, 8.0
POLYGAMMA_ULPS = (6.0, 13.0, 16.0, 17.0, 18.0, 16.0)


def _functions() -> dict[str, F64Function]:
    table = (
        F64Function(
            "erf", lambda u: _sc().erf(u), _erf_slope, lambda u, y, d: 2 * np.abs(u) * d, ERF_ULPS
        ),
        F64Function(
            "erfc",
            lambda u: _sc().erfc(u),
            lambda u, y: -_erf_slope(u, y),
            lambda u, y, d: 2 * np.abs(u * d),
            ERFC_ULPS,
            _erfc_scale,
        ),
        F64Function(
            "erfinv",
            lambda u: _sc().erfinv(u),
            lambda u, y: _SQRT_PI / 2 * np.exp(y * y),
            lambda u, y, d: 2 * np.abs(y) * d * d,
            ERFINV_ULPS,
            low=-1.0,
            high=1.0,
        ),
        F64Function(
            "lgamma",
            _lgamma,
            lambda u, y: polygamma_value(0, u),
            lambda u, y, d: np.abs(polygamma_value(1, u)),
            LGAMMA_ULPS,
            _lgamma_scale,
            poles=True,
        ),
    )
    return {f.name: f for f in table}


FUNCTIONS = _functions()


def polygamma(n: int) -> F64Function:
    """psi^(n): digamma for n = 0."""
    return _polygamma(n)


def apply_f64(function: F64Function, x: Value) -> Value:
    """f(x) from scipy at x.hi, corrected by f'(x.hi)·x.lo, with the bound: the
    allowance, |f'|·err(x), |f''|·(err + |lo|)²/2 and the correction's own rounding."""
    u = np.asarray(x.hi, dtype=np.float64)
    with np.errstate(all="ignore"):
        y = np.asarray(function.value(u), dtype=np.float64)
        scale = np.abs(y) if function.scale is None else function.scale(u, y)
        err: Arr = function.ulps * _EPS * scale
        hi, lo = y, np.zeros_like(y)
        if not (is_zero(x.lo) and is_zero(x.err)):
            slope = function.derivative(u, y)
            residual = np.abs(x.lo) if not is_zero(x.lo) else 0.0
            if not is_zero(x.lo):
                hi, lo = two_sum(y, slope * x.lo)
            spread = sum_terms(x.err, residual)
            slope_bound = np.abs(slope)
            err = sum_terms(
                err,
                0.0 if is_zero(x.err) else slope_bound * x.err,
                0.5 * function.second(u, y, slope) * spread * spread,
                4 * _EPS * slope_bound * residual,
            )
    flags = [x.unsure]
    nan = x.nan
    for edge, beyond in ((function.low, below), (function.high, None)):
        if math.isfinite(edge):
            outside = beyond(x, edge) if beyond is not None else _above(x, edge)
            nan = any_flag(nan, outside)
            flags += [straddles(x, edge), u == edge]
    if function.poles:
        nan, flags = _poles(x, u, nan, flags)
    return finish(hi, lo, np.where(np.isfinite(err), err, np.inf), nan, any_flag(*flags))


def _above(x: Value, bound: float) -> Arr:
    flag = (x.hi - x.width()) > bound
    return flag if isinstance(flag, np.ndarray) or flag else None


def _poles(x: Value, u: Arr, nan: Arr, flags: list[Arr]) -> tuple[Arr, list[Arr]]:
    """NaN at an exact non-positive integer; unsure where the error interval holds one
    or x is beyond 2**52 negative (every float there is an integer)."""
    width = x.width()
    pole = (u <= 0) & (np.floor(u) == u)
    exact_pole = pole & (width == 0) if not x.exact else pole
    near = (u - width <= 0) & (np.floor(u + width) >= np.ceil(u - width)) & ~exact_pole
    return any_flag(nan, exact_pole), [*flags, near, u < -(2.0**52)]


# --------------------------------------------------------------------------- piecewise


def extremum(x: Value, y: Value, *, largest: bool) -> Value:
    """max(x, y) or min(x, y): one operand's double-double; the error is at most the
    larger of theirs (max is 1-Lipschitz in each argument)."""
    first = (x.hi > y.hi) | ((x.hi == y.hi) & (np.asarray(x.lo) >= np.asarray(y.lo)))
    pick = first if largest else ~first
    hi: Arr = np.where(pick, x.hi, y.hi)
    lo: Arr = np.where(pick, x.lo, y.lo)
    err = sum_terms(x.err, y.err) if not (is_zero(x.err) and is_zero(y.err)) else 0.0
    nan = any_flag(x.nan, y.nan)
    if nan is not None:
        hi = np.where(nan, np.nan, hi)
    return Value(hi, lo, err, nan, any_flag(x.unsure, y.unsure))


def floor(x: Value) -> Value:
    """floor of a double-double: exact, unsure where the error interval holds an
    integer that x is not certainly at or above."""
    hi = np.asarray(x.hi, dtype=np.float64)
    value = np.floor(hi)
    on_integer = value == hi
    lo = np.asarray(x.lo, dtype=np.float64)
    value = np.where(on_integer & (lo < 0), value - 1, value)
    width = x.width()
    doubt = None
    if not x.exact:
        doubt = (np.floor(hi + width) != np.floor(hi - width)) | (on_integer & (width > 0))
    return finish(value, np.zeros_like(value), 0.0, x.nan, any_flag(x.unsure, doubt))


def dirac_comb(x: Value) -> Value:
    """floor's derivative: 0, NaN at an exact integer, unsure where one is in doubt."""
    hi = np.asarray(x.hi, dtype=np.float64)
    width = x.width()
    on_integer = (np.floor(hi) == hi) & (np.asarray(x.lo) == 0)
    doubt = None
    if not x.exact:
        doubt = (np.floor(hi + width) != np.floor(hi - width)) | (
            (np.floor(hi) == hi) & (width > 0)
        )
    nan = any_flag(x.nan, on_integer if x.exact else on_integer & (width == 0))
    value = np.where(nan, np.nan, 0.0) if nan is not None else np.zeros_like(hi)
    return Value(value, 0.0, 0.0, nan, any_flag(x.unsure, doubt))


def xlogy(x: Value, y: Value, log_y: Value) -> Value:
    """x*log(y), exactly 0 where x is exactly 0 and y is not NaN (log(y) may be)."""
    product = mul(x, log_y)
    keep = (np.asarray(x.hi) == 0) & (np.asarray(x.width()) == 0) & ~np.isnan(y.hi)
    if y.nan is not None:
        keep = keep & ~y.nan
    hi = np.where(keep, 0.0, product.hi)
    nan = None if product.nan is None else product.nan & ~keep
    unsure = None if product.unsure is None else product.unsure & ~keep
    return Value(hi, np.where(keep, 0.0, product.lo), np.where(keep, 0.0, product.err), nan, unsure)


def atan2(y: Value, x: Value, angle: Value, pi: Value) -> Value:
    """atan2(y, x) from ``angle`` = atan(y/x): plus pi for x < 0 <= y, minus pi for
    x < 0 and y < 0; unsure where either sign is in doubt or x is 0."""
    negative_x = np.asarray(x.hi) < 0
    shift = np.where(negative_x, np.where(np.asarray(y.hi) >= 0, 1.0, -1.0), 0.0)
    shifted = add(angle, mul(pi, Value(shift, 0.0, 0.0)))
    doubt = [x.unsure, y.unsure, np.asarray(x.hi) == 0]
    for v in (x, y):
        if not v.exact:
            doubt.append(np.abs(np.asarray(v.hi)) <= v.width())
    return Value(
        shifted.hi,
        shifted.lo,
        shifted.err,
        any_flag(x.nan, y.nan),
        any_flag(shifted.unsure, *doubt),
    )


def sinc_terms(n: int) -> list[tuple[int, int, int]]:
    """d^n/dx^n sin(pi*x)/(pi*x) = sum of c * pi**p * T_m(pi*x) * x**(n-j) / x**(n+1)
    over j (Leibniz): (coefficient, power of pi, m) with T_m sin's m-th derivative."""
    return [
        (math.comb(n, j) * (-1) ** j * math.factorial(j), n - j - 1, n - j) for j in range(n + 1)
    ]


def quotient(numerator: Value, x: Value, n: int, factor: Value | None = None) -> Value:
    """numerator / (factor * x**(n+1)), where an exact zero x is unsure (sinc is
    finite there)."""
    denominator = integer_power(x, n + 1)
    if factor is not None:
        denominator = mul(denominator, factor)
    return div(numerator, denominator, zero_is_nan=False)
