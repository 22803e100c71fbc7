"""The expression language: text -> frozen tree with spans, never executed."""

from autograd_cli.expr.functions import CONSTANTS, FUNCTIONS
from autograd_cli.expr.nodes import Binary, Call, Const, Expr, Num, Span, Unary, Var, variables
from autograd_cli.expr.parser import ExpressionError, parse

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "Binary",
    "Call",
    "Const",
    "Expr",
    "ExpressionError",
    "Num",
    "Span",
    "Unary",
    "Var",
    "parse",
    "variables",
]
