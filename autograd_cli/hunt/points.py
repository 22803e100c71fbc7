"""The points where derivative errors live: each function's kinks, domain edges and
switch-over points (where a framework changes formula), and the dtype's own edges
(subnormals, the smallest normal, where exp over- and underflows, huge and tiny
magnitudes), each also a few ULPs to either side.

Why a table of edges: an error at a point chosen uniformly at random is rare; frameworks
get gradients wrong where a formula switches (softplus at its threshold), where a
function meets its domain's edge (log at 0, acosh at 1) and where intermediate values
under- or overflow, so the hunt draws most of its points there.
"""

from __future__ import annotations

import math
import random

import numpy as np

from autograd_cli.core.dtypes import finfo, numpy_dtype

#: Per function: where its formula, domain or framework implementation changes.
EDGES: dict[str, tuple[float, ...]] = {
    "sin": (0.0, math.pi, 1e4), "cos": (0.0, math.pi / 2, 1e4), "tan": (math.pi / 2, 0.0),
    "asin": (-1.0, 1.0, 0.0), "acos": (-1.0, 1.0, 0.0), "atan": (0.0, 1e20),
    "sinh": (0.0, 89.0, 710.0), "cosh": (0.0, 89.0, 710.0), "tanh": (0.0, 9.0, 20.0),
    "asinh": (0.0, 1e20, -1e20), "acosh": (1.0, 1e20), "atanh": (-1.0, 1.0, 0.0),
    "exp": (88.7, -87.3, -103.0, 709.7, -745.0), "expm1": (0.0, 1e-8, 88.7, -20.0),
    "log": (0.0, 1.0), "log1p": (-1.0, 0.0, 1e-8), "log2": (0.0, 1.0), "log10": (0.0, 1.0),
    "sqrt": (0.0,), "rsqrt": (0.0,), "square": (0.0, 1e20), "abs": (0.0,), "sign": (0.0,),
    "floor": (0.0, 1.0, -1.0, 2.0), "atan2": (0.0,), "hypot": (0.0, 1e20, 1e-25),
    "minimum": (0.0,), "maximum": (0.0,), "xlogy": (0.0, 1.0), "sinc": (0.0, 1.0, 1e-8),
    "erf": (0.0, 4.0, -4.0), "erfc": (9.0, 10.0, 27.0, -6.0), "erfinv": (-1.0, 1.0, 0.0),
    "lgamma": (0.0, -1.0, -2.0, 1.0, 2.0, -0.5), "digamma": (0.0, -1.0, 1.0, 1e-8),
    "sigmoid": (-88.0, 17.0, 36.0, -104.0), "log_sigmoid": (-20.0, 20.0, -88.0, 0.0),
    "softplus": (20.0, -20.0, 88.0, 0.0), "relu": (0.0,), "relu6": (0.0, 6.0),
    "leaky_relu": (0.0,), "elu": (0.0,), "selu": (0.0,), "silu": (-88.0, -104.0, 0.0),
    "gelu": (0.0, -5.5, -10.0, -28.0), "gelu_tanh": (0.0, -5.5, -10.0, 30.0),
    "softsign": (0.0, 1e20), "hard_sigmoid": (-3.0, 3.0), "mish": (-20.0, 20.0, 0.0),
    "pow": (0.0, 1.0, -1.0), "div": (0.0,),
}

#: Round values that make ordinary points: most bugs show anywhere on a branch.
ORDINARY: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 0.25, 0.1, 1.5, 10.0, 100.0, 0.001)


def dtype_edges(dtype: str) -> tuple[float, ...]:
    """The dtype's edges: subnormals, the smallest normal, epsilon, 1 ± epsilon,
    where exp over- and underflows, square roots of the extremes, huge and tiny."""
    info = finfo(dtype)
    tiny, big, eps = float(info.tiny), float(info.max), float(info.eps)
    smallest = float(getattr(info, "smallest_subnormal", tiny * eps))
    return (
        smallest, 4 * smallest, tiny / 2, tiny, 2 * tiny, eps, eps / 2, 1 - eps / 2, 1 + eps,
        math.log(big), math.log(tiny), math.log(smallest), math.sqrt(big), math.sqrt(tiny),
        big / 2, big, 1e-30 if dtype != "float16" else 1e-5, 1e30 if dtype != "float16" else 6e4,
    )


def nudge(value: float, steps: int, dtype: str) -> float:
    """``value`` moved ``steps`` representable numbers of ``dtype`` (negative: down)."""
    kind = numpy_dtype(dtype)
    if kind.itemsize < 4:  # 2-byte formats: step in float32 and let rounding decide
        kind = np.dtype(np.float32)
    x = np.asarray(value, dtype=kind)
    toward = np.asarray(math.inf if steps > 0 else -math.inf, dtype=kind)
    with np.errstate(all="ignore"):
        for _ in range(abs(steps)):
            x = np.nextafter(x, toward)
    return float(x)


def draw_points(
    rng: random.Random, functions: list[str], dtype: str, count: int
) -> list[float]:
    """``count`` distinct points: mostly the edges of ``functions`` (exactly there, a
    few ULPs off, or a relative hair off), then the dtype's edges, then round values;
    each with a random sign where the sign is not the point."""
    edges = [edge for name in functions for edge in EDGES.get(name, ())]
    special = list(dtype_edges(dtype))
    chosen: list[float] = []
    for _ in range(count * 4):
        if len(chosen) >= count:
            break
        roll = rng.random()
        if edges and roll < 0.55:
            base = rng.choice(edges)
            how = rng.random()
            if how < 0.4:
                value = base
            elif how < 0.8:
                value = nudge(base, rng.choice((-3, -2, -1, 1, 2, 3)), dtype)
            else:
                value = base + rng.choice((-1.0, 1.0)) * max(abs(base), 1.0) * 10.0 ** -rng.randint(
                    2, 6)
        elif roll < 0.8:
            value = rng.choice(special) * rng.choice((1.0, -1.0))
        else:
            value = rng.choice(ORDINARY) * rng.choice((1.0, -1.0))
            if rng.random() < 0.3:
                value = round(rng.uniform(-4.0, 4.0), rng.randint(1, 3))
        if math.isfinite(value) and value not in chosen:
            chosen.append(value)
    return chosen or [0.5]


def simpler_points(point: float) -> list[float]:
    """Candidates for the simplest point near ``point``, simplest first: 0, ±1, ±2, ±0.5,
    then ``point`` rounded to 1, 2, ... significant digits, the nearest integer and the
    nearest power of 2; ``point`` itself last."""
    found: list[float] = [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5]
    if math.isfinite(point) and point != 0:
        found.append(float(round(point)))
        found.append(math.copysign(2.0 ** round(math.log2(abs(point))), point))
        for digits in range(1, 10):
            found.append(float(f"{point:.{digits}g}"))
    found.append(point)
    return list(dict.fromkeys(found))


def simplicity(value: float) -> tuple[int, float]:
    """How simple a point is to read: fewest significant digits, then nearest zero."""
    if value == 0:
        return (0, 0.0)
    digits = repr(abs(value)).split("e")[0].replace(".", "").strip("0")
    return (len(digits), abs(math.log10(abs(value))) if math.isfinite(value) else math.inf)
