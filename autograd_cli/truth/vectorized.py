"""The exact reference for sweeps: millions of points in seconds, not minutes.

Why not :func:`~.point.reference`: it evaluates every point in adaptive mpmath, about
50 µs per point and function, so a 10^6-point sweep would wait a minute for its truth.
Here the same SymPy trees (f and its partials, never ``lambdify``) are walked once into
a program over numpy arrays that computes, for all points of a block at once:

* ``+ - * /``, integer powers and square roots in double-double arithmetic (a pair of
  float64, ~106 bits) built from error-free transformations: two-sum and Dekker's
  two-product with Veltkamp splitting (numpy has no FMA);
* every other function (sin, exp, log, atan, powl for x**(1/3), ...) in numpy's
  ``longdouble`` (x87 80-bit on x86-64: a 64-bit mantissa), on the double-double
  argument rounded to 64 bits plus a first-order correction ``f'(u)·(u - u64)``, so the
  argument's extra bits are not lost;
* with every value, a running bound on its absolute error (rounding of each operation,
  libm's error taken as 1 to 4 long-double ULPs by function, inputs' errors propagated
  through |f'|, second-order terms through |f''|), and flags for points whose result is
  certainly NaN (sqrt(-1), asin(2): the real-function semantics of the mpmath
  reference) or cannot be trusted (overflow, a discontinuity or a domain edge within
  the error bound).

A point is accepted when its bound is at most 2**-bits of its value (:data:`ACCEPT_BITS`
by dtype), or it is an exact zero, or certainly NaN; every other point, typically a few
near a zero of the result where cancellation eats the relative accuracy, is recomputed
with the exact adaptive mpmath :func:`~.point.reference`. So every point's reference is
right to that many bits or better, for float32 and float64 sweeps alike.

Where ``longdouble`` is no wider than float64 (MSVC, some ARM builds) the functions are
evaluated per point in mpmath instead (slower; :data:`FUNCTIONS_IN_MPMATH` says so).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_cli.expr.nodes import Expr
from autograd_cli.truth import mpmath_ops, point, symbolic
from autograd_cli.truth.deadline import Deadline

if TYPE_CHECKING:
    import sympy

#: A point is accepted when its error bound is at most 2**-bits of its value: far
#: beyond float32's 24 bits (and float16's 11, bfloat16's 8), and 5 bits beyond
#: float64's 53 (a ULP error is then known to 1/32 ULP).
ACCEPT_BITS: dict[str, int] = {"float16": 48, "bfloat16": 48, "float32": 48, "float64": 58}

#: Mantissa bits of numpy's long double here (64 on x86-64 Linux and macOS-x86, 53 where
#: it is just a double).
LONG_DOUBLE_BITS = int(np.finfo(np.longdouble).nmant) + 1

#: Whether function values come from per-point mpmath because long double is too narrow.
FUNCTIONS_IN_MPMATH = LONG_DOUBLE_BITS < 64

#: Points per block: big enough that numpy's per-call overhead vanishes, small enough
#: that the ~30 temporaries of a double-double operation stay in cache.
BLOCK = 1 << 15

_U = 2.0**-53  # unit roundoff of float64
_SPLITTER = 134217729.0  # 2**27 + 1
_TINY = 2.0**-968  # below this a double-double's low word loses bits
_DENORMAL_ERROR = 2.0**-1070


# --------------------------------------------------------------------------- values

Arr = Any  # a float64 (or bool) ndarray over the block's points, or a scalar constant


@dataclass
class _Value:
    """A double-double ``hi + lo`` with a bound on its absolute error and per-point
    flags; a flag of None means False everywhere."""

    hi: Arr
    lo: Arr
    err: Arr
    nan: Arr = None  # certainly NaN: a real-domain violation upstream
    unsure: Arr = None  # not to be trusted here: recompute with mpmath

    @property
    def exact(self) -> bool:
        return _zero(self.err) and _zero(self.lo)

    def width(self) -> Arr:
        """How far the true value may be from ``hi``."""
        return 0.0 if self.exact else np.abs(self.lo) + self.err


def _zero(a: Arr) -> bool:
    """A scalar zero: known exact for every point, so its terms can be skipped."""
    return not isinstance(a, np.ndarray) and a == 0


def _or(*flags: Arr) -> Arr:
    present = [f for f in flags if f is not None and (isinstance(f, np.ndarray) or f)]
    if not present:
        return None
    result = present[0]
    for flag in present[1:]:
        result = result | flag
    return result


def _sum(*terms: Arr) -> Arr:
    """A sum of error terms that stays a scalar 0 when every term is one."""
    present = [t for t in terms if not _zero(t)]
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
    small = np.abs(result) < _TINY
    if not isinstance(small, np.ndarray):
        return _DENORMAL_ERROR if small and all(np.all(f != 0) for f in factors) else 0.0
    if not small.any():
        return 0.0
    for f in factors:
        small = small & (f != 0)
    return np.where(small, _DENORMAL_ERROR, 0.0)


def _add(x: _Value, y: _Value) -> _Value:
    s, e = two_sum(x.hi, y.hi)
    nan, unsure = _or(x.nan, y.nan), _or(x.unsure, y.unsure)
    if _zero(x.lo) and _zero(y.lo):
        return _Value(s, e, _sum(x.err, y.err), nan, unsure)
    if _zero(x.lo) or _zero(y.lo):
        t = y.lo if _zero(x.lo) else x.lo
        e2 = e + t
        rounding = _U * np.abs(e2)
    else:
        t = x.lo + y.lo
        e2 = e + t
        rounding = _U * (np.abs(t) + np.abs(e2))
    hi, lo = two_sum(s, e2)
    return _Value(hi, lo, _sum(x.err, y.err, rounding), nan, unsure)


def _scale(x: _Value, c: float) -> _Value:
    """x times a power of two (-1 included): exact, barring overflow and underflow."""
    hi = x.hi * c
    err = x.err if _zero(x.err) else x.err * abs(c)
    if abs(c) < 1:
        err = _sum(err, _underflow(hi, x.hi))
    return _Value(hi, x.lo * c, err, x.nan, x.unsure)


def _power_of_two(v: _Value) -> float | None:
    if isinstance(v.hi, np.ndarray) or not v.exact or not math.isfinite(v.hi):
        return None
    return float(v.hi) if v.hi != 0 and abs(math.frexp(v.hi)[0]) == 0.5 else None


def _mul(x: _Value, y: _Value) -> _Value:
    for a, b in ((x, y), (y, x)):
        c = _power_of_two(b)
        if c is not None:
            return _scale(a, c)
    p, e = two_prod(x.hi, y.hi) if x is not y else two_prod(x.hi, x.hi)
    nan, unsure = _or(x.nan, y.nan), _or(x.unsure, y.unsure)
    propagated = _sum(
        0.0 if _zero(y.err) else np.abs(x.hi) * y.err,
        0.0 if _zero(x.err) else np.abs(y.hi) * x.err,
        0.0 if _zero(x.err) or _zero(y.err) else x.err * y.err,
    )
    if not _zero(propagated):
        propagated = propagated * (1 + 2.0**-50)
    if _zero(x.lo) and _zero(y.lo):
        return _Value(p, e, _sum(propagated, _underflow(p, x.hi, y.hi)), nan, unsure)
    cross = _sum(0.0 if _zero(y.lo) else x.hi * y.lo, 0.0 if _zero(x.lo) else x.lo * y.hi)
    hi, lo = _fast_two_sum(p, e + cross)
    rounding = 8 * _U * _U * np.abs(hi) + _underflow(hi, x.hi, y.hi)
    return _Value(hi, lo, _sum(propagated, rounding), nan, unsure)


def _div(x: _Value, y: _Value, *, zero_is_nan: bool) -> _Value:
    """x / y. Dividing by an exact zero gives NaN for ``zero_is_nan`` (mpmath's
    ``0**-n``); otherwise that point is recomputed (``acot(0)`` is finite)."""
    q1 = x.hi / y.hi
    p, e = two_prod(q1, y.hi)
    s, f = two_sum(x.hi, -p)
    tail = f - e
    if not _zero(x.lo):
        tail = tail + x.lo
    if not _zero(y.lo):
        tail = tail - q1 * y.lo
    hi, lo = _fast_two_sum(q1, (s + tail) / y.hi)
    exact_zero = (y.hi == 0) if _zero(y.err) else (y.hi == 0) & (y.err == 0)
    doubtful = None
    propagated = x.err
    if not _zero(y.err):
        margin = np.abs(y.hi) - y.err
        doubtful = (margin <= 0) & ~exact_zero
        propagated = _sum(x.err, np.abs(hi) * y.err) / margin
    elif not _zero(x.err):
        propagated = x.err / np.abs(y.hi)
    if not _zero(propagated):
        propagated = propagated * (1 + 2.0**-50)
    rounding = 16 * _U * _U * np.abs(hi) + _underflow(hi, x.hi)
    if zero_is_nan:
        nan, unsure = _or(x.nan, y.nan, exact_zero), _or(x.unsure, y.unsure, doubtful)
    else:
        nan, unsure = _or(x.nan, y.nan), _or(x.unsure, y.unsure, doubtful, exact_zero)
    return _Value(_where(nan, np.nan, hi), lo, _sum(propagated, rounding), nan, unsure)


def _sqrt(x: _Value) -> _Value:
    """Double-double square root: one Newton step from the float64 root (Karp)."""
    s = np.sqrt(np.maximum(x.hi, 0.0))
    p, e = two_prod(s, s)
    r = (x.hi - p) - e
    if not _zero(x.lo):
        r = r + x.lo
    positive = s > 0
    hi, lo = _fast_two_sum(s, np.where(positive, r / np.where(positive, 2 * s, 1.0), 0.0))
    nan = _or(x.nan, _below(x, 0.0))
    unsure = _or(x.unsure, (x.hi > 0) & (x.hi < _TINY))
    propagated: Arr = 0.0
    if not _zero(x.err):
        doubtful = (x.err > 0) & (x.hi < 2 * x.err)
        unsure = _or(unsure, doubtful if nan is None else doubtful & ~nan)
        propagated = x.err / np.where(positive, hi, np.inf)
    rounding = 4 * _U * _U * np.abs(hi)
    return _Value(_where(nan, np.nan, hi), lo, _sum(propagated, rounding), nan, unsure)


def _below(x: _Value, bound: float) -> Arr:
    """Points where x is certainly below ``bound`` (its whole error interval is)."""
    flag = (x.hi + x.width()) < bound
    return flag if isinstance(flag, np.ndarray) or flag else None


def _above(x: _Value, bound: float) -> Arr:
    flag = (x.hi - x.width()) > bound
    return flag if isinstance(flag, np.ndarray) or flag else None


def _straddles(x: _Value, point: float) -> Arr:
    """Points whose error interval holds ``point`` without x being exactly it."""
    if x.exact:
        return None
    width = x.width()
    return (x.hi - width <= point) & (x.hi + width >= point) & (width > 0)


def _integer_power(x: _Value, n: int) -> _Value:
    """x**n by repeated squaring; a negative n is a reciprocal (0**-n is NaN)."""
    result: _Value | None = None
    base = x
    k = abs(n)
    while k:
        if k & 1:
            result = base if result is None else _mul(result, base)
        k >>= 1
        if k:
            base = _mul(base, base)
    assert result is not None
    return result if n > 0 else _div(_Value(1.0, 0.0, 0.0), result, zero_is_nan=True)


def _abs(x: _Value) -> _Value:
    negative = x.hi < 0
    return _Value(np.where(negative, -x.hi, x.hi), np.where(negative, -x.lo, x.lo), x.err,
                  x.nan, x.unsure)


def _step(kind: str, x: _Value, at_zero: _Value | None = None) -> _Value:
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
            nan = _or(nan, zero)
        else:
            value = np.where(zero, at_zero.hi, value)
    else:
        value = np.zeros_like(hi)
        nan = _or(nan, zero)
    value = np.where(np.isnan(hi), np.nan, _where(nan, np.nan, value))
    return _Value(value, 0.0, 0.0, nan, _or(x.unsure, doubt))


# --------------------------------------------------------------------------- functions


@dataclass(frozen=True)
class _Function:
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


def _functions() -> dict[str, _Function]:
    one, two = np.longdouble(1), np.longdouble(2)

    def same(u: Arr, y: Arr, d: Arr = None) -> Arr:
        return y

    def cubed(u: Arr, y: Arr, d: Arr) -> Arr:
        return u * d * d * d

    def squared(u: Arr, y: Arr, d: Arr) -> Arr:
        return two * u * d * d

    table = (
        _Function("sin", np.sin, lambda u, y: np.cos(u), same, 1.5),
        _Function("cos", np.cos, lambda u, y: -np.sin(u), same, 1.5),
        _Function("tan", np.tan, lambda u, y: one + y * y, lambda u, y, d: two * y * d, 2.0),
        _Function("asin", np.arcsin, lambda u, y: one / np.sqrt(one - u * u), cubed, 1.5,
                  low=-1.0, high=1.0),
        _Function("acos", np.arccos, lambda u, y: -one / np.sqrt(one - u * u), cubed, 2.0,
                  low=-1.0, high=1.0),
        _Function("atan", np.arctan, lambda u, y: one / (one + u * u), squared, 1.0),
        _Function("sinh", np.sinh, lambda u, y: np.cosh(u), same, 3.0),
        _Function("cosh", np.cosh, lambda u, y: np.sinh(u), same, 3.0),
        _Function("tanh", np.tanh, lambda u, y: one / np.cosh(u) ** 2,
                  lambda u, y, d: two * y * d, 3.5),
        _Function("asinh", np.arcsinh, lambda u, y: one / np.sqrt(one + u * u), cubed, 3.5),
        _Function("acosh", np.arccosh, lambda u, y: one / np.sqrt(u * u - one), cubed, 3.0,
                  low=1.0),
        _Function("atanh", np.arctanh, lambda u, y: one / (one - u * u), squared, 4.0,
                  low=-1.0, high=1.0, open_edges=True),
        _Function("exp", np.exp, lambda u, y: y, same, 1.5),
        _Function("log", np.log, lambda u, y: one / u, lambda u, y, d: d * d, 1.5, low=0.0,
                  open_edges=True),
    )
    return {f.name: f for f in table}


_FUNCTIONS = _functions()

#: Reciprocal functions: ("of", g) is 1/g(u), ("arg", g) is g(1/u), the division done
#: in double-double.
_RECIPROCALS: dict[str, tuple[str, str]] = {
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


def _to_long(x: _Value) -> tuple[Arr, Arr]:
    """x in long double, and what rounding it to long double left out (None: nothing)."""
    hi = np.asarray(x.hi, dtype=np.longdouble)
    if _zero(x.lo):
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


def _apply(function: _Function, x: _Value) -> _Value:
    """f(x), with f(u + r) = f(u) + f'(u)·r restoring the argument's bits beyond long
    double; the bound adds libm's error, |f'|·err(x) and |f''|·(err + r)²/2."""
    u, residual = _to_long(x)
    need_slope = residual is not None or not _zero(x.err)
    if FUNCTIONS_IN_MPMATH:
        hi, lo = _mpmath_apply(function.name, x)
        y = np.asarray(hi, dtype=np.longdouble)
        residual = None
    else:
        y = function.value(u)
    y64 = _f64(y)
    err: Arr = _MPMATH_ERROR * np.abs(y64) if FUNCTIONS_IN_MPMATH else function.ulps * _ulp(y64)
    if need_slope:
        slope = function.derivative(u, y)
        if residual is not None:
            y = y + slope * residual
        spread = _sum(x.err, 0.0 if residual is None else np.abs(_f64(residual)))
        slope_bound = np.abs(_f64(slope))
        curvature = np.abs(_f64(function.second(u, y, slope)))
        err = _sum(
            err,
            0.0 if _zero(x.err) else slope_bound * x.err,
            0.5 * curvature * spread * spread,
            0.0 if residual is None else 2.0**-60 * slope_bound * np.abs(_f64(residual)),
        )
    if not FUNCTIONS_IN_MPMATH:
        hi, lo = _from_long(y)
    nan = _or(x.nan, _below(x, function.low) if function.low > -math.inf else None,
              _above(x, function.high) if function.high < math.inf else None)
    edges = [_straddles(x, edge) for edge in (function.low, function.high) if math.isfinite(edge)]
    if function.open_edges:
        edges += [x.hi == edge for edge in (function.low, function.high) if math.isfinite(edge)]
    return _finish(hi, lo, err, nan, _or(x.unsure, *edges))


def _finish(hi: Arr, lo: Arr, err: Arr, nan: Arr, unsure: Arr) -> _Value:
    """A function's value with NaN where the domain says so, and points outside
    float64's comfortable range (overflow, a low word lost to underflow) left to mpmath."""
    if nan is not None:
        hi = np.where(nan, np.nan, hi)
        lo = np.where(nan, 0.0, lo)
    magnitude = np.abs(hi)
    strange = ~(magnitude < np.inf) | ((magnitude < _TINY) & (magnitude > 0))
    if nan is not None:
        strange = strange & ~nan
    return _Value(hi, lo, err, nan, _or(unsure, strange))


def _mpmath_apply(name: str, x: _Value) -> tuple[Arr, Arr]:
    """f at each point's double-double argument in 160-bit mpmath, as a double-double:
    the function path where long double is only a double."""
    import mpmath
    import sympy

    function = mpmath_ops.mpmath_functions()[getattr(sympy, name)]
    hi_in = np.atleast_1d(np.asarray(x.hi, dtype=np.float64))
    lo_in = np.broadcast_to(np.asarray(x.lo, dtype=np.float64), hi_in.shape)
    hi, lo = np.empty(hi_in.shape), np.empty(hi_in.shape)
    with mpmath.workprec(160):
        for i, (h, low) in enumerate(zip(hi_in.tolist(), lo_in.tolist(), strict=True)):
            hi[i], lo[i] = point.double_double(function(mpmath.mpf(h) + mpmath.mpf(low)))
    return hi, lo


def _power(base: _Value, exponent: _Value) -> _Value:
    """base**exponent for a non-integer or variable exponent, by powl, with mpmath's
    real-power rules: a negative base needs an integer exponent, 0**negative is NaN."""
    ub, rb = _to_long(base)
    ue, re = _to_long(exponent)
    log_b = np.log(np.abs(ub))
    by_base = ue / ub
    if FUNCTIONS_IN_MPMATH:
        hi, lo = _mpmath_power(base, exponent)
        y = np.asarray(hi, dtype=np.longdouble)
        rb = re = None
    else:
        y = np.power(ub, ue)
        if rb is not None or re is not None:
            y = y + y * _sum(0.0 if rb is None else by_base * rb, 0.0 if re is None else log_b * re)
        hi, lo = _from_long(y)
    magnitude = np.abs(hi)
    s_base, s_exp = np.abs(_f64(by_base)), np.abs(_f64(log_b))
    first = _sum(0.0 if _zero(base.err) else s_base * base.err,
                 0.0 if _zero(exponent.err) else s_exp * exponent.err)
    spread = _sum(first, 0.0 if rb is None else s_base * np.abs(_f64(rb)),
                  0.0 if re is None else s_exp * np.abs(_f64(re)))
    err = _sum(_MPMATH_ERROR * magnitude if FUNCTIONS_IN_MPMATH else _POW_ULPS * _ulp(hi),
               0.0 if _zero(first) else magnitude * first,
               0.0 if _zero(spread) else magnitude * spread * (spread + 2.0**-60))

    e = _f64(exponent.hi)
    e_width = exponent.width()
    integer = (np.floor(e) == e) & (np.abs(e) < 2.0**62)
    if not exponent.exact:
        integer = integer & (e_width == 0)
    maybe_integer = np.floor(e + e_width) >= np.ceil(e - e_width)
    base_zero = (base.hi == 0) if base.exact else (base.hi == 0) & (base.width() == 0)
    negative = _below(base, 0.0)
    nan = _or(base.nan, exponent.nan,
              None if negative is None else negative & ~maybe_integer,
              base_zero & (e + e_width < 0))
    unsure = _or(base.unsure, exponent.unsure, _straddles(base, 0.0),
                 None if negative is None else negative & maybe_integer & ~integer,
                 base_zero & (e - e_width <= 0) & (e + e_width >= 0) & ~((e == 0) & (e_width == 0)))
    zero_value = base_zero & (e - e_width > 0)
    hi, lo = np.where(zero_value, 0.0, hi), np.where(zero_value, 0.0, lo)
    err = np.where(zero_value, 0.0, err)
    return _finish(hi, lo, err, nan, unsure)


def _mpmath_power(base: _Value, exponent: _Value) -> tuple[Arr, Arr]:
    import mpmath

    shape = np.broadcast_shapes(np.shape(base.hi), np.shape(exponent.hi)) or (1,)
    columns = [np.broadcast_to(np.asarray(a, dtype=np.float64), shape).tolist()
               for a in (base.hi, base.lo, exponent.hi, exponent.lo)]
    hi, lo = np.empty(shape), np.empty(shape)
    with mpmath.workprec(160):
        for i, (bh, bl, eh, el) in enumerate(zip(*columns, strict=True)):
            base, exponent = mpmath.mpf(bh) + mpmath.mpf(bl), mpmath.mpf(eh) + mpmath.mpf(el)
            value = mpmath_ops.mp_pow(base, exponent)
            hi[i], lo[i] = point.double_double(mpmath_ops.mp_real(value))
    return hi, lo


# --------------------------------------------------------------------------- compiling


class Unsupported(Exception):
    """A SymPy node with no vectorized rule: the caller falls back to mpmath."""


Step = Callable[..., _Value]


class Program:
    """SymPy trees compiled once into a list of array operations (a subtree shared by
    f and its partials is one step); :meth:`run` evaluates them over one block."""

    def __init__(self, targets: Mapping[str, sympy.Basic]) -> None:
        self.steps: list[tuple[Step, tuple[int, ...]]] = []
        self._seen: dict[Any, int] = {}
        self.outputs = {key: self._node(_rewrite(e)) for key, e in targets.items()}

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, _Value]:
        values: list[_Value] = []
        with np.errstate(all="ignore"):
            for op, args in self.steps:
                values.append(op(inputs, *(values[i] for i in args)))
        return {key: values[i] for key, i in self.outputs.items()}

    def _emit(self, key: Any, op: Step, *args: int) -> int:
        self.steps.append((op, args))
        self._seen[key] = len(self.steps) - 1
        return len(self.steps) - 1

    def _node(self, e: sympy.Basic) -> int:
        import sympy

        if e in self._seen:
            return self._seen[e]
        if isinstance(e, sympy.Symbol):
            name = e.name
            return self._emit(e, lambda inputs: _Value(inputs[name], 0.0, 0.0))
        if not e.free_symbols:
            constant = _constant(e)
            return self._emit(e, lambda inputs: constant)
        if isinstance(e, (sympy.Add, sympy.Mul)):
            combine = _add if isinstance(e, sympy.Add) else _mul
            args = sorted(e.args, key=lambda a: (bool(a.free_symbols), sympy.default_sort_key(a)))
            index = self._node(args[0])
            for arg in args[1:]:
                index = self._emit(("partial", e, index, arg),
                                   lambda inputs, a, b, f=combine: f(a, b),
                                   index, self._node(arg))
            self._seen[e] = index
            return index
        if isinstance(e, sympy.Pow):
            return self._pow(e)
        name = type(e).__name__.lower()
        if name in _FUNCTIONS and len(e.args) == 1:
            return self._emit(e, lambda inputs, x, f=_FUNCTIONS[name]: _apply(f, x),
                              self._node(e.args[0]))
        if name in _RECIPROCALS and len(e.args) == 1:
            how, inner = _RECIPROCALS[name]
            g = _FUNCTIONS[inner]
            if how == "of":
                value = self._emit(("of", e), lambda inputs, x, f=g: _apply(f, x),
                                   self._node(e.args[0]))
                return self._emit(e, lambda inputs, x: _div(_Value(1.0, 0.0, 0.0), x,
                                                            zero_is_nan=False), value)
            flipped = self._emit(("arg", e), lambda inputs, x: _div(_Value(1.0, 0.0, 0.0), x,
                                                                    zero_is_nan=False),
                                 self._node(e.args[0]))
            return self._emit(e, lambda inputs, x, f=g: _apply(f, x), flipped)
        if name == "abs" and len(e.args) == 1:
            return self._emit(e, lambda inputs, x: _abs(x), self._node(e.args[0]))
        if name in ("sign", "heaviside") or (name == "diracdelta" and len(e.args) == 1):
            operands = [self._node(a) for a in e.args]
            return self._emit(e, lambda inputs, *xs, k=name: _step(k, *xs), *operands)
        raise Unsupported(f"no vectorized rule for SymPy's {type(e).__name__}")

    def _pow(self, e: sympy.Pow) -> int:
        import sympy

        base = self._node(e.base)
        exponent = e.exp
        if isinstance(exponent, sympy.Integer):
            n = int(exponent)
            return self._emit(e, lambda inputs, x: _integer_power(x, n), base)
        if exponent == sympy.S.Half:
            return self._emit(e, lambda inputs, x: _sqrt(x), base)
        if exponent == -sympy.S.Half:
            return self._emit(e, lambda inputs, x: _div(_Value(1.0, 0.0, 0.0), _sqrt(x),
                                                        zero_is_nan=True), base)
        return self._emit(e, lambda inputs, b, x: _power(b, x), base, self._node(exponent))


def _constant(e: sympy.Basic) -> _Value:
    """A subtree without symbols, exact for rationals, else from 256-bit mpmath; the
    rounding to a double-double is its error."""
    import mpmath
    import sympy

    if isinstance(e, sympy.Rational):
        exact = Fraction(int(e.p), int(e.q))
        try:
            hi = float(exact)
            lo = float(exact - Fraction(hi))
        except OverflowError:
            return _Value(math.inf if exact > 0 else -math.inf, 0.0, 0.0, unsure=True)
        rest = abs(exact - Fraction(hi) - Fraction(lo))
        return _Value(hi, lo, 0.0 if rest == 0 else float(rest) * 2)
    with mpmath.workprec(256):
        value = mpmath_ops.mp_real(mpmath_ops.compile_mpmath(e)({}))
        hi, lo = point.double_double(value)
        if math.isnan(hi):
            return _Value(hi, 0.0, 0.0, nan=True)
        if not math.isfinite(hi):
            return _Value(hi, 0.0, 0.0, unsure=True)
        rest = abs(value - mpmath.mpf(hi) - mpmath.mpf(lo))
    return _Value(hi, lo, float(rest) * 2 + abs(hi) * 2.0**-240)


def _rewrite(e: sympy.Basic) -> sympy.Basic:
    """SymPy writes tanh' as ``c - c*tanh(u)**2``, which cancels to nothing once
    tanh(u) rounds to ±1 (|u| > 22); ``c*sech(u)**2`` is the same function without the
    cancellation. Only our compiled copy changes; the text shown is SymPy's."""
    import sympy

    if not e.args:
        return e
    args = [_rewrite(a) for a in e.args]
    if isinstance(e, sympy.Add):
        for term in args:
            if not isinstance(term, sympy.Mul):
                continue
            rest = [a for a in term.args if not a.is_Number]
            if not (len(rest) == 1 and isinstance(rest[0], sympy.Pow) and rest[0].exp == 2
                    and isinstance(rest[0].base, sympy.tanh)):
                continue
            coefficient = sympy.Mul(*[a for a in term.args if a.is_Number])
            number = next((a for a in args if a.is_Number and a == -coefficient), None)
            if number is None:
                continue
            others = [a for a in args if a is not term and a is not number]
            sech = sympy.Mul(number, sympy.Pow(sympy.sech(rest[0].base.args[0]), 2),
                             evaluate=False)
            return sympy.Add(*others, sech, evaluate=False) if others else sech
    if all(a is b for a, b in zip(args, e.args, strict=True)):
        return e
    return e.func(*args, evaluate=False)


# --------------------------------------------------------------------------- public API


@dataclass
class SweepTruth:
    """The exact f (when asked for) and partials at one chunk's points, as float64
    double-doubles, and how many points had to be recomputed in mpmath."""

    values: tuple[np.ndarray, np.ndarray] | None
    derivatives: dict[str, tuple[np.ndarray, np.ndarray]]
    recomputed: int = 0


class SweepReference:
    """The vectorized reference for one expression: compiled once, called per chunk.

    ``values=False`` skips f itself (a summary needs only the derivatives). If the
    expression holds a node with no vectorized rule, :attr:`fallback` says why and
    every point goes to mpmath.
    """

    def __init__(
        self, expr: Expr, wrt: tuple[str, ...], *, values: bool = True, bits: int = 58
    ) -> None:
        self.expr = expr
        self.wrt = wrt  # labels: "x", "x,x", "x,y"
        self.values = values
        self.bits = bits
        self._limit = 2.0**-bits * (1 - 2.0**-40)  # the bound's own float64 rounding
        f = symbolic.to_sympy(expr)
        partials = {name: symbolic.differentiate(f, name) for name in wrt}
        self.expression = symbolic.format_sympy(f)
        self.derivative_expressions = {k: symbolic.format_sympy(v) for k, v in partials.items()}
        targets = {f"d{k}": v for k, v in partials.items()}
        if values:
            targets["f"] = f
        self.fallback: str | None = None
        self.program: Program | None = None
        try:
            self.program = Program(targets)
        except Unsupported as error:
            self.fallback = str(error)

    def __call__(
        self, inputs: Mapping[str, np.ndarray], *, deadline: Deadline | None = None
    ) -> SweepTruth:
        """Inputs: one float64 array per variable (the points as the backends saw them).
        With a ``deadline``, raises ReferenceTimeout rather than run past it."""
        n = len(next(iter(inputs.values())))
        keys = ([] if not self.values else ["f"]) + [f"d{k}" for k in self.wrt]
        hi = {key: np.empty(n) for key in keys}
        lo = {key: np.empty(n) for key in keys}
        accepted = np.ones(n, dtype=bool)
        columns = {name: np.ascontiguousarray(a, dtype=np.float64) for name, a in inputs.items()}
        if self.program is None:
            accepted[:] = False
        else:
            for start in range(0, n, BLOCK):
                if deadline is not None:
                    deadline.doing = f"double-double reference, {start:,} of {n:,} points done"
                    deadline.check()
                stop = min(start + BLOCK, n)
                block = {name: a[start:stop] for name, a in columns.items()}
                results = self.program.run(block)
                for key in keys:
                    h, low, ok = _accept(results[key], stop - start, self._limit)
                    hi[key][start:stop] = h
                    lo[key][start:stop] = low
                    accepted[start:stop] &= ok
        redo = np.flatnonzero(~accepted)
        if redo.size:
            ref = point.reference(
                self.expr, {name: a[redo] for name, a in columns.items()}, self.wrt,
                deadline=deadline,
            )
            if self.values:
                hi["f"][redo], lo["f"][redo] = ref.values, ref.values_lo
            for k in self.wrt:
                hi[f"d{k}"][redo], lo[f"d{k}"][redo] = ref.derivatives[k], ref.derivatives_lo[k]
        return SweepTruth(
            values=(hi["f"], lo["f"]) if self.values else None,
            derivatives={k: (hi[f"d{k}"], lo[f"d{k}"]) for k in self.wrt},
            recomputed=int(redo.size),
        )


def _accept(v: _Value, n: int, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block's (hi, lo) and which points meet the accuracy target."""
    shape = (n,)
    hi = np.broadcast_to(np.asarray(v.hi, dtype=np.float64), shape)
    lo = np.broadcast_to(np.asarray(v.lo, dtype=np.float64), shape)
    err = np.broadcast_to(np.asarray(v.err, dtype=np.float64), shape)
    with np.errstate(all="ignore"):
        ok = np.isfinite(hi) & np.isfinite(lo) & (err <= limit * np.abs(hi))
    if v.nan is not None:
        ok = ok | np.broadcast_to(v.nan, shape)
    if v.unsure is not None:
        ok = ok & ~np.broadcast_to(v.unsure, shape)
    return hi, np.where(np.isfinite(hi), lo, 0.0), ok


def reference(
    expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], *, bits: int = 58
) -> point.Reference:
    """What :func:`autograd_cli.truth.point.reference` gives, to ``bits`` bits, vectorized."""
    evaluator = SweepReference(expr, wrt, bits=bits)
    truth = evaluator(inputs)
    assert truth.values is not None
    return point.Reference(
        expression=evaluator.expression,
        derivative_expressions=dict(evaluator.derivative_expressions),
        values=truth.values[0],
        values_lo=truth.values[1],
        derivatives={k: v[0] for k, v in truth.derivatives.items()},
        derivatives_lo={k: v[1] for k, v in truth.derivatives.items()},
        precision_bits=bits,
    )
