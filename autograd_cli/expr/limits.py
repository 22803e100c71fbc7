"""How large and how deep an expression may be, and the error for too deep.

Why its own module: the parser enforces these limits, the syntax diagnosis reports
Python's own nesting limit with the same message, and tests and callers read them.
"""

from __future__ import annotations

from collections.abc import Iterable

from autograd_cli.expr.errors import ExpressionError
from autograd_cli.expr.nodes import Span

#: Longest accepted text, in characters; longer text is refused before any parsing.
MAX_LENGTH = 2000
#: Deepest accepted tree (a lone name or number has depth 1). Backends walk the tree
#: recursively, and ``sympy.diff`` recurses about 9 frames per level at worst
#: (``(...)**-1.5``), so 80 levels stay near 800 of Python's 1000 frames.
MAX_DEPTH = 80
#: Levels a call counts for in MAX_DEPTH when SymPy writes it as several operations:
#: ``sigmoid(a)`` is ``1/(1 + exp(-a))`` and ``log2(a)`` is ``log(a)/log(2)``, and
#: ``sympy.diff`` recurses through each of them (measured: a sigmoid level costs SymPy
#: about 4.5 times the stack of a sin level, a log2 level 2.2 times; of the ML functions,
#: softplus/log_sigmoid/clip 2 times, atan2 2.3, xlogy 2.5; the compositions that hold
#: their argument twice or more, silu to gelu_tanh, are weighted by their SymPy form as
#: the cost estimate refuses their deep nests long before). Without these weights, 30
#: nested sigmoids exhaust the recursion limit in the exact reference.
DEPTH_WEIGHTS: dict[str, int] = {
    "sigmoid": 5,
    "silu": 5,
    "gelu_tanh": 6,
    "log2": 3,
    "log10": 3,
    "atan2": 3,
    "xlogy": 3,
    "gelu": 3,
    "mish": 3,
    "hard_sigmoid": 3,
    **dict.fromkeys(("softplus", "log_sigmoid", "clip", "relu6", "hypot"), 2),
    **dict.fromkeys(("elu", "selu", "leaky_relu", "softsign"), 2),
}
#: Most nodes (numbers, constants, names, operators, calls) in one expression.
MAX_NODES = 500
#: Most distinct variable names in one expression.
MAX_VARIABLES = 16
#: Largest magnitude of a constant exponent (``x**1024`` is fine, ``x**1025`` is not);
#: 1024 lets every finite power of two be written.
MAX_EXPONENT = 1024


def weight_hint(names: Iterable[str]) -> str:
    """Why the weighted functions ``names`` (those of the expression) reach the limit
    sooner: ``sigmoid counts as 5 levels: ...``."""
    counted = ", ".join(f"{name} counts as {DEPTH_WEIGHTS[name]} levels" for name in names)
    return f"{counted}: each is several operations once differentiated"


def too_deep(text: str, span: Span) -> ExpressionError:
    return ExpressionError(
        text, span, f"expression is nested too deeply (the limit is {MAX_DEPTH} levels)"
    )
