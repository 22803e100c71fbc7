"""Float estimates of constant subtrees, so an overflowing constant is refused early.

Why floats: ``9**9**9**9`` computed with Python integers would never finish; float
arithmetic reports overflow at once. The estimate only decides whether a constant is
too large (or an exponent beyond the limit); it never becomes part of the tree.
"""

from __future__ import annotations

import math
from collections.abc import Callable


class Overflow(Exception):
    pass


def _checked(result: float) -> float | None:
    if math.isinf(result):
        raise Overflow
    return None if math.isnan(result) else result


def binary_value(op: str, a: float, b: float) -> float | None:
    try:
        if op == "add":
            return _checked(a + b)
        if op == "sub":
            return _checked(a - b)
        if op == "mul":
            return _checked(a * b)
        if op == "div":
            return _checked(a / b)
        return _checked(math.pow(a, b))
    except OverflowError:
        raise Overflow from None
    except (ZeroDivisionError, ValueError):
        return None


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _erfinv(x: float) -> float:
    """Newton on erf from a rough start; undefined (ValueError) outside (-1, 1)."""
    if not -1.0 < x < 1.0:
        raise ValueError("erfinv is finite only inside (-1, 1)")
    y = math.copysign(math.sqrt(-math.log((1.0 - x) * (1.0 + x))), x) * 0.8
    for _ in range(60):
        step = (math.erf(y) - x) / (2.0 / math.sqrt(math.pi) * math.exp(-y * y))
        y -= step
        if abs(step) <= 1e-15 * max(abs(y), 1e-300):
            break
    return y


def _digamma(x: float) -> float:
    """The recurrence up to x >= 10, then the asymptotic series (about 1e-12)."""
    if x <= 0 and x == math.floor(x):
        raise ValueError("digamma has poles at 0, -1, -2, ...")
    if x < 0:  # reflection: psi(1 - x) - psi(x) = pi*cot(pi*x)
        return _digamma(1.0 - x) - math.pi / math.tan(math.pi * x)
    total = 0.0
    while x < 10:
        total -= 1.0 / x
        x += 1.0
    inv2 = 1.0 / (x * x)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240))))
    return total + math.log(x) - 0.5 / x - series


def _elu(x: float, alpha: float) -> float:
    return x if x > 0 else alpha * math.expm1(x)


def _sinc(x: float) -> float:
    return 1.0 if x == 0 else math.sin(math.pi * x) / (math.pi * x)


def _gelu_tanh(x: float) -> float:
    inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
    return 0.5 * x * (1.0 + math.tanh(inner))


#: SELU's constants (the table holds them exactly; two floats are enough here).
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805

_FLOAT_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "asinh": math.asinh,
    "acosh": math.acosh,
    "atanh": math.atanh,
    "exp": math.exp,
    "expm1": math.expm1,
    "log": math.log,
    "log1p": math.log1p,
    "log2": math.log2,
    "log10": math.log10,
    "sqrt": math.sqrt,
    "rsqrt": lambda x: 1.0 / math.sqrt(x),
    "square": lambda x: x * x,
    "abs": abs,
    "sign": lambda x: float((x > 0) - (x < 0)),
    "floor": lambda x: float(math.floor(x)),
    "atan2": math.atan2,
    "hypot": math.hypot,
    "minimum": min,
    "maximum": max,
    "clip": lambda x, lo, hi: min(max(x, lo), hi),
    "xlogy": lambda x, y: 0.0 if x == 0 else x * math.log(y),
    "sinc": _sinc,
    "erf": math.erf,
    "erfc": math.erfc,
    "erfinv": _erfinv,
    "lgamma": math.lgamma,
    "digamma": _digamma,
    "sigmoid": _sigmoid,
    "log_sigmoid": lambda x: -_softplus(-x),
    "softplus": _softplus,
    "relu": lambda x: max(x, 0.0),
    "relu6": lambda x: min(max(x, 0.0), 6.0),
    "leaky_relu": lambda x, slope: x if x >= 0 else slope * x,
    "elu": _elu,
    "selu": lambda x: _SELU_SCALE * _elu(x, _SELU_ALPHA),
    "silu": lambda x: x * _sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1.0 + math.erf(x / math.sqrt(2))),
    "gelu_tanh": _gelu_tanh,
    "softsign": lambda x: x / (1.0 + abs(x)),
    "hard_sigmoid": lambda x: min(max(x + 3.0, 0.0), 6.0) / 6.0,
    "mish": lambda x: x * math.tanh(_softplus(x)),
}
CONST_VALUES = {"pi": math.pi, "e": math.e}


def call_value(func: str, args: list[float]) -> float | None:
    """None when unknown or undefined (a domain error is the backends' business);
    ``args`` are the inputs then the parameters, as floats."""
    impl = _FLOAT_FUNCTIONS.get(func)
    if impl is None:
        return None
    try:
        return _checked(float(impl(*args)))
    except OverflowError:
        raise Overflow from None
    except (ValueError, ZeroDivisionError, TypeError):
        return None


def format_value(value: float) -> str:
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.6g}"
