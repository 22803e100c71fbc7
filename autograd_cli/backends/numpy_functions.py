"""The activation and special functions in numpy and scipy.special, for finite differences.

Two tables: :func:`real_functions`, evaluated in the compared dtype (the 2-byte formats
go through float32 where scipy has no loop for them, and are rounded back), and
:func:`complex_functions`, their extensions off the real line for the complex step.

Why the complex step can take the kinked functions too: ``relu``, ``clip``, ``maximum``
and the rest are analytic on each side of their kinks, so choosing the piece by the
real part (``where(real(z) > 0, z, 0)``) gives an extension that is analytic wherever
the real function is differentiable, and ``Im f(x + ih) / h`` is exact there; at the
kink itself it gives one side, where the exact derivative does not exist anyway. The
same trick removes a constant imaginary part that would swamp the step: ``lgamma`` is
``log|gamma|``, so for x < 1/2 it is written with the reflection formula and the sign
of ``sin(pi z)`` taken out (its argument reduced by the nearest integer first, which is
exact, so that near the poles it is not the rounding of ``pi * z``). ``erfinv`` has no
complex implementation in scipy, so an expression with it gets central differences
(:data:`NOT_ANALYTIC`).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from autograd_cli.core.dtypes import round_to
from autograd_cli.expr.functions import SELU_ALPHA, SELU_SCALE
from autograd_cli.expr.walk import num_as_float

#: Functions with no complex extension here: expressions using one get central differences.
NOT_ANALYTIC: frozenset[str] = frozenset({"abs", "erfinv"})

_NAN = complex(math.nan, math.nan)

Op = Callable[..., Any]


def _special() -> Any:
    """scipy.special, imported when first used (it has no type stubs)."""
    return importlib.import_module("scipy.special")


def _scipy(name: str) -> Op:
    """A scipy.special function kept in the argument's dtype; the 2-byte formats are
    computed in float32 (scipy has no loop for them) and rounded back."""

    def op(*args: Any) -> Any:
        func = getattr(_special(), name)
        arrays = [np.asarray(a) for a in args]
        kind = np.result_type(*arrays)
        if kind.kind == "c":
            return func(*arrays)
        wide = [a.astype(np.float32) if a.dtype.itemsize < 4 else a for a in arrays]
        return np.asarray(func(*wide)).astype(kind)

    return op


def real_functions(dtype: str) -> dict[str, Op]:
    """The new functions on real arrays of ``dtype``; parameters (Fractions) rounded to it."""

    def c(value: float | Fraction) -> Any:
        return round_to(num_as_float(Fraction(value)), dtype)[()]

    zero, half, one, three, six = c(0), c(Fraction(1, 2)), c(1), c(3), c(6)
    alpha, scale = c(SELU_ALPHA), c(SELU_SCALE)
    root_half = round_to(math.sqrt(0.5), dtype)[()]
    tanh_scale = round_to(math.sqrt(2 / math.pi), dtype)[()]
    cubic = c(Fraction("0.044715"))
    erfc = _scipy("erfc")

    def softplus(a: Any) -> Any:
        return np.logaddexp(zero, a)

    def sigmoid(a: Any) -> Any:
        return one / (one + np.exp(-a))

    def relu6(a: Any) -> Any:
        return np.minimum(np.maximum(a, zero), six)

    return {
        "log1p": np.log1p,
        "expm1": np.expm1,
        "asinh": np.arcsinh,
        "acosh": np.arccosh,
        "atanh": np.arctanh,
        "erf": _scipy("erf"),
        "erfc": erfc,
        "erfinv": _scipy("erfinv"),
        "lgamma": _scipy("gammaln"),
        "digamma": _scipy("psi"),
        "xlogy": _scipy("xlogy"),
        "softplus": softplus,
        "log_sigmoid": lambda a: -softplus(-a),
        "relu": lambda a: np.maximum(a, zero),
        "relu6": relu6,
        "leaky_relu": lambda a, slope: np.where(a >= 0, a, c(slope) * a),
        "elu": lambda a, k: np.where(a > 0, a, c(k) * np.expm1(a)),
        "selu": lambda a: scale * np.where(a > 0, a, alpha * np.expm1(a)),
        "silu": lambda a: a * sigmoid(a),
        "gelu": lambda a: a * half * erfc(-a * root_half),
        "gelu_tanh": lambda a: half * a * (one + np.tanh(tanh_scale * (a + cubic * a**3))),
        "softsign": lambda a: a / (one + np.abs(a)),
        "hard_sigmoid": lambda a: relu6(a + three) / six,
        "mish": lambda a: a * np.tanh(softplus(a)),
        "minimum": np.minimum,
        "maximum": np.maximum,
        "clip": lambda a, lo, hi: np.minimum(np.maximum(a, c(lo)), c(hi)),
        "atan2": np.arctan2,
        "hypot": np.hypot,
        "sinc": np.sinc,
        "sign": np.sign,
        "floor": np.floor,
        "square": np.square,
        "rsqrt": lambda a: one / np.sqrt(a),
    }


def _where_real(condition: Any, func: Op) -> Op:
    def op(*args: Any) -> Any:
        return np.where(condition(*(np.real(a) for a in args)), func(*args), _NAN)

    return op


def complex_functions(dtype: str) -> dict[str, Op]:
    """The new functions off the real line: analytic extensions, the piece chosen by the
    real part for the kinked ones, NaN where the real part is outside the domain."""
    real = real_functions(dtype)

    def c(value: float | Fraction) -> Any:
        return round_to(num_as_float(Fraction(value)), dtype)[()]

    zero, one, six = c(0), c(1), c(6)
    alpha, scale = c(SELU_ALPHA), c(SELU_SCALE)

    def softplus(z: Any) -> Any:
        return np.where(np.real(z) > 0, z + np.log1p(np.exp(-z)), np.log1p(np.exp(z)))

    def sigmoid(z: Any) -> Any:
        return one / (one + np.exp(-z))

    def clip(z: Any, lo: Any, hi: Any) -> Any:
        re = np.real(z)
        return np.where(re < lo, lo + 0 * z, np.where(re > hi, hi + 0 * z, z))

    def lgamma(z: Any) -> Any:
        loggamma = _special().loggamma
        s = np.sin(np.pi * (z - np.round(np.real(z))))  # reduced: pi*z would round
        reflected = math.log(math.pi) - np.log(np.sign(np.real(s)) * s) - loggamma(one - z)
        return np.where(np.real(z) >= 0.5, loggamma(z), reflected)

    def atan2(y: Any, x: Any) -> Any:
        ry, rx = np.real(y), np.real(x)
        right = np.arctan(y / x)
        up = np.pi / 2 - np.arctan(x / y)
        down = -np.pi / 2 - np.arctan(x / y)
        left = np.pi + np.arctan(y / x)  # y = 0, x < 0: on the cut, d/dy still exists
        return np.where(rx > 0, right, np.where(ry > 0, up, np.where(
            ry < 0, down, np.where(rx < 0, left, _NAN))))

    def hypot(x: Any, y: Any) -> Any:
        m = np.maximum(np.abs(np.real(x)), np.abs(np.real(y)))
        safe = np.where(m > 0, m, 1)
        return np.where(m > 0, safe * np.sqrt((x / safe) ** 2 + (y / safe) ** 2), _NAN)

    def piece(positive: Op, negative: Op) -> Op:
        return lambda z: np.where(np.real(z) > 0, positive(z), negative(z))

    return {
        **real,
        "log1p": _where_real(lambda r: r > -1, np.log1p),
        "acosh": _where_real(lambda r: r > 1, np.arccosh),
        "atanh": _where_real(lambda r: np.abs(r) < 1, np.arctanh),
        "erfinv": lambda z: np.where(np.imag(z) == 0, real["erfinv"](np.real(z)), _NAN),
        "lgamma": lgamma,
        "xlogy": _where_real(lambda rx, ry: ry > 0, real["xlogy"]),
        "softplus": softplus,
        "log_sigmoid": lambda z: -softplus(-z),
        "relu": piece(lambda z: z, lambda z: zero * z),
        "relu6": lambda z: clip(z, zero, six),
        "leaky_relu": lambda z, slope: np.where(np.real(z) >= 0, z, c(slope) * z),
        "elu": lambda z, k: piece(lambda w: w, lambda w: c(k) * np.expm1(w))(z),
        "selu": lambda z: scale * piece(lambda w: w, lambda w: alpha * np.expm1(w))(z),
        "silu": lambda z: z * sigmoid(z),
        "softsign": lambda z: z / (one + np.where(np.real(z) >= 0, z, -z)),
        "hard_sigmoid": lambda z: clip(z + c(3), zero, six) / six,
        "mish": lambda z: z * np.tanh(softplus(z)),
        "minimum": lambda x, y: np.where(np.real(x) <= np.real(y), x, y),
        "maximum": lambda x, y: np.where(np.real(x) >= np.real(y), x, y),
        "clip": lambda z, lo, hi: clip(z, c(lo), c(hi)),
        "atan2": atan2,
        "hypot": hypot,
        "sign": lambda z: np.sign(np.real(z)) + 0 * z,
        "floor": lambda z: np.floor(np.real(z)) + 0 * z,
        "square": lambda z: z * z,
        "rsqrt": _where_real(lambda r: r > 0, lambda z: one / np.sqrt(z)),
    }
