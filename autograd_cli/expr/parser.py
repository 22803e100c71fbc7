"""Text -> expression tree: Python's arithmetic grammar, our allowlist, errors at the text.

Why ``ast.parse``: users already know Python's arithmetic (precedence, ``**``, unary
minus) and its parser is well tested. Why our own tree: Python's AST is only read,
never compiled or evaluated. Every AST node type is looked up in a table of handlers;
a type missing from it is refused with a named error, so the language is exactly what
the handlers admit.

Whitespace: every whitespace character (tab, newline, no-break space, ...) is read as
one plain space, so a pasted multi-line expression works and spans still index the
original text character for character. ``#`` comments are refused rather than
silently cutting the expression short.

Hostile input is stopped early and cheaply: the length is checked before anything
else; every failure of ``ast.parse`` (SyntaxError, RecursionError, MemoryError) becomes
an ExpressionError; literals are sized from their digits before a Fraction is built;
constant subtrees are estimated with float arithmetic that reports overflow, never
with Python integers that can explode (``9**9**9**9`` is refused in microseconds).

Stdlib only: a parse error must be reported without loading numpy or a framework.

The pieces it uses live beside it: :mod:`.errors` (ExpressionError and its carets),
:mod:`.limits`, :mod:`.literals`, :mod:`.constant_values`, :mod:`.positions` (AST
columns -> character spans) and :mod:`.diagnostics` (why text is refused, with hints).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from autograd_cli.expr.constant_values import (
    CONST_VALUES,
    Overflow,
    binary_value,
    call_value,
    format_value,
)
from autograd_cli.expr.diagnostics import Refusals, diagnose
from autograd_cli.expr.errors import ExpressionError, describe, short
from autograd_cli.expr.functions import ALIASES, CONSTANTS, FUNCTIONS, Param
from autograd_cli.expr.limits import (
    DEPTH_WEIGHTS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NODES,
    MAX_VARIABLES,
    too_deep,
    weight_hint,
)
from autograd_cli.expr.literals import MAX_LITERAL_EXPONENT, MIN_LITERAL_EXPONENT, literal
from autograd_cli.expr.nodes import Binary, Call, Const, Expr, Num, Span, Unary, Var

__all__ = [
    "DEPTH_WEIGHTS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_LITERAL_EXPONENT",
    "MAX_NODES",
    "MAX_VARIABLES",
    "MIN_LITERAL_EXPONENT",
    "ExpressionError",
    "parse",
]


def parse(text: str) -> Expr:
    """The expression tree of ``text``; raises ExpressionError for anything else."""
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            text,
            Span(MAX_LENGTH, len(text)),
            f"expression is too long: {len(text)} characters (the limit is {MAX_LENGTH})",
        )
    for i, ch in enumerate(text):
        if not ch.isspace() and not ch.isprintable():
            raise ExpressionError(text, Span(i, i + 1), f"invalid character {describe(ch)}")
    clean = "".join(" " if ch.isspace() else ch for ch in text)
    body = clean.strip()
    if not body:
        raise ExpressionError(
            text, Span(0, len(text)), "empty expression", "type an expression such as 2*x**3 + 1"
        )
    hash_at = clean.find("#")
    if hash_at >= 0 and not any(q in clean[:hash_at] for q in "'\""):
        raise ExpressionError(
            text, Span(hash_at, len(clean.rstrip())), "comments (#) are not supported"
        )
    lead = len(clean) - len(clean.lstrip())
    end = len(clean.rstrip())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(body, mode="eval")
    except SyntaxError as err:
        raise diagnose(text, clean, lead, err) from None
    except (RecursionError, MemoryError):
        raise too_deep(text, Span(lead, end)) from None
    except (ValueError, OverflowError):
        raise ExpressionError(text, Span(lead, end), "invalid expression") from None
    converter = _Converter(text, clean, lead, body)
    try:
        return converter.convert(tree.body, 1).expr
    except RecursionError:
        raise too_deep(text, Span(lead, end)) from None


# --- the AST -> tree conversion -------------------------------------------------


@dataclass(frozen=True)
class _Built:
    """A converted subtree; ``value`` estimates it when ``constant`` (None: undefined)."""

    expr: Expr
    constant: bool
    value: float | None


_BinOp = Literal["add", "sub", "mul", "div", "pow"]
_BINARY: dict[type[ast.operator], tuple[_BinOp, str]] = {
    ast.Add: ("add", "+"),
    ast.Sub: ("sub", "-"),
    ast.Mult: ("mul", "*"),
    ast.Div: ("div", "/"),
    ast.Pow: ("pow", "**"),
}
_BAD_BINARY: dict[type[ast.operator], tuple[str, str | None]] = {
    ast.Mod: ("'%' (remainder) is not supported", None),
    ast.FloorDiv: ("'//' (floor division) is not supported", "use / for division"),
    ast.MatMult: ("'@' (matrix multiplication) is not supported", "use * for multiplication"),
    ast.BitAnd: ("bit operators are not supported: '&'", None),
    ast.BitOr: ("bit operators are not supported: '|'", None),
    ast.LShift: ("bit operators are not supported: '<<'", None),
    ast.RShift: ("bit operators are not supported: '>>'", None),
}
_UNARY: dict[type[ast.unaryop], tuple[Literal["neg", "pos"], str]] = {
    ast.USub: ("neg", "-"),
    ast.UAdd: ("pos", "+"),
}


class _Converter(Refusals):
    """Walks Python's AST once, building our nodes and enforcing every limit."""

    def __init__(self, text: str, clean: str, lead: int, body: str) -> None:
        super().__init__(text, clean, lead, body)
        self.count = 0
        self.names: dict[str, None] = {}
        self.weighted: dict[str, None] = {}  # calls of DEPTH_WEIGHTS seen: named if too deep

    # building

    def convert(self, node: ast.AST, depth: int) -> _Built:
        if depth > MAX_DEPTH:
            self.fail(
                self.span(node),
                f"expression is nested too deeply (the limit is {MAX_DEPTH} levels)",
                weight_hint(self.weighted) if self.weighted else None,
            )
        handler = _HANDLERS.get(type(node))
        if handler is None:
            self.reject(node)
        return handler(self, node, depth)

    def add(
        self, expr: Expr, parts: tuple[_Built, ...], value: Callable[..., float | None]
    ) -> _Built:
        """Count ``expr`` and estimate it when all its parts are constant."""
        self.count += 1
        if self.count > MAX_NODES:
            self.fail(
                expr.span,
                f"expression is too large: more than {MAX_NODES} numbers, names, "
                "operators and calls",
            )
        constant = all(p.constant for p in parts)
        estimate: float | None = None
        if constant and all(p.value is not None for p in parts):
            try:
                estimate = value(*(p.value for p in parts))
            except Overflow:
                self.fail(
                    expr.span,
                    "this constant overflows: its value is beyond the float64 range "
                    "(about 1.8e308)",
                )
        return _Built(expr, constant, estimate)

    # handlers, keyed by AST type in _HANDLERS

    def binop(self, node: ast.BinOp, depth: int) -> _Built:
        left = self.convert(node.left, depth + 1)
        op_span = self.between(left.expr.span, self.span(node.right))
        kind = type(node.op)
        if kind is ast.BitXor:
            whole = self.span(node)
            base = self.clean[whole.start : op_span.start].strip()
            power = self.clean[op_span.end : whole.end].strip()
            self.fail(
                op_span,
                "'^' is not a power here (in Python it is bitwise xor)",
                f"use ** for powers: {short(base)}**{short(power)}",
            )
        if kind not in _BINARY:
            message, hint = _BAD_BINARY.get(kind, ("this operator is not supported", None))
            self.fail(op_span, message, hint)
        op = _BINARY[kind][0]
        right = self.convert(node.right, depth + 1)
        exponent = right.value if op == "pow" and right.constant else None
        if exponent is not None and abs(exponent) > MAX_EXPONENT:
            self.fail(
                right.expr.span,
                f"exponent {format_value(exponent)} is too large "
                f"(the limit is {MAX_EXPONENT} in magnitude)",
            )
        expr = Binary(op, left.expr, right.expr, self.span(node))
        return self.add(expr, (left, right), lambda a, b: binary_value(op, a, b))

    def unaryop(self, node: ast.UnaryOp, depth: int) -> _Built:
        whole = self.span(node)
        kind = type(node.op)
        if kind is ast.Not:
            self.fail(Span(whole.start, whole.start + 3), "'not' is not supported: no booleans")
        if kind is ast.Invert:
            self.fail(Span(whole.start, whole.start + 1), "'~' (bit inversion) is not supported")
        op = _UNARY[kind][0]
        operand = self.convert(node.operand, depth + 1)
        sign = -1.0 if op == "neg" else 1.0
        return self.add(Unary(op, operand.expr, whole), (operand,), lambda a: sign * a)

    def constant(self, node: ast.Constant, depth: int) -> _Built:
        span = self.span(node)
        src = self.src(span)
        value = node.value
        if isinstance(value, bool) or value is None:
            self.fail(span, f"{value} is not supported: only numbers, names and functions")
        if isinstance(value, (str, bytes)):
            self.fail(span, "strings are not supported", "write the expression without quotes")
        if isinstance(value, complex):
            number = src.rstrip("jJ")
            self.fail(
                span,
                "complex numbers are not supported",
                f"for a variable j, write {short(number)}*j" if number else None,
            )
        if not isinstance(value, (int, float)):
            self.fail(span, f"{src!r} is not supported")
        if src[:2].lower() in ("0x", "0o", "0b"):
            self.fail(span, "only decimal numbers are supported", None)
        fraction = literal(self.text, span, src)
        return self.add(Num(fraction, src, span), (), lambda: float(fraction))

    def name(self, node: ast.Name, depth: int) -> _Built:
        span = self.span(node)
        name = self.identifier(node.id, span)
        if name in CONSTANTS:
            const = Const(cast(Literal["pi", "e"], name), span)
            return self.add(const, (), lambda: CONST_VALUES.get(name))
        if name in FUNCTIONS:
            self.fail(
                span,
                f"function '{name}' must be called",
                f"{name} is a function: call it as {name}(x)",
            )
        if name not in self.names:
            if len(self.names) >= MAX_VARIABLES:
                self.fail(
                    span,
                    f"too many variables: '{short(name)}' would be number "
                    f"{MAX_VARIABLES + 1} (the limit is {MAX_VARIABLES})",
                )
            self.names[name] = None
        built = self.add(Var(name, span), (), lambda: None)
        return _Built(built.expr, False, None)

    def identifier(self, name: str, span: Span) -> str:
        """Refuse names Python silently normalized (NFKC), such as a full-width 'ｘ'."""
        src = self.src(span)
        if src != name:
            self.fail(span, f"{src!r} is written with look-alike characters", f"write {name}")
        if name == "π":
            self.fail(span, "'π' is not a name here", "write pi for the constant")
        return name

    def call(self, node: ast.Call, depth: int) -> _Built:
        whole = self.span(node)
        func = node.func
        if isinstance(func, ast.Attribute):
            self.attribute(func, depth, call=node)
        if not isinstance(func, ast.Name):
            callee = self.convert(func, depth + 1)
            self.juxtaposition(whole, callee.expr.span)
        fspan = self.span(func)
        name = self.identifier(func.id, fspan)
        name = ALIASES.get(name, name)
        if name not in FUNCTIONS:
            self.unknown_function(name, fspan, whole)
        spec = FUNCTIONS[name]
        for kw in node.keywords:
            self.keyword_argument(name, node, kw)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(self.span(arg), "starred arguments (*args) are not supported")
        if not spec.required <= len(node.args) <= spec.most:
            got = len(node.args) or "none"
            count = str(spec.most)
            if spec.required < spec.most:
                count = f"{spec.required} to {spec.most}"
            plural = "" if spec.most == 1 else "s"
            self.fail(
                whole,
                f"{name} takes {count} argument{plural}, got {got}",
                f"usage: {spec.signature()}, the {spec.meaning}",
            )
        weight = DEPTH_WEIGHTS.get(name, 1)
        if weight > 1:
            self.weighted[name] = None
        args = tuple(self.convert(arg, depth + weight) for arg in node.args[: spec.arity])
        params = tuple(
            self.parameter(name, spec.params[i], arg, depth + weight)
            for i, arg in enumerate(node.args[spec.arity :])
        )
        end = Span(whole.end - 1, whole.end - 1)
        defaults = tuple(
            Num(p.default, format_value(float(p.default)), end)
            for p in spec.params[len(params) :]
            if p.default is not None
        )
        expr = Call(name, (*(a.expr for a in args), *params, *defaults), whole)
        return self.add(
            expr,
            args,
            lambda *values: call_value(
                name, [*values, *(float(p.value) for p in (*params, *defaults))]
            ),
        )

    def parameter(self, func: str, param: Param, node: ast.expr, depth: int) -> Num:
        """A parameter is a number, optionally signed: it is a constant of the op
        (``negative_slope``), not an input that derivatives flow through."""
        built = self.convert(node, depth)  # at its call's argument level, as an input
        expr = built.expr
        sign = 1
        while isinstance(expr, Unary):
            sign = -sign if expr.op == "neg" else sign
            expr = expr.operand
        if not isinstance(expr, Num):
            self.fail(
                built.expr.span,
                f"{func}'s {param.name} must be a number",
                f"write {FUNCTIONS[func].signature()} with numbers for its parameters",
            )
        return Num(sign * expr.value, self.src(built.expr.span), built.expr.span)


_HANDLERS: dict[type[ast.AST], Callable[[_Converter, Any, int], _Built]] = {
    ast.BinOp: _Converter.binop,
    ast.UnaryOp: _Converter.unaryop,
    ast.Constant: _Converter.constant,
    ast.Name: _Converter.name,
    ast.Call: _Converter.call,
    ast.Attribute: _Converter.attribute,
    ast.Compare: _Converter.compare,
    ast.BoolOp: _Converter.boolop,
    ast.Subscript: _Converter.subscript,
    ast.Tuple: _Converter.tuple_,
}
