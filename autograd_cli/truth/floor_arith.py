"""The noise floor's two arithmetics: float64 numpy arrays and mpmath object arrays.

Why one class: the floor's jets are written once and run either vectorized in float64
(sweeps: fast, and float64's own rounding is far below any judged dtype's) or on mpmath
numbers at a higher working precision (a few points, where float64 itself would
overflow or cancel). ``+ - * abs`` and comparisons are numpy's operators in both; only
what may divide by zero, leave the reals or needs a library function goes through here,
so that mpmath never raises (an undefined point is NaN, as in numpy).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["FloorArith", "integer_power"]


def integer_power(z: Any, n: int) -> Any:
    """z ** n by repeated squaring: a few float64 roundings, far below any dtype's u,
    and some 100 times faster than numpy's power of a negative base to an integer."""
    result: Any = None
    base = z
    k = abs(n)
    while k:
        if k & 1:
            result = base if result is None else result * base
        k >>= 1
        if k:
            base = base * base
    if result is None:
        return np.ones_like(z)
    return 1.0 / result if n < 0 else result


def _mp_recip(z: Any) -> Any:
    import mpmath

    if z != z:
        return z
    return mpmath.inf if z == 0 else 1 / z


def _mp_power(z: Any, q: Any) -> Any:
    """Real power as numpy has it: 0 ** negative is inf, negative ** non-integer NaN."""
    import mpmath

    from autograd_cli.truth.mpmath_ops import mp_pow

    q = mpmath.mpf(q)
    if z != z or q != q:
        return mpmath.mpf("nan")
    if z == 0:
        return mpmath.mpf(0) if q > 0 else mpmath.mpf(1) if q == 0 else mpmath.inf
    return mp_pow(z, q)


def _mp_complex_recip(z: Any) -> Any:
    import mpmath

    if z == 0 or z != z:
        return mpmath.mpc("nan", "nan")
    return 1 / z


def _mp_guarded2(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def call(a: Any, b: Any) -> Any:
        import mpmath

        if a != a or b != b:
            return mpmath.mpf("nan")
        return function(a, b)

    return call


def _mp_lgamma(z: Any) -> Any:
    import mpmath

    if z <= 0 and mpmath.isint(z):
        return mpmath.inf
    return mpmath.log(abs(mpmath.gamma(z)))


def _mp_polygamma(n: int, z: Any) -> Any:
    import mpmath

    if z != z or (z <= 0 and mpmath.isint(z)):
        return mpmath.mpf("nan")
    return mpmath.polygamma(n, z)


def _mp_softplus(z: Any) -> Any:
    """log(1 + e**z) without overflow: max(z, 0) + log1p(e**-|z|)."""
    import mpmath

    from autograd_cli.truth.mpmath_ops import mp_exp

    return max(z, 0) + mpmath.log1p(mp_exp(-abs(z)))


def _mp_erfinv(z: Any) -> Any:
    import mpmath

    if abs(z) > 1:
        return mpmath.mpf("nan")
    if abs(z) == 1:
        return mpmath.inf * z
    return mpmath.erfinv(z)


def _np_softplus(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _mp_functions() -> dict[str, Callable[[Any], Any]]:
    import mpmath

    from autograd_cli.truth.mpmath_ops import hyperbolic, mp_exp, trig

    return {
        **{name: trig(name) for name in ("sin", "cos", "tan")},
        "sinh": hyperbolic("sinh"),
        "cosh": hyperbolic("cosh"),
        "tanh": mpmath.tanh,
        "exp": mp_exp,
        "expm1": lambda x: mpmath.expm1(x) if abs(x) < 2**40 else mp_exp(x) - 1,
        "log": mpmath.log,
        "log1p": mpmath.log1p,
        "log2": lambda x: mpmath.log(x) / mpmath.log(2),
        "log10": lambda x: mpmath.log(x) / mpmath.log(10),
        "asin": mpmath.asin,
        "acos": mpmath.acos,
        "atan": mpmath.atan,
        "asinh": mpmath.asinh,
        "acosh": mpmath.acosh,
        "atanh": mpmath.atanh,
        "sqrt": mpmath.sqrt,
        "sign": mpmath.sign,
        "floor": mpmath.floor,
        "erf": mpmath.erf,
        "erfc": mpmath.erfc,
        "erfinv": _mp_erfinv,
        "lgamma": _mp_lgamma,
        "softplus": _mp_softplus,
    }


#: B_2k / (2k)! ... as used by the asymptotic series of the polygamma functions.
_BERNOULLI = (
    Fraction(1, 6),
    Fraction(-1, 30),
    Fraction(1, 42),
    Fraction(-1, 30),
    Fraction(5, 66),
    Fraction(-691, 2730),
    Fraction(7, 6),
    Fraction(-3617, 510),
)


#: The asymptotic series of psi^(n) is used from here on (1e-12 relative for n <= 5).
_SHIFTED = 10.0


def _np_polygammas(x: np.ndarray, orders: range) -> list[np.ndarray]:
    """psi^(n)(x) for each n of ``orders``, float64, vectorized: the recurrence up to
    x >= 10 (shared by the orders), then the asymptotic series (scipy's polygamma costs
    a microsecond a point, ten times this). Points beyond the recurrence's reach
    (x < -60) go to scipy."""
    from scipy import special

    x = np.asarray(x, dtype=np.float64)
    far = x < -60
    near = np.where(far | ~np.isfinite(x), _SHIFTED, x)
    totals = [np.zeros_like(x) for _ in orders]
    steps = max(math.ceil(_SHIFTED - float(near.min(initial=_SHIFTED))), 0)
    for i in range(steps):  # psi^(n)(x) = psi^(n)(x + 1) + (-1)^(n+1) n! / x^(n+1)
        inverse = 1 / (near + i)
        power = integer_power(inverse, orders.start + 1)
        for j, n in enumerate(orders):
            totals[j] = totals[j] + (-1) ** (n + 1) * math.factorial(n) * power
            power = power * inverse
    finite = np.isfinite(x)
    totals = [np.where(finite, total, 0.0) for total in totals]
    y = np.where(finite, near + steps, np.where(x > 0, x, np.nan))
    pole = (x <= 0) & (x == np.floor(x))
    found = []
    for i, n in enumerate(orders):
        value = np.where(pole, np.nan, _np_asymptotic(n, y) + totals[i])
        if np.any(far):
            value = np.where(far, special.polygamma(n, np.where(far, x, 1.0)), value)
        found.append(value)
    return found


def _np_asymptotic(n: int, y: np.ndarray) -> np.ndarray:
    """psi^(n)(y) for y >= 10 by its asymptotic series (float64 accurate there)."""
    inverse = 1 / y
    square = inverse * inverse
    if n == 0:
        series = np.log(y) - inverse / 2
        power = square
        for k, b in enumerate(_BERNOULLI, 1):
            series = series - float(b) / (2 * k) * power
            power = power * square
        return series
    lead = integer_power(inverse, n)
    series = math.factorial(n - 1) * lead + math.factorial(n) / 2 * lead * inverse
    power = lead * square
    for k, b in enumerate(_BERNOULLI, 1):
        ratio = math.factorial(2 * k + n - 1) / math.factorial(2 * k)
        series = series + float(b) * ratio * power
        power = power * square
    return (-1) ** (n + 1) * series


def _np_functions() -> dict[str, Callable[[Any], Any]]:
    from scipy import special

    found: dict[str, Callable[[Any], Any]] = {
        name: getattr(np, name)
        for name in ("sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "expm1", "log")
    }
    found.update(
        {name: getattr(np, name) for name in ("log1p", "log2", "log10", "sqrt", "sign", "floor")}
    )
    found.update(asin=np.arcsin, acos=np.arccos, atan=np.arctan)
    found.update(asinh=np.arcsinh, acosh=np.arccosh, atanh=np.arctanh)
    found.update(erf=special.erf, erfc=special.erfc, erfinv=special.erfinv)
    found.update(lgamma=special.gammaln, softplus=_np_softplus)
    return found


class FloorArith:
    """Elementwise arithmetic on float64 arrays (``exact=False``) or mpmath object arrays."""

    def __init__(self, exact: bool) -> None:
        self.exact = exact
        if exact:
            import mpmath

            from autograd_cli.truth.mpmath_ops import guarded

            self._funcs = {k: np.frompyfunc(guarded(f), 1, 1) for k, f in _mp_functions().items()}
            self._recip = np.frompyfunc(_mp_recip, 1, 1)
            self._power = np.frompyfunc(_mp_power, 2, 1)
            self._isnan = np.frompyfunc(mpmath.isnan, 1, 1)
            self._float = np.frompyfunc(float, 1, 1)
            self._real = np.frompyfunc(mpmath.re, 1, 1)
            self._crecip = np.frompyfunc(_mp_complex_recip, 1, 1)
            self._funcs2 = {
                "atan2": np.frompyfunc(_mp_guarded2(mpmath.atan2), 2, 1),
                "hypot": np.frompyfunc(_mp_guarded2(mpmath.hypot), 2, 1),
            }
        else:
            self._funcs = _np_functions()
            self._funcs2 = {"atan2": np.arctan2, "hypot": np.hypot}

    def scalar(self, value: Fraction | float) -> Any:
        """A constant: nearest float64 (±inf beyond), or mpf at the working precision."""
        if self.exact:
            import mpmath

            if isinstance(value, Fraction):
                return mpmath.mpf(value.numerator) / value.denominator
            return mpmath.mpf(value)
        if isinstance(value, Fraction):
            try:
                return float(value)
            except OverflowError:
                return math.inf if value > 0 else -math.inf
        return float(value)

    def named(self, name: str) -> Any:
        """pi, e, sqrt(pi), sqrt(2): irrational constants at the working precision."""
        if self.exact:
            import mpmath

            return {
                "pi": +mpmath.pi,
                "e": +mpmath.e,
                "sqrtpi": mpmath.sqrt(mpmath.pi),
                "sqrt2": mpmath.sqrt(2),
            }[name]
        return {"pi": math.pi, "e": math.e, "sqrtpi": math.sqrt(math.pi), "sqrt2": math.sqrt(2)}[
            name
        ]

    def array(self, values: np.ndarray) -> Any:
        array = np.asarray(values, dtype=np.float64)
        if not self.exact:
            return array
        import mpmath

        return np.array([mpmath.mpf(v) for v in array.tolist()], dtype=object)

    def log_of(self, base: int) -> Any:
        if self.exact:
            import mpmath

            return mpmath.log(base)
        return math.log(base)

    def func(self, name: str, z: Any) -> Any:
        return self._funcs[name](z)

    def polygammas(self, z: Any, orders: range) -> list[Any]:
        """psi^(n)(z) for each n of ``orders`` (psi^(0) is digamma)."""
        if self.exact:
            return [np.frompyfunc(functools.partial(_mp_polygamma, n), 1, 1)(z) for n in orders]
        return _np_polygammas(z, orders)

    def func2(self, name: str, a: Any, b: Any) -> Any:
        """atan2(a, b) or hypot(a, b)."""
        return self._funcs2[name](a, b)

    def complex_recip(self, z: Any) -> Any:
        if self.exact:
            return self._crecip(z)
        return 1.0 / np.asarray(z, dtype=np.complex128)

    def real(self, z: Any) -> Any:
        if self.exact:
            return self._real(z)
        return np.real(z)

    def recip(self, z: Any) -> Any:
        if self.exact:
            return self._recip(z)
        return 1.0 / np.asarray(z, dtype=np.float64)

    def power(self, z: Any, q: Any) -> Any:
        if not self.exact and isinstance(q, Fraction) and q.denominator == 1 and abs(q) <= 16:
            return integer_power(np.asarray(z, dtype=np.float64), int(q))  # np.power is slow
        if isinstance(q, Fraction):
            q = self.scalar(q)
        if self.exact:
            return self._power(z, q)
        return np.power(np.asarray(z, dtype=np.float64), q)

    def where(self, condition: Any, a: Any, b: Any) -> Any:
        """Elementwise choice; object arrays stay object arrays."""
        chosen = np.where(self.truth(condition), a, b)
        return chosen if self.exact else np.asarray(chosen, dtype=np.float64)

    def truth(self, value: Any) -> np.ndarray:
        return np.asarray(value, dtype=bool)

    def isnan(self, value: Any) -> np.ndarray:
        if self.exact:
            return self.truth(self._isnan(value))
        return np.isnan(np.asarray(value, dtype=np.float64))

    def to_float(self, value: Any) -> np.ndarray:
        if self.exact:
            return np.asarray(self._float(value), dtype=np.float64)
        return np.asarray(value, dtype=np.float64)
