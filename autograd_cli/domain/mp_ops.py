"""Our tree's operations on mpmath, at the current precision, with the reference's
real-function semantics: NaN where a function is undefined (a pole, an argument
outside its domain), never an exception for a bad point.

Why a module of its own: the exact look (:mod:`.exact`) evaluates OUR tree, not
SymPy's, so that a point is undefined exactly where every framework computes NaN; it
needs every function of the grammar, parameters (exact Fractions turned into mpf by
the caller) after the inputs. Imported only when a point needs an exact look.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from autograd_cli.expr.functions import SELU_ALPHA, SELU_SCALE

#: tanh approximation of gelu: sqrt(2/pi)*(x + 0.044715*x**3), as frameworks write it.
_GELU_NUMERATOR, _GELU_DENOMINATOR = 44715, 10**6


@functools.lru_cache(maxsize=1)
def mp_ops() -> dict[str, Callable[..., Any]]:
    import mpmath

    from autograd_cli.truth.mpmath_ops import guarded, hyperbolic, mp_exp, mp_pow, trig

    nan = mpmath.mpf("nan")

    def div(a: Any, b: Any) -> Any:
        return nan if b == 0 else a / b

    def safe(function: Callable[..., Any]) -> Callable[..., Any]:
        """NaN in, NaN out; NaN where mpmath raises or the value is not real (the
        poles are NaN explicitly: log1p(-1), atanh(1) are no numbers here)."""

        def call(*args: Any) -> Any:
            if any(a != a for a in args):
                return nan
            try:
                value = function(*args)
            except (ZeroDivisionError, ValueError, OverflowError):
                return nan
            if isinstance(value, mpmath.mpc):
                value = value.real if value.imag == 0 else nan
            return value

        return call

    def pole(x: Any) -> bool:
        return bool(x <= 0 and mpmath.isint(x))

    def softplus(a: Any) -> Any:
        return a + mpmath.log1p(mp_exp(-a)) if a > 0 else mpmath.log1p(mp_exp(a))

    def sigmoid(a: Any) -> Any:
        return 1 / (1 + mp_exp(-a))

    def elu(a: Any, alpha: Any) -> Any:
        return a if a > 0 else alpha * mpmath.expm1(a) if a > -(2**40) else -alpha

    def gelu_tanh(a: Any) -> Any:
        c = mpmath.mpf(_GELU_NUMERATOR) / _GELU_DENOMINATOR
        inner = mpmath.sqrt(2 / mpmath.pi) * (a + c * a**3)
        return a / (1 + mp_exp(-2 * inner))

    def clip(a: Any, lo: Any, hi: Any) -> Any:
        return min(max(a, lo), hi)

    def atan2(y: Any, x: Any) -> Any:
        return nan if x == 0 and y == 0 else mpmath.atan2(y, x)

    def xlogy(x: Any, y: Any) -> Any:
        if x == 0:
            return mpmath.mpf(0)
        return nan if y == 0 else x * mpmath.log(y)

    alpha, scale = (
        mpmath.mpf(SELU_ALPHA.numerator) / SELU_ALPHA.denominator,
        mpmath.mpf(SELU_SCALE.numerator) / SELU_SCALE.denominator,
    )
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
        "sigmoid": guarded(sigmoid),
        "asinh": safe(mpmath.asinh),
        "acosh": safe(lambda a: nan if a < 1 else mpmath.acosh(a)),
        "atanh": safe(lambda a: nan if abs(a) >= 1 else mpmath.atanh(a)),
        "expm1": safe(lambda a: mpmath.expm1(a) if a < 2**40 else mpmath.inf),
        "log1p": safe(lambda a: nan if a <= -1 else mpmath.log1p(a)),
        "erf": safe(mpmath.erf),
        "erfc": safe(mpmath.erfc),
        "erfinv": safe(lambda a: nan if abs(a) >= 1 else mpmath.erfinv(a)),
        "lgamma": safe(lambda a: nan if pole(a) else mpmath.re(mpmath.loggamma(a))),
        "digamma": safe(lambda a: nan if pole(a) else mpmath.digamma(a)),
        "rsqrt": safe(lambda a: nan if a <= 0 else 1 / mpmath.sqrt(a)),
        "square": lambda a: a * a,
        "sign": safe(mpmath.sign),
        "floor": safe(mpmath.floor),
        "softplus": safe(softplus),
        "log_sigmoid": safe(lambda a: -softplus(-a)),
        "relu": safe(lambda a: max(a, 0)),
        "relu6": safe(lambda a: min(max(a, 0), 6)),
        "leaky_relu": safe(lambda a, slope: a if a >= 0 else slope * a),
        "elu": safe(elu),
        "selu": safe(lambda a: scale * elu(a, alpha)),
        "silu": safe(lambda a: a * sigmoid(a)),
        "gelu": safe(lambda a: a / 2 * mpmath.erfc(-a / mpmath.sqrt(2))),
        "gelu_tanh": safe(gelu_tanh),
        "softsign": safe(lambda a: a / (1 + abs(a))),
        "hard_sigmoid": safe(lambda a: min(max(a + 3, 0), 6) / 6),
        "mish": safe(lambda a: a * mpmath.tanh(softplus(a))),
        "minimum": safe(min),
        "maximum": safe(max),
        "clip": safe(clip),
        "atan2": safe(atan2),
        "hypot": safe(mpmath.hypot),
        "xlogy": safe(xlogy),
        "sinc": safe(lambda a: mpmath.mpf(1) if a == 0 else mpmath.sincpi(a)),
    }
