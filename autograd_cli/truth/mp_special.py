"""mpmath evaluators for the special and piecewise functions (erf, lgamma, polygamma,
Max/Min, floor, sinc, xlogy, ...), with real-function semantics.

Its own module so that :mod:`~autograd_cli.truth.mpmath_ops` stays the tree compiler;
the rules are the same: NaN where the function is undefined (a pole of lgamma, erfinv
beyond ±1, a jump of floor's derivative), ±inf where it diverges, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Arguments of exp-like functions beyond this give their limit outright (as mpmath_ops).
_HUGE = 2**40

#: |pi*x| below this: sinc's derivatives by their Taylor series (no 0/0 at 0).
_SERIES_RADIUS = 1


def _nan() -> Any:
    import mpmath

    return mpmath.mpf("nan")


def _real(value: Any) -> Any:
    import mpmath

    if isinstance(value, mpmath.mpc):
        return value.real if value.imag == 0 else _nan()
    return value


def _safe(function: Callable[..., Any]) -> Callable[..., Any]:
    """NaN in, NaN out; an undefined point (mpmath raises) is NaN."""

    def call(*args: Any) -> Any:
        if any(a != a for a in args):
            return _nan()
        try:
            return _real(function(*args))
        except (ZeroDivisionError, ValueError, OverflowError):
            return _nan()

    return call


def _is_pole(x: Any) -> bool:
    import mpmath

    return bool(x <= 0 and mpmath.isint(x))


def _lgamma(x: Any) -> Any:
    """log|gamma(x)|: the real part of mpmath's loggamma (its imaginary part is
    k*pi for negative x)."""
    import mpmath

    if _is_pole(x) or mpmath.isinf(x):
        return mpmath.inf if x == mpmath.inf else _nan()
    return mpmath.re(mpmath.loggamma(x))


def _polygamma(n: Any, x: Any) -> Any:
    import mpmath

    if _is_pole(x) or mpmath.isinf(x):
        return _nan() if x != mpmath.inf else (mpmath.inf if n == 0 else mpmath.mpf(0))
    return mpmath.psi(int(n), x)


def _expm1(x: Any) -> Any:
    import mpmath

    if abs(x) > _HUGE:
        return mpmath.inf if x > 0 else mpmath.mpf(-1)
    return mpmath.expm1(x)


def _max(*args: Any) -> Any:
    return _nan() if any(a != a for a in args) else max(args)


def _min(*args: Any) -> Any:
    return _nan() if any(a != a for a in args) else min(args)


def _dirac_comb(x: Any) -> Any:
    """floor's derivative: 0 off the integers, undefined (NaN) on them."""
    import mpmath

    return _nan() if x != x or not mpmath.isfinite(x) or mpmath.isint(x) else mpmath.mpf(0)


def _xlogy(x: Any, y: Any) -> Any:
    import mpmath

    if x != x or y != y:
        return _nan()
    if x == 0:
        return mpmath.mpf(0)
    return x * mpmath.log(y)


def sinc_derivative(n: Any, x: Any) -> Any:
    """d^n/dx^n sin(pi*x)/(pi*x): a Taylor series near 0 (where the closed form is
    0/0), Leibniz's rule on sin(t)*(1/t) elsewhere (its cancellation is what the
    adaptive precision of the point reference is for), with sinpi so that sinc is
    exactly 0 at the integers."""
    import mpmath

    n = int(n)
    if x != x:
        return x
    if mpmath.isinf(x):
        return mpmath.mpf(0)
    t = mpmath.pi * x
    scale = mpmath.pi**n
    if abs(t) < _SERIES_RADIUS:
        # g(t) = sum (-1)^k t^(2k)/(2k+1)!, so g^(n)(t) = sum (-1)^k t^(2k-n)/((2k+1)(2k-n)!)
        total = mpmath.mpf(0)
        k = (n + 1) // 2
        limit = mpmath.ldexp(1, -mpmath.mp.prec - 8)
        while True:
            term = (-1) ** k * t ** (2 * k - n) / ((2 * k + 1) * mpmath.factorial(2 * k - n))
            total += term
            if abs(term) <= limit * max(abs(total), limit):
                return scale * total
            k += 1
    if mpmath.mag(t) > 2**16:
        return _nan()
    total = mpmath.mpf(0)
    for j in range(n + 1):
        trig = mpmath.sinpi(x + mpmath.mpf(n - j) / 2)  # exact 0 and ±1 at integers
        total += mpmath.binomial(n, j) * trig * (-1) ** j * mpmath.factorial(j) / t ** (j + 1)
    return scale * total


def special_functions() -> dict[Any, Callable[..., Any]]:
    """SymPy function class -> evaluator, for the classes our special functions and
    their derivatives contain."""
    import mpmath
    import sympy

    from autograd_cli.truth.sympy_functions import extra

    x = extra()
    return {
        sympy.erf: _safe(mpmath.erf),
        sympy.erfc: _safe(mpmath.erfc),
        sympy.erfinv: _safe(mpmath.erfinv),
        sympy.polygamma: _safe(_polygamma),
        sympy.Max: _max,
        sympy.Min: _min,
        sympy.atan2: _safe(mpmath.atan2),
        x.lgamma: _safe(_lgamma),
        x.log1p: _safe(mpmath.log1p),
        x.expm1: _safe(_expm1),
        x.floor: _safe(mpmath.floor),
        x.DiracComb: _dirac_comb,
        x.xlogy: _safe(_xlogy),
        x.sinc: _safe(lambda a: sinc_derivative(0, a)),
        x.sinc_derivative: _safe(sinc_derivative),
    }
