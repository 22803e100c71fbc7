"""The ML and special functions in float64 numpy, for the screen and the range scan:
each one's value, a bound on how far an error in its argument moves it (its slope),
and its partials by its inputs.

Why a module of its own: the screen (:mod:`.screen`) and the range scan
(:mod:`.range_scan`) both walk the tree in numpy and need the same thirty-odd
functions; the elementary ones stay where they were. Parameters arrive after the
inputs as numpy scalars or arrays (``clip(x, lo, hi)``: ``u, lo, hi``). scipy is
imported when a special function is met.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_cli.expr.functions import SELU_ALPHA, SELU_SCALE

_ALPHA, _SCALE = float(SELU_ALPHA), float(SELU_SCALE)
_SQRT_2_PI = math.sqrt(2 / math.pi)
_TWO_SQRT_PI = 2 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_GELU_C = 0.044715

#: Functions that are 0 only where their (finite) input is 0: a 0 elsewhere is an
#: underflow (silu(-800) is -800*e**-800).
ZERO_ONLY_AT_ZERO = frozenset({"silu", "gelu", "gelu_tanh", "mish", "softsign"})
#: Functions that are never 0 for a finite input: a 0 is an underflow
#: (erfc(30), softplus(-800), rsqrt of a huge number).
NEVER_ZERO = frozenset({"erfc", "softplus", "log_sigmoid", "rsqrt"})


def _special() -> Any:
    """scipy.special (through importlib: it ships no type stubs)."""
    import importlib

    return importlib.import_module("scipy.special")


def _psi(u: Any, n: int) -> Any:
    """digamma (n = 0) or trigamma (n = 1) in numpy, to about 1e-13: scipy's are 30 to
    100 times slower than sin at negative arguments (and erfinv outside [-1, 1]),
    too slow for a screen over a million points. Shifted to x >= 6 and summed
    asymptotically; negative x by reflection; NaN at the poles."""
    x = np.asarray(u, dtype=np.float64)
    with np.errstate(all="ignore"):
        negative = x < 0.5
        y = np.where(negative, 1 - x, x)
        total = np.zeros_like(y)
        for _ in range(6):
            small = y < 6
            total = total - np.where(small, (1 / y if n == 0 else -1 / (y * y)), 0.0)
            y = np.where(small, y + 1, y)
        w = 1 / (y * y)
        if n == 0:
            tail = 1 / 120 - w * (1 / 252 - w * (1 / 240 - w / 132))
            series = np.log(y) - 0.5 / y - w * (1 / 12 - w * tail)
        else:
            tail = 1 / 30 - w * (1 / 42 - w * (1 / 30 - w * 5 / 66))
            series = 1 / y + 0.5 * w + w / y * (1 / 6 - w * tail)
        value = series + total
        if negative.any():
            s = np.sin(np.pi * x)
            reflected = (
                value - np.pi * np.cos(np.pi * x) / s if n == 0 else np.pi**2 / (s * s) - value
            )
            pole = (x <= 0) & (x == np.round(x))
            value = np.where(negative, np.where(pole, np.nan, reflected), value)
    return value if np.ndim(u) else value[()]


def _erfinv(u: Any) -> Any:
    """erfinv, computed only inside (-1, 1) (scipy's is very slow outside)."""
    x = np.asarray(u, dtype=np.float64)
    inside = np.abs(x) < 1
    out = np.where(np.abs(x) == 1, np.copysign(np.inf, x), np.nan)
    out[inside] = _special().erfinv(x[inside])
    return out if np.ndim(u) else out[()]


def _sigmoid(u: Any) -> Any:
    return _special().expit(u)


def _softplus(u: Any) -> Any:
    return np.logaddexp(0.0, u)


def _elu(u: Any, alpha: Any) -> Any:
    return np.where(u > 0, u, alpha * np.expm1(np.minimum(u, 0.0)))


def _gelu_tanh_parts(u: Any) -> tuple[Any, Any]:
    """(value, derivative) of u/2*(1 + tanh(sqrt(2/pi)*(u + 0.044715*u**3)))."""
    inner = _SQRT_2_PI * (u + _GELU_C * u**3)
    t = np.tanh(inner)
    value = 0.5 * u * (1 + t)
    slope = 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * _SQRT_2_PI * (1 + 3 * _GELU_C * u * u)
    return value, slope


def _mish_parts(u: Any) -> tuple[Any, Any]:
    sp = _softplus(u)
    t = np.tanh(sp)
    return u * t, t + u * (1 - t * t) * _sigmoid(u)


def value(op: str, a: Sequence[Any]) -> Any:
    """``op`` of its arguments (inputs then parameters), in float64."""
    u = a[0]
    s: Any = _special() if op in ("erf", "erfc", "lgamma", "gelu") else None
    if op == "log1p":
        return np.log1p(u)
    if op == "expm1":
        return np.expm1(u)
    if op in ("erf", "erfc"):
        return getattr(s, op)(u)
    if op == "erfinv":
        return _erfinv(u)
    if op == "digamma":
        return _psi(u, 0)
    if op == "lgamma":
        return s.gammaln(u)
    if op in ("asinh", "acosh", "atanh"):
        return getattr(np, "arc" + op[1:])(u)
    if op == "softplus":
        return _softplus(u)
    if op == "log_sigmoid":
        return -_softplus(-u)
    if op == "relu":
        return np.maximum(u, 0.0)
    if op == "relu6":
        return np.clip(u, 0.0, 6.0)
    if op == "leaky_relu":
        return np.where(u >= 0, u, a[1] * u)
    if op == "elu":
        return _elu(u, a[1])
    if op == "selu":
        return _SCALE * _elu(u, _ALPHA)
    if op == "silu":
        return u * _sigmoid(u)
    if op == "gelu":
        return u * s.ndtr(u)
    if op == "gelu_tanh":
        return _gelu_tanh_parts(u)[0]
    if op == "softsign":
        return u / (1 + np.abs(u))
    if op == "hard_sigmoid":
        return np.clip(u + 3.0, 0.0, 6.0) / 6
    if op == "mish":
        return _mish_parts(u)[0]
    if op == "minimum":
        return np.minimum(u, a[1])
    if op == "maximum":
        return np.maximum(u, a[1])
    if op == "clip":
        return np.minimum(np.maximum(u, a[1]), a[2])
    if op == "atan2":
        return np.arctan2(u, a[1])
    if op == "hypot":
        return np.hypot(u, a[1])
    if op == "xlogy":
        return np.where(u == 0, 0.0, u * np.log(a[1]))
    if op == "sinc":
        return np.sinc(u)
    if op == "sign":
        return np.sign(u)
    if op == "floor":
        return np.floor(u)
    if op == "square":
        return u * u
    if op == "rsqrt":
        return 1 / np.sqrt(u)
    if op == "sigmoid":
        return _sigmoid(u)
    raise ValueError(f"no float64 value for {op!r}")


def partials(op: str, a: Sequence[Any], r: Any) -> list[Any]:
    """The partial of ``op`` (value ``r``) by each input; parameters get None."""
    u = a[0]
    if op in ("minimum", "maximum", "atan2", "hypot", "xlogy"):
        v = a[1]
        if op in ("minimum", "maximum"):
            first = (u < v) if op == "minimum" else (u > v)
            tie = 0.5 * (u == v)
            return [first + tie, (~first & (u != v)) + tie]
        if op == "atan2":  # atan2(y, x): (x, -y)/(x**2 + y**2)
            square = u * u + v * v
            return [v / square, -u / square]
        if op == "hypot":
            return [u / r, v / r]
        return [np.log(v), u / v]
    rest: list[Any] = [None] * (len(a) - 1)
    return [_slope(op, a, r), *rest]


def _slope(op: str, a: Sequence[Any], r: Any) -> Any:
    u = a[0]
    if op == "log1p":
        return 1 / (1 + u)
    if op == "expm1":
        return r + 1
    if op in ("erf", "erfc"):
        return (1 if op == "erf" else -1) * _TWO_SQRT_PI * np.exp(-u * u)
    if op == "erfinv":
        return 0.5 * math.sqrt(math.pi) * np.exp(r * r)
    if op == "lgamma":
        return _psi(u, 0)
    if op == "digamma":
        return _psi(u, 1)
    if op == "asinh":
        return 1 / np.hypot(1.0, u)
    if op == "acosh":
        return 1 / np.sqrt((u - 1) * (u + 1))
    if op == "atanh":
        return 1 / ((1 - u) * (1 + u))
    if op == "softplus":
        return _sigmoid(u)
    if op == "log_sigmoid":
        return _sigmoid(-u)
    if op == "relu":
        return (u > 0) * 1.0
    if op == "relu6":
        return ((u > 0) & (u < 6)) * 1.0
    if op == "leaky_relu":
        return np.where(u >= 0, 1.0, a[1])
    if op == "elu":
        return np.where(u > 0, 1.0, a[1] * np.exp(np.minimum(u, 0.0)))
    if op == "selu":
        return _SCALE * np.where(u > 0, 1.0, _ALPHA * np.exp(np.minimum(u, 0.0)))
    if op == "silu":
        s = _sigmoid(u)
        return s * (1 + u * (1 - s))
    if op == "gelu":
        return _special().ndtr(u) + u * _INV_SQRT_2PI * np.exp(-0.5 * u * u)
    if op == "gelu_tanh":
        return _gelu_tanh_parts(u)[1]
    if op == "softsign":
        return 1 / (1 + np.abs(u)) ** 2
    if op == "hard_sigmoid":
        return ((u > -3) & (u < 3)) / 6.0
    if op == "mish":
        return _mish_parts(u)[1]
    if op == "clip":
        return ((u > a[1]) & (u < a[2])) * 1.0
    if op == "sinc":
        with np.errstate(all="ignore"):
            slope = (np.cos(np.pi * u) - r) / u
        return np.where(u == 0, 0.0, slope)
    if op in ("sign", "floor"):
        return np.zeros_like(u) if np.ndim(u) else 0.0
    if op == "square":
        return 2 * u
    if op == "rsqrt":
        return -0.5 * r / u
    if op == "sigmoid":
        return r * (1 - r)
    raise ValueError(f"no float64 partial for {op!r}")


#: Bounds of |f'| over the whole line, for the screen's error bound.
_BOUNDED_SLOPE = {
    "softplus": 1.0,
    "log_sigmoid": 1.0,
    "relu": 1.0,
    "relu6": 1.0,
    "silu": 1.1,
    "gelu": 1.13,
    "gelu_tanh": 1.13,
    "mish": 1.1,
    "softsign": 1.0,
    "hard_sigmoid": 1 / 6,
    "sinc": 1.8,
    "erf": 1.13,
    "erfc": 1.13,
    "asinh": 1.0,
    "sigmoid": 0.25,
}


def value_and_error(op: str, a: Sequence[tuple[Any, Any]]) -> tuple[Any, Any]:
    """The screen's step: ``op``'s float64 value and a first-order bound on its error
    from its arguments' errors (``a``: (value, error) per argument)."""
    values = [v for v, _ in a]
    u, eu = a[0]
    r = value(op, values)
    rounding = 4 * np.abs(r) * 2.0**-52
    if op in ("minimum", "maximum", "hypot"):
        return r, eu + a[1][1] + rounding
    if op == "clip":
        return r, eu + a[1][1] + a[2][1] + rounding
    if op in ("atan2", "xlogy"):
        first, second = partials(op, values, r)
        err = np.abs(first) * eu + np.abs(second) * a[1][1]
        return r, np.where(np.isnan(err), np.inf, err) + rounding
    if op == "sign":
        return r, np.where(np.abs(u) > eu, 0.0, 2.0)
    if op == "floor":
        return r, np.where(np.abs(u - np.round(u)) > eu, 0.0, 1.0) + rounding
    if op in _BOUNDED_SLOPE:
        return r, _BOUNDED_SLOPE[op] * eu + rounding
    if op in ("leaky_relu", "elu"):
        return r, np.maximum(1.0, np.abs(a[1][0])) * eu + rounding
    if op == "selu":
        return r, _SCALE * _ALPHA * eu + rounding
    slope = np.abs(_slope(op, values, r))
    err = np.where(np.isfinite(slope), slope * eu, np.inf)
    return r, np.where(np.isnan(err), np.inf, err) + rounding
