"""A shared corpus of expressions with points inside each one's domain.

Every function, operator and constant of the language appears at least once, so a
backend that gets one of them wrong fails somewhere here: the elementary ones in
CORPUS, the ML and special functions (issue 14) in ML_CORPUS, whose points also stay
away from every kink, tie and jump (those are labelled, not judged). A framework may
have no native op for some of them (a row that says so), so tests over ML_CORPUS ask
the backend first. Texts go through the real parser, as the command's do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autograd_cli.expr.nodes import Expr, variables
from autograd_cli.expr.parser import parse

__all__ = ["CORPUS", "ML_CORPUS", "TUTORIAL", "Case", "parse"]


@dataclass(frozen=True)
class Case:
    text: str
    points: dict[str, tuple[float, ...]]
    tags: tuple[str, ...] = ()

    @property
    def expr(self) -> Expr:
        return parse(self.text)

    @property
    def variables(self) -> tuple[str, ...]:
        return variables(self.expr)

    def inputs(self, dtype: str) -> dict[str, np.ndarray]:
        """The points as the backends see them: rounded to ``dtype``."""
        return {name: np.asarray(values, dtype=dtype) for name, values in self.points.items()}


TUTORIAL = "2*x**3+4*x**2+5*x+6"

_X = (-2.5, -0.75, 0.5, 1.25, 3.0)
_POSITIVE = (0.1, 0.5, 1.0, 2.75, 10.0)
_UNIT = (-0.9, -0.3, 0.0, 0.45, 0.8)

CORPUS: tuple[Case, ...] = (
    Case(TUTORIAL, {"x": (-4.0, -1.5, 0.5, 1.0, 3.999)}),
    Case("sin(x)", {"x": _X}),
    Case("cos(x)", {"x": _X}),
    Case("tan(x)", {"x": (-1.2, -0.5, 0.0, 0.7, 1.3)}),
    Case("asin(x)", {"x": _UNIT}),
    Case("acos(x)", {"x": _UNIT}),
    Case("atan(x)", {"x": _X}),
    Case("sinh(x)", {"x": _X}),
    Case("cosh(x)", {"x": _X}),
    Case("tanh(x)", {"x": _X}),
    Case("exp(x)", {"x": _X}),
    Case("log(x)", {"x": _POSITIVE}),
    Case("log2(x)", {"x": _POSITIVE}),
    Case("log10(x)", {"x": _POSITIVE}),
    Case("sqrt(x)", {"x": _POSITIVE}),
    Case("abs(x)", {"x": (-2.5, -0.75, 0.5, 1.25, 3.0)}),
    Case("sigmoid(x)", {"x": _X}),
    Case("-x + +x*3", {"x": _X}),
    Case("(x - 1)/(x + 1)", {"x": _POSITIVE}),
    Case("x**-2", {"x": (-3.0, -0.5, 0.25, 1.5, 4.0)}),
    Case("x**0.5 + x**(1/3)", {"x": _POSITIVE}),
    Case("2**x", {"x": _X}),
    Case("pi*x**2 - e", {"x": _X}),
    Case("e**x", {"x": _X}),
    Case("exp(-x**2/2)/sqrt(2*pi)", {"x": _X}),
    Case("log(1 + exp(x))", {"x": _X}),
    Case("sin(x)*cos(x) + tan(x/4)", {"x": _X}),
    Case("x*sigmoid(x) + tanh(x)/2", {"x": _X}),
    Case("sqrt(1 + x**2) - atan(x)/x", {"x": (-2.5, -0.75, 0.5, 1.25, 3.0)}),
    Case("x*y + sin(x*y)", {"x": _X, "y": (1.5, -0.25, 2.0, 0.75, -1.0)}, tags=("multi",)),
    Case("x**2*y", {"x": _X, "y": (1.5, -0.25, 2.0, 0.75, -1.0)}, tags=("multi",)),
    Case("x**y", {"x": _POSITIVE, "y": (1.5, -0.25, 2.0, 0.75, -1.0)}, tags=("multi",)),
    Case("sqrt(x**2 + y**2)", {"x": _X, "y": (1.5, -0.25, 2.0, 0.75, -1.0)}, tags=("multi",)),
    Case("abs(x - y) + log10(y*y)", {"x": _X, "y": (1.5, -0.25, 2.0, 0.75, -1.0)}, tags=("multi",)),
    Case(
        "cosh(x)/y - sinh(y)*log2(z)",
        {"x": _X, "y": (1.5, -0.25, 2.0, 0.75, -1.0), "z": _POSITIVE},
        tags=("multi",),
    ),
)

_Y = (1.5, -0.25, 2.0, 0.75, -1.0)
_SPECIAL = ("ml",)

ML_CORPUS: tuple[Case, ...] = (
    Case("log1p(x)", {"x": (-0.75, -0.25, 0.001, 0.5, 3.0)}, _SPECIAL),
    Case("expm1(x)", {"x": _X}, _SPECIAL),
    Case("erf(x)", {"x": _X}, _SPECIAL),
    Case("erfc(x)", {"x": _X}, _SPECIAL),
    Case("erfinv(x)", {"x": _UNIT}, _SPECIAL),
    Case("lgamma(x)", {"x": (-2.5, -0.5, 0.5, 1.25, 3.0)}, _SPECIAL),
    Case("digamma(x)", {"x": (-2.5, -0.5, 0.5, 1.25, 3.0)}, _SPECIAL),
    Case("asinh(x)", {"x": _X}, _SPECIAL),
    Case("acosh(x)", {"x": (1.25, 2.0, 3.5, 7.0, 10.0)}, _SPECIAL),
    Case("atanh(x)", {"x": _UNIT}, _SPECIAL),
    Case("softplus(x)", {"x": _X}, _SPECIAL),
    Case("log_sigmoid(x)", {"x": _X}, _SPECIAL),
    Case("relu(x)", {"x": _X}, _SPECIAL),
    Case("relu6(x)", {"x": (-2.5, -0.75, 0.5, 3.0, 7.5)}, _SPECIAL),
    Case("leaky_relu(x, 0.2)", {"x": _X}, _SPECIAL),
    Case("leaky_relu(x)", {"x": _X}, _SPECIAL),
    Case("elu(x, 1.5)", {"x": _X}, _SPECIAL),
    Case("selu(x)", {"x": _X}, _SPECIAL),
    Case("silu(x)", {"x": _X}, _SPECIAL),
    Case("gelu(x)", {"x": _X}, _SPECIAL),
    Case("gelu_tanh(x)", {"x": _X}, _SPECIAL),
    Case("softsign(x)", {"x": _X}, _SPECIAL),
    Case("hard_sigmoid(x)", {"x": (-4.0, -2.5, -0.75, 0.5, 2.25)}, _SPECIAL),
    Case("mish(x)", {"x": _X}, _SPECIAL),
    Case("clip(x, -1, 2)", {"x": _X}, _SPECIAL),
    Case("sinc(x)", {"x": (-2.5, -0.75, 0.0, 0.5, 1.25)}, _SPECIAL),
    Case("sign(x)*x + floor(x)*x", {"x": (-2.5, -0.75, 0.5, 1.25, 3.5)}, _SPECIAL),
    Case("square(x) + rsqrt(x)", {"x": _POSITIVE}, _SPECIAL),
    Case("minimum(x, y) + maximum(x, y)", {"x": _X, "y": _Y}, (*_SPECIAL, "multi")),
    Case("atan2(y, x)", {"x": _X, "y": _Y}, (*_SPECIAL, "multi")),
    Case("hypot(x, y)", {"x": _X, "y": _Y}, (*_SPECIAL, "multi")),
    Case("xlogy(x, y)", {"x": _X, "y": _POSITIVE}, (*_SPECIAL, "multi")),
    Case(
        "gelu(x)*erf(y) + leaky_relu(x - y, 0.1) + clip(x*y, -2, 2)",
        {"x": _X, "y": (1.0, -0.5, 2.0, 0.25, -0.75)},
        (*_SPECIAL, "multi"),
    ),
)


#: The 16 functions of the grammar before the activations and special functions.
ELEMENTARY_FUNCTIONS = frozenset({
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log",
    "log2", "log10", "sqrt", "abs", "sigmoid",
})
