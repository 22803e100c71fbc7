"""The expression tree: frozen dataclasses, each with the source span it came from.

Backends never see Python's own AST, only these nodes, so the language is exactly
what the parser's allowlist admits and error messages can point at the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal


@dataclass(frozen=True)
class Span:
    """Half-open character range [start, end) in the source text."""

    start: int
    end: int


@dataclass(frozen=True)
class Num:
    """A numeric literal, kept exact (0.1 is 1/10, not the nearest double)."""

    value: Fraction
    text: str
    span: Span


@dataclass(frozen=True)
class Const:
    """A named mathematical constant: ``pi`` or ``e``."""

    name: Literal["pi", "e"]
    span: Span


@dataclass(frozen=True)
class Var:
    """A variable: any identifier that is not a constant or a function."""

    name: str
    span: Span


@dataclass(frozen=True)
class Unary:
    op: Literal["neg", "pos"]
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Binary:
    op: Literal["add", "sub", "mul", "div", "pow"]
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Call:
    """A call to a function of the allowlist in ``functions.FUNCTIONS``."""

    func: str
    args: tuple[Expr, ...]
    span: Span


Expr = Num | Const | Var | Unary | Binary | Call


def variables(expr: Expr) -> tuple[str, ...]:
    """Variable names in order of first appearance in the text."""
    seen: dict[str, None] = {}

    def visit(node: Expr) -> None:
        if isinstance(node, Var):
            seen.setdefault(node.name, None)
        elif isinstance(node, Unary):
            visit(node.operand)
        elif isinstance(node, Binary):
            visit(node.left)
            visit(node.right)
        elif isinstance(node, Call):
            for arg in node.args:
                visit(arg)

    visit(expr)
    return tuple(seen)
