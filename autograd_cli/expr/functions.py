"""The allowlist of functions: one table that the parser and every backend read.

A backend's ops table must cover every name here (a test checks it), so adding a
function is one line here plus one entry per backend.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Function:
    name: str
    arity: int
    meaning: str


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("sin", 1, "sine"),
        Function("cos", 1, "cosine"),
        Function("tan", 1, "tangent"),
        Function("asin", 1, "inverse sine"),
        Function("acos", 1, "inverse cosine"),
        Function("atan", 1, "inverse tangent"),
        Function("sinh", 1, "hyperbolic sine"),
        Function("cosh", 1, "hyperbolic cosine"),
        Function("tanh", 1, "hyperbolic tangent"),
        Function("exp", 1, "exponential"),
        Function("log", 1, "natural logarithm"),
        Function("log2", 1, "base-2 logarithm"),
        Function("log10", 1, "base-10 logarithm"),
        Function("sqrt", 1, "square root"),
        Function("abs", 1, "absolute value"),
        Function("sigmoid", 1, "logistic function 1/(1+exp(-x))"),
    )
}

CONSTANTS: tuple[str, ...] = ("pi", "e")

OPERATORS: tuple[str, ...] = ("neg", "pos", "add", "sub", "mul", "div", "pow")
