"""Elementary functions of double-doubles with certified error bounds: the function
part of the vectorized sweep reference (:mod:`~autograd_cli.truth.vectorized`).

Its own module because it is where the reference leans on the platform: values come
from numpy's ``longdouble`` libm (with libm's error allowance per function and the real
domain of each), or, where long double is no wider than a double (``in_mpmath``), from
160-bit mpmath point by point. The arithmetic it builds on is
:mod:`~autograd_cli.truth.double_double`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autograd_cli.truth import mpmath_ops, point
from autograd_cli.truth.double_double import (
    TINY,
    Arr,
    Value,
    above,
    any_flag,
    below,
    is_zero,
    straddles,
    sum_terms,
)

#: Mantissa bits of numpy's long double here (64 on x86-64 Linux and macOS-x86, 53 where
#: it is just a double).
LONG_DOUBLE_BITS = int(np.finfo(np.longdouble).nmant) + 1


# --------------------------------------------------------------------------- functions


@dataclass(frozen=True)
class DDFunction:
    """A function in long double: its value, f' from (u, f(u)), f'' from (u, f, f'),
    the error allowed to libm (its largest error over 4000 random points per range
    on glibc x86-64, times 1.5 or more), and its real domain [low, high] (NaN outside,
    as mpmath's real semantics say). An open edge (log(0) = -inf, atanh(±1)) is left
    to mpmath."""

    name: str
    value: Callable[[Arr], Arr]
    derivative: Callable[[Arr, Arr], Arr]
    second: Callable[[Arr, Arr, Arr], Arr]
    ulps: float  # libm's error allowance in long double ULPs
    low: float = -math.inf
    high: float = math.inf
    open_edges: bool = False
    #: f' in float64 (a long double call saved where its only uses, the argument's
    #: extra bits and the bound, need no more): from (u64, shift, y64), the slope at
    #: u64, its error bound as f' of a point within ``shift`` of u64, and a bound on
    #: |f''| there.
    fast: Callable[[Arr, Arr, Arr], tuple[Arr, Arr, Arr]] | None = None


_LIBM = 2.0**-50  # float64 libm's error allowance, relative (4 ULPs; glibc's are < 1)


def _sin_slope(u: Arr, shift: Arr, y: Arr) -> tuple[Arr, Arr, Arr]:
    return np.cos(u), _LIBM + shift, 1.0


def _cos_slope(u: Arr, shift: Arr, y: Arr) -> tuple[Arr, Arr, Arr]:
    return -np.sin(u), _LIBM + shift, 1.0


def _tanh_slope(u: Arr, shift: Arr, y: Arr) -> tuple[Arr, Arr, Arr]:
    """sech(u)**2, relative error 2 shift + 3 libm (cosh's, its square's rounding);
    where cosh overflows (|u| > 710) the slope is below 1e-300."""
    slope = 1 / np.cosh(u) ** 2
    return slope, slope * (3 * _LIBM + 2.5 * shift) + 1e-300, 1.0


def _sinh_slope(u: Arr, shift: Arr, y: Arr) -> tuple[Arr, Arr, Arr]:
    """cosh(u): relative error libm + 1.1 shift (|tanh| <= 1); |sinh''| <= cosh."""
    slope = np.cosh(u)
    return slope, slope * (_LIBM + 1.1 * shift), slope * (1 + 2 * _LIBM + 2 * shift)


def _cosh_slope(u: Arr, shift: Arr, y: Arr) -> tuple[Arr, Arr, Arr]:
    """sinh(u): error (libm + 1.1 shift) cosh(u); |cosh''| = cosh <= |y| (3 ULPs)."""
    slope = np.sinh(u)
    size = np.abs(y) * (1 + 4 * _LIBM)
    return slope, size * (_LIBM + 1.1 * shift), size * (1 + 2 * shift)


def _functions() -> dict[str, DDFunction]:
    one, two = np.longdouble(1), np.longdouble(2)

    def same(u: Arr, y: Arr, d: Arr = None) -> Arr:
        return y

    def cubed(u: Arr, y: Arr, d: Arr) -> Arr:
        return u * d * d * d

    def squared(u: Arr, y: Arr, d: Arr) -> Arr:
        return two * u * d * d

    table = (
        DDFunction("sin", np.sin, lambda u, y: np.cos(u), same, 1.5, fast=_sin_slope),
        DDFunction("cos", np.cos, lambda u, y: -np.sin(u), same, 1.5, fast=_cos_slope),
        DDFunction("tan", np.tan, lambda u, y: one + y * y, lambda u, y, d: two * y * d, 2.0),
        DDFunction(
            "asin",
            np.arcsin,
            lambda u, y: one / np.sqrt(one - u * u),
            cubed,
            1.5,
            low=-1.0,
            high=1.0,
        ),
        DDFunction(
            "acos",
            np.arccos,
            lambda u, y: -one / np.sqrt(one - u * u),
            cubed,
            2.0,
            low=-1.0,
            high=1.0,
        ),
        DDFunction("atan", np.arctan, lambda u, y: one / (one + u * u), squared, 1.0),
        DDFunction("sinh", np.sinh, lambda u, y: np.cosh(u), same, 3.0, fast=_sinh_slope),
        DDFunction("cosh", np.cosh, lambda u, y: np.sinh(u), same, 3.0, fast=_cosh_slope),
        DDFunction(
            "tanh",
            np.tanh,
            lambda u, y: one / np.cosh(u) ** 2,
            lambda u, y, d: two * y * d,
            3.5,
            fast=_tanh_slope,
        ),
        DDFunction("asinh", np.arcsinh, lambda u, y: one / np.sqrt(one + u * u), cubed, 3.5),
        DDFunction(
            "acosh", np.arccosh, lambda u, y: one / np.sqrt(u * u - one), cubed, 3.0, low=1.0
        ),
        DDFunction(
            "atanh",
            np.arctanh,
            lambda u, y: one / (one - u * u),
            squared,
            4.0,
            low=-1.0,
            high=1.0,
            open_edges=True,
        ),
        DDFunction("exp", np.exp, lambda u, y: y, same, 1.5),
        DDFunction(
            "log",
            np.log,
            lambda u, y: one / u,
            lambda u, y, d: d * d,
            1.5,
            low=0.0,
            open_edges=True,
        ),
        DDFunction(
            "log1p",
            np.log1p,
            lambda u, y: one / (one + u),
            lambda u, y, d: d * d,
            2.0,
            low=-1.0,
            open_edges=True,
        ),
        DDFunction("expm1", np.expm1, lambda u, y: y + one, lambda u, y, d: d, 2.0),
    )
    return {f.name: f for f in table}


FUNCTIONS = _functions()

#: Reciprocal functions: ("of", g) is 1/g(u), ("arg", g) is g(1/u), the division done
#: in double-double.
RECIPROCALS: dict[str, tuple[str, str]] = {
    "cot": ("of", "tan"),
    "sec": ("of", "cos"),
    "csc": ("of", "sin"),
    "coth": ("of", "tanh"),
    "sech": ("of", "cosh"),
    "csch": ("of", "sinh"),
    "acot": ("arg", "atan"),
    "asec": ("arg", "acos"),
    "acsc": ("arg", "asin"),
    "acoth": ("arg", "atanh"),
}

_POW_ULPS = 2.0
_MPMATH_ERROR = 2.0**-150  # a 160-bit mpmath value rounded to a double-double
_LONG_ULP = 2.0 ** (53 - LONG_DOUBLE_BITS)  # a long double ULP, in float64 ULPs


def _ulp(hi: Arr) -> Arr:
    """One long double ULP at each float64 ``hi`` (or the next binade's, if hi
    rounded up to a power of two: never less)."""
    return np.spacing(np.abs(hi)) * _LONG_ULP


def _to_long(x: Value) -> tuple[Arr, Arr]:
    """x in long double, and what rounding it to long double left out (None: nothing)."""
    hi = np.asarray(x.hi, dtype=np.longdouble)
    if is_zero(x.lo):
        return hi, None
    lo = np.asarray(x.lo, dtype=np.longdouble)
    u = hi + lo
    return u, (hi - u) + lo


def _from_long(y: Arr) -> tuple[Arr, Arr]:
    hi = np.asarray(y, dtype=np.float64)
    lo = np.asarray(y - hi, dtype=np.float64)
    return hi, np.where(np.isfinite(hi), lo, 0.0)


def _f64(a: Arr) -> Arr:
    return np.asarray(a, dtype=np.float64)


def apply_function(function: DDFunction, x: Value, *, in_mpmath: bool) -> Value:
    """f(x), with f(u + r) = f(u) + f'(u)·r restoring the argument's bits beyond long
    double; the bound adds libm's error, |f'|·err(x) and |f''|·(err + r)²/2. With
    ``in_mpmath`` (long double no wider than a double) f comes from per-point mpmath."""
    u, residual = _to_long(x)
    need_slope = residual is not None or not is_zero(x.err)
    if in_mpmath:
        hi, lo = _mpmath_apply(function.name, x)
        y = np.asarray(hi, dtype=np.longdouble)
        residual = None
    else:
        y = function.value(u)
    y64 = _f64(y)
    err: Arr = _MPMATH_ERROR * np.abs(y64) if in_mpmath else function.ulps * _ulp(y64)
    if need_slope:
        rest = 0.0 if residual is None else np.abs(_f64(residual))
        if function.fast is not None and not in_mpmath:
            shift = np.abs(np.asarray(x.lo, dtype=np.float64))
            slope, slope_error, curvature = function.fast(_f64(x.hi), shift, y64)
            slope_bound = np.abs(slope) + slope_error
            correction = sum_terms(slope_error * rest, 2.0**-60 * slope_bound * rest)
        else:
            slope = function.derivative(u, y)
            slope_bound = np.abs(_f64(slope))
            curvature = np.abs(_f64(function.second(u, y, slope)))
            correction = 0.0 if residual is None else 2.0**-60 * slope_bound * rest
        if residual is not None:
            y = y + slope * residual
        spread = sum_terms(x.err, rest)
        err = sum_terms(
            err,
            0.0 if is_zero(x.err) else slope_bound * x.err,
            0.5 * curvature * spread * spread,
            correction,
        )
    if not in_mpmath:
        hi, lo = _from_long(y)
    nan = any_flag(
        x.nan,
        below(x, function.low) if function.low > -math.inf else None,
        above(x, function.high) if function.high < math.inf else None,
    )
    edges = [straddles(x, edge) for edge in (function.low, function.high) if math.isfinite(edge)]
    if function.open_edges:
        edges += [x.hi == edge for edge in (function.low, function.high) if math.isfinite(edge)]
    return finish(hi, lo, err, nan, any_flag(x.unsure, *edges))


def finish(hi: Arr, lo: Arr, err: Arr, nan: Arr, unsure: Arr) -> Value:
    """A function's value with NaN where the domain says so, and points outside
    float64's comfortable range (overflow, a low word lost to underflow) left to mpmath."""
    if nan is not None:
        hi = np.where(nan, np.nan, hi)
        lo = np.where(nan, 0.0, lo)
    magnitude = np.abs(hi)
    strange = ~(magnitude < np.inf) | ((magnitude < TINY) & (magnitude > 0))
    if nan is not None:
        strange = strange & ~nan
    return Value(hi, lo, err, nan, any_flag(unsure, strange))


def _mpmath_apply(name: str, x: Value) -> tuple[Arr, Arr]:
    """f at each point's double-double argument in 160-bit mpmath, as a double-double:
    the function path where long double is only a double."""
    import mpmath
    import sympy

    from autograd_cli.truth.sympy_functions import extra

    function = mpmath_ops.mpmath_functions()[getattr(sympy, name, None) or getattr(extra(), name)]
    hi_in = np.atleast_1d(np.asarray(x.hi, dtype=np.float64))
    lo_in = np.broadcast_to(np.asarray(x.lo, dtype=np.float64), hi_in.shape)
    hi, lo = np.empty(hi_in.shape), np.empty(hi_in.shape)
    with mpmath.workprec(160):
        for i, (h, low) in enumerate(zip(hi_in.tolist(), lo_in.tolist(), strict=True)):
            hi[i], lo[i] = point.double_double(function(mpmath.mpf(h) + mpmath.mpf(low)))
    return hi, lo


def power(base: Value, exponent: Value, *, in_mpmath: bool) -> Value:
    """base**exponent for a non-integer or variable exponent, by powl, with mpmath's
    real-power rules: a negative base needs an integer exponent, 0**negative is NaN.
    ``in_mpmath`` as for :func:`apply_function`."""
    ub, rb = _to_long(base)
    ue, re = _to_long(exponent)
    log_b = np.log(np.abs(ub))
    by_base = ue / ub
    if in_mpmath:
        hi, lo = _mpmath_power(base, exponent)
        y = np.asarray(hi, dtype=np.longdouble)
        rb = re = None
    else:
        y = np.power(ub, ue)
        if rb is not None or re is not None:
            y = y + y * sum_terms(
                0.0 if rb is None else by_base * rb, 0.0 if re is None else log_b * re
            )
        hi, lo = _from_long(y)
    magnitude = np.abs(hi)
    s_base, s_exp = np.abs(_f64(by_base)), np.abs(_f64(log_b))
    first = sum_terms(
        0.0 if is_zero(base.err) else s_base * base.err,
        0.0 if is_zero(exponent.err) else s_exp * exponent.err,
    )
    spread = sum_terms(
        first,
        0.0 if rb is None else s_base * np.abs(_f64(rb)),
        0.0 if re is None else s_exp * np.abs(_f64(re)),
    )
    err = sum_terms(
        _MPMATH_ERROR * magnitude if in_mpmath else _POW_ULPS * _ulp(hi),
        0.0 if is_zero(first) else magnitude * first,
        0.0 if is_zero(spread) else magnitude * spread * (spread + 2.0**-60),
    )

    e = _f64(exponent.hi)
    e_width = exponent.width()
    integer = (np.floor(e) == e) & (np.abs(e) < 2.0**62)
    if not exponent.exact:
        integer = integer & (e_width == 0)
    maybe_integer = np.floor(e + e_width) >= np.ceil(e - e_width)
    base_zero = (base.hi == 0) if base.exact else (base.hi == 0) & (base.width() == 0)
    negative = below(base, 0.0)
    nan = any_flag(
        base.nan,
        exponent.nan,
        None if negative is None else negative & ~maybe_integer,
        base_zero & (e + e_width < 0),
    )
    unsure = any_flag(
        base.unsure,
        exponent.unsure,
        straddles(base, 0.0),
        None if negative is None else negative & maybe_integer & ~integer,
        base_zero & (e - e_width <= 0) & (e + e_width >= 0) & ~((e == 0) & (e_width == 0)),
    )
    zero_value = base_zero & (e - e_width > 0)
    hi, lo = np.where(zero_value, 0.0, hi), np.where(zero_value, 0.0, lo)
    err = np.where(zero_value, 0.0, err)
    return finish(hi, lo, err, nan, unsure)


def _mpmath_power(base: Value, exponent: Value) -> tuple[Arr, Arr]:
    import mpmath

    shape = np.broadcast_shapes(np.shape(base.hi), np.shape(exponent.hi)) or (1,)
    columns = [
        np.broadcast_to(np.asarray(a, dtype=np.float64), shape).tolist()
        for a in (base.hi, base.lo, exponent.hi, exponent.lo)
    ]
    hi, lo = np.empty(shape), np.empty(shape)
    with mpmath.workprec(160):
        for i, (bh, bl, eh, el) in enumerate(zip(*columns, strict=True)):
            base, exponent = mpmath.mpf(bh) + mpmath.mpf(bl), mpmath.mpf(eh) + mpmath.mpf(el)
            value = mpmath_ops.mp_pow(base, exponent)
            hi[i], lo[i] = point.double_double(mpmath_ops.mp_real(value))
    return hi, lo
