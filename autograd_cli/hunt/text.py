"""Our expression tree back to text that our own parser reads to the same tree.

Why: the hunt builds trees, never strings to evaluate, but a finding is shown, stored
in a suite and re-checked as the text a user would type. Parentheses follow Python's
precedence (the parser's), so ``-x**2`` stays ``-(x**2)`` and ``(-x)**2`` keeps its
brackets; numbers print as their exact literal text.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from autograd_cli.expr.nodes import Binary, Call, Const, Expr, Num, Span, Unary, Var

NOWHERE = Span(0, 0)

_ADD, _MUL, _UNARY, _POW, _ATOM = 1, 2, 3, 4, 5
_PRECEDENCE = {"add": _ADD, "sub": _ADD, "mul": _MUL, "div": _MUL, "pow": _POW}
_SYMBOL = {"add": " + ", "sub": " - ", "mul": "*", "div": "/", "pow": "**"}


def number_text(value: Fraction) -> str:
    """The shortest exact decimal literal of ``value`` (which must have one: a
    denominator of 2s and 5s), as the parser reads it back exactly."""
    if value.denominator == 1:
        whole = abs(value.numerator)
        text = str(whole)
        if len(text) > 6 and text.rstrip("0") != text:  # 1000000000 -> 1e9
            digits = text.rstrip("0")
            text = f"{digits[0]}{'.' + digits[1:] if digits[1:] else ''}e{len(text) - 1}"
        return ("-" if value < 0 else "") + text
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(exact) != value:
        raise ValueError(f"{value} has no short decimal literal")
    text = format(exact.normalize(), "g")
    return text if "e" in text or "E" in text else format(exact.normalize(), "f")


def num(value: Fraction | int | float | str) -> Num:
    """A literal node for ``value`` (non-negative in expressions; params may be negative)."""
    exact = Fraction(value) if not isinstance(value, float) else Fraction(repr(value))
    return Num(exact, number_text(exact), NOWHERE)


def var(name: str = "x") -> Var:
    return Var(name, NOWHERE)


def call(func: str, *args: Expr) -> Call:
    return Call(func, tuple(args), NOWHERE)


def binary(op: str, left: Expr, right: Expr) -> Binary:
    return Binary(op, left, right, NOWHERE)  # type: ignore[arg-type]


def neg(operand: Expr) -> Unary:
    return Unary("neg", operand, NOWHERE)


def to_text(expr: Expr) -> str:
    """The expression as the parser's input."""
    text, _ = _text(expr)
    return text


def _wrap(part: tuple[str, int], minimum: int) -> str:
    text, precedence = part
    return text if precedence >= minimum else f"({text})"


def _text(expr: Expr) -> tuple[str, int]:
    if isinstance(expr, Num):
        text = expr.text if expr.text else number_text(expr.value)
        return text, (_UNARY if text.startswith("-") else _ATOM)
    if isinstance(expr, (Const, Var)):
        return expr.name, _ATOM
    if isinstance(expr, Unary):
        sign = "-" if expr.op == "neg" else "+"
        return f"{sign}{_wrap(_text(expr.operand), _UNARY)}", _UNARY
    if isinstance(expr, Binary):
        left, right = _text(expr.left), _text(expr.right)
        if expr.op == "pow":  # right-associative; its right operand may be unary
            return f"{_wrap(left, _ATOM)}**{_wrap(right, _UNARY)}", _POW
        level = _PRECEDENCE[expr.op]
        return f"{_wrap(left, level)}{_SYMBOL[expr.op]}{_wrap(right, level + 1)}", level
    if isinstance(expr, Call):
        return f"{expr.func}({', '.join(_text(arg)[0] for arg in expr.args)})", _ATOM
    raise TypeError(f"not an expression node: {expr!r}")


def size(expr: Expr) -> int:
    """Nodes in the tree (parameters count as one each): what shrinking makes smaller."""
    if isinstance(expr, Unary):
        return 1 + size(expr.operand)
    if isinstance(expr, Binary):
        return 1 + size(expr.left) + size(expr.right)
    if isinstance(expr, Call):
        return 1 + sum(size(arg) for arg in expr.args)
    return 1


def primitives(expr: Expr) -> list[str]:
    """The functions and operators the tree uses, in order of first use (signs aside)."""
    found: dict[str, None] = {}

    def visit(node: Expr) -> None:
        if isinstance(node, Unary):
            visit(node.operand)
        elif isinstance(node, Binary):
            found.setdefault(node.op, None)
            visit(node.left)
            visit(node.right)
        elif isinstance(node, Call):
            found.setdefault(node.func, None)
            for arg in node.args:
                visit(arg)

    visit(expr)
    return list(found)
