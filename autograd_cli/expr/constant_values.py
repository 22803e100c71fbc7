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
    "exp": math.exp,
    "log": math.log,
    "log2": math.log2,
    "log10": math.log10,
    "sqrt": math.sqrt,
    "abs": abs,
    "sigmoid": _sigmoid,
}
CONST_VALUES = {"pi": math.pi, "e": math.e}


def call_value(func: str, args: list[float]) -> float | None:
    """None when unknown or undefined (a domain error is the backends' business)."""
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
