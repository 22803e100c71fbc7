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
"""

from __future__ import annotations

import ast
import difflib
import keyword
import math
import re
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, NoReturn, cast

from autograd_cli.expr.functions import CONSTANTS, FUNCTIONS
from autograd_cli.expr.nodes import Binary, Call, Const, Expr, Num, Span, Unary, Var

#: Longest accepted text, in characters; longer text is refused before any parsing.
MAX_LENGTH = 2000
#: Deepest accepted tree (a lone name or number has depth 1). Backends walk the tree
#: recursively, and ``sympy.diff`` recurses about 9 frames per level at worst
#: (``(...)**-1.5``), so 80 levels stay near 800 of Python's 1000 frames.
MAX_DEPTH = 80
#: Levels a call counts for in MAX_DEPTH when SymPy writes it as several operations:
#: ``sigmoid(a)`` is ``1/(1 + exp(-a))`` and ``log2(a)`` is ``log(a)/log(2)``, and
#: ``sympy.diff`` recurses through each of them (measured: a sigmoid level costs SymPy
#: about 4.5 times the stack of a sin level, a log2 level 2.2 times). Without these
#: weights, 30 nested sigmoids exhaust the recursion limit in the exact reference.
DEPTH_WEIGHTS: dict[str, int] = {"sigmoid": 5, "log2": 3, "log10": 3}
#: Most nodes (numbers, constants, names, operators, calls) in one expression.
MAX_NODES = 500
#: Most distinct variable names in one expression.
MAX_VARIABLES = 16
#: Largest magnitude of a constant exponent (``x**1024`` is fine, ``x**1025`` is not);
#: 1024 lets every finite power of two be written.
MAX_EXPONENT = 1024
#: Nonzero literals must lie within [10**MIN_LITERAL_EXPONENT, 10**MAX_LITERAL_EXPONENT]
#: in magnitude: beyond that float64 overflows or rounds them to zero.
MAX_LITERAL_EXPONENT = 308
MIN_LITERAL_EXPONENT = -324

_EXCERPT_WIDTH = 76
_SNIPPET = 40
_KNOWN = ", ".join(sorted(FUNCTIONS))
_ALIASES = {
    "ln": "log",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "expit": "sigmoid",
    "logistic": "sigmoid",
    "fabs": "abs",
}
_CHAR_HINTS = {
    **dict.fromkeys("×·⋅∗✕", "use * for multiplication"),
    **dict.fromkeys("÷∕", "use / for division"),
    **dict.fromkeys("−–—‐‑", "use the ASCII minus sign -"),
    **dict.fromkeys("⁰¹²³⁴⁵⁶⁷⁸⁹", "use ** for powers, e.g. x**2"),
    "√": "use sqrt(x)",
    "!": "factorials and '!' are not supported",
}


class ExpressionError(ValueError):
    """A bad expression: where (a character span of ``text``), what, and how to fix it."""

    text: str
    span: Span
    message: str
    hint: str | None

    def __init__(self, text: str, span: Span, message: str, hint: str | None = None) -> None:
        super().__init__(text, span, message, hint)  # all args, so the error pickles
        self.text = text
        self.span = span
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        """One line; columns count characters from 1."""
        return f"{self.message} (at column {self.span.start + 1})"

    def render(self) -> str:
        """The message, the text with carets under the span, and the hint (for stderr)."""
        lines = [f"error: {self.message}"]
        if self.text.strip():
            shown, carets = _excerpt(self.text, self.span)
            lines += [f"  {shown}", f"  {carets}"]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


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
            raise ExpressionError(text, Span(i, i + 1), f"invalid character {_describe(ch)}")
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
        raise _diagnose(text, clean, lead, err) from None
    except (RecursionError, MemoryError):
        raise _too_deep(text, Span(lead, end)) from None
    except (ValueError, OverflowError):
        raise ExpressionError(text, Span(lead, end), "invalid expression") from None
    converter = _Converter(text, clean, lead, body)
    try:
        return converter.convert(tree.body, 1).expr
    except RecursionError:
        raise _too_deep(text, Span(lead, end)) from None


_WEIGHT_HINT = (
    ", ".join(f"{name} counts as {weight} levels" for name, weight in DEPTH_WEIGHTS.items())
    + ": each is several operations once differentiated"
)


def _too_deep(text: str, span: Span) -> ExpressionError:
    return ExpressionError(
        text, span, f"expression is nested too deeply (the limit is {MAX_DEPTH} levels)"
    )


# --- rendering ------------------------------------------------------------------


def _display(ch: str) -> str:
    if ch.isspace():
        return " "
    return ch if ch.isprintable() else "?"


def _width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _excerpt(text: str, span: Span) -> tuple[str, str]:
    """The text (a window of it when long) and a caret line under ``span``."""
    start = min(max(span.start, 0), len(text))
    stop = min(max(span.end, start + 1), len(text) + 1)
    lo, hi = 0, len(text)
    if len(text) > _EXCERPT_WIDTH:
        lo = max(0, min(start - 20, len(text) - _EXCERPT_WIDTH))
        hi = lo + _EXCERPT_WIDTH
    shown = "".join(_display(ch) for ch in text[lo:hi])
    prefix = "..." if lo > 0 else ""
    suffix = "..." if hi < len(text) else ""
    before = prefix + shown[: start - lo]
    under = (shown + " ")[start - lo : max(min(stop, hi + 1) - lo, start - lo + 1)]
    pad = " " * sum(_width(ch) for ch in before)
    carets = "^" * max(1, sum(_width(ch) for ch in under))
    return prefix + shown + suffix, pad + carets


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    shown = repr(ch) if ch.isprintable() else ""
    parts = [p for p in (shown, f"(U+{ord(ch):04X}{' ' + name if name else ''})") if p]
    return " ".join(parts)


def _short(s: str, limit: int = _SNIPPET) -> str:
    if len(s) <= limit:
        return s
    half = (limit - 3) // 2
    return f"{s[:half]}...{s[-half:]}"


def _one_of(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


# --- literals -------------------------------------------------------------------

_DECIMAL = re.compile(r"([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?)([0-9]+))?")


def _literal(text: str, span: Span, src: str) -> Fraction:
    """The exact value of a decimal literal, sized from its digits before it is built."""
    match = _DECIMAL.fullmatch(src.replace("_", ""))
    if match is None:
        raise ExpressionError(text, span, f"unsupported number {_short(src)!r}")
    whole, frac = match.group(1), match.group(2) or ""
    sign, exp_digits = match.group(3) or "", match.group(4) or "0"
    digits = (whole + frac).lstrip("0")
    if not digits:
        return Fraction(0)
    exp_digits = exp_digits.lstrip("0") or "0"
    if len(exp_digits) > 6:
        order = 10**7 if sign != "-" else -(10**7)
    else:
        order = (-1 if sign == "-" else 1) * int(exp_digits) + len(digits) - 1 - len(frac)
    scale = order - (len(digits) - 1)
    too_big = order > MAX_LITERAL_EXPONENT
    if not too_big and order >= MIN_LITERAL_EXPONENT:
        mantissa = int(digits)
        value = Fraction(mantissa * 10**scale) if scale >= 0 else Fraction(mantissa, 10**-scale)
        if value <= 10**MAX_LITERAL_EXPONENT:
            return value
        too_big = True
    if too_big:
        raise ExpressionError(
            text,
            span,
            f"number {_short(src)} is too large (the limit is 1e{MAX_LITERAL_EXPONENT})",
            "numbers must fit in a float64",
        )
    raise ExpressionError(
        text,
        span,
        f"number {_short(src)} is too small: it would round to 0 in float64",
        f"nonzero numbers must be at least 1e{MIN_LITERAL_EXPONENT}; write 0 for zero",
    )


# --- constant estimates (floats only; overflow is reported, not built) ------------


class _Overflow(Exception):
    pass


def _checked(result: float) -> float | None:
    if math.isinf(result):
        raise _Overflow
    return None if math.isnan(result) else result


def _binary_value(op: str, a: float, b: float) -> float | None:
    try:
        if op == "add":
            return _checked(a + b)
        if op == "sub":
            return _checked(a - b)
        if op == "mul":
            return _checked(a * b)
        if op == "div":
            return _checked(a / b)
        return _checked(math.pow(a, b))
    except OverflowError:
        raise _Overflow from None
    except (ZeroDivisionError, ValueError):
        return None


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


_FLOAT_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "exp": math.exp,
    "log": math.log,
    "log2": math.log2,
    "log10": math.log10,
    "sqrt": math.sqrt,
    "abs": abs,
    "sigmoid": _sigmoid,
}
_CONST_VALUES = {"pi": math.pi, "e": math.e}


def _call_value(func: str, args: list[float]) -> float | None:
    """None when unknown or undefined (a domain error is the backends' business)."""
    impl = _FLOAT_FUNCTIONS.get(func)
    if impl is None:
        return None
    try:
        return _checked(float(impl(*args)))
    except OverflowError:
        raise _Overflow from None
    except (ValueError, ZeroDivisionError, TypeError):
        return None


def _format_value(value: float) -> str:
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.6g}"


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
_GROUPING = "use parentheses ( ) for grouping"
_REJECTED: dict[type[ast.AST], tuple[str, str | None]] = {
    ast.IfExp: ("conditional expressions (... if ... else ...) are not supported", None),
    ast.Lambda: ("lambda is not allowed", None),
    ast.NamedExpr: ("assignment (:=) is not supported", "write only the expression"),
    ast.List: ("lists [...] are not supported", _GROUPING),
    ast.ListComp: ("comprehensions are not supported", None),
    ast.Set: ("braces { } are not supported", _GROUPING),
    ast.SetComp: ("comprehensions are not supported", None),
    ast.Dict: ("braces { } are not supported", _GROUPING),
    ast.DictComp: ("comprehensions are not supported", None),
    ast.GeneratorExp: ("comprehensions are not supported", None),
    ast.JoinedStr: ("strings are not supported", "write the expression without quotes"),
    ast.Starred: ("starred expressions (*x) are not supported", None),
    ast.Slice: ("slices are not supported", None),
    ast.Await: ("'await' is not allowed", None),
    ast.Yield: ("'yield' is not allowed", None),
    ast.YieldFrom: ("'yield' is not allowed", None),
}


class _Converter:
    """Walks Python's AST once, building our nodes and enforcing every limit."""

    def __init__(self, text: str, clean: str, lead: int, body: str) -> None:
        self.text = text
        self.clean = clean
        self.lead = lead
        self.table: list[int] | None = None if body.isascii() else _byte_table(body)
        self.count = 0
        self.names: dict[str, None] = {}
        self.weighted = False  # a call of DEPTH_WEIGHTS seen: say so if too deep

    # positions

    def pos(self, col: int | None) -> int:
        """Character offset in the text of an AST column (a UTF-8 byte offset)."""
        if col is None:
            return self.lead
        if self.table is None:
            return self.lead + col
        return self.lead + self.table[min(max(col, 0), len(self.table) - 1)]

    def span(self, node: ast.AST) -> Span:
        return Span(
            self.pos(getattr(node, "col_offset", None)),
            self.pos(getattr(node, "end_col_offset", None)),
        )

    def src(self, span: Span) -> str:
        return self.clean[span.start : span.end]

    def between(self, left: Span, right: Span) -> Span:
        """The operator between two operands: the gap less spaces and parentheses."""
        gap = self.clean[left.end : right.start]
        core = gap.strip(" ()")
        if not core:
            return Span(left.end, right.start)
        start = left.end + gap.index(core)
        return Span(start, start + len(core))

    def fail(self, span: Span, message: str, hint: str | None = None) -> NoReturn:
        raise ExpressionError(self.text, span, message, hint)

    # building

    def convert(self, node: ast.AST, depth: int) -> _Built:
        if depth > MAX_DEPTH:
            self.fail(
                self.span(node),
                f"expression is nested too deeply (the limit is {MAX_DEPTH} levels)",
                _WEIGHT_HINT if self.weighted else None,
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
            except _Overflow:
                self.fail(
                    expr.span,
                    "this constant overflows: its value is beyond the float64 range "
                    "(about 1.8e308)",
                )
        return _Built(expr, constant, estimate)

    def reject(self, node: ast.AST) -> NoReturn:
        message, hint = _REJECTED.get(
            type(node), (f"{type(node).__name__} expressions are not supported", None)
        )
        self.fail(self.span(node), message, hint)

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
                f"use ** for powers: {_short(base)}**{_short(power)}",
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
                f"exponent {_format_value(exponent)} is too large "
                f"(the limit is {MAX_EXPONENT} in magnitude)",
            )
        expr = Binary(op, left.expr, right.expr, self.span(node))
        return self.add(expr, (left, right), lambda a, b: _binary_value(op, a, b))

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
                f"for a variable j, write {_short(number)}*j" if number else None,
            )
        if not isinstance(value, (int, float)):
            self.fail(span, f"{src!r} is not supported")
        if src[:2].lower() in ("0x", "0o", "0b"):
            self.fail(span, "only decimal numbers are supported", None)
        fraction = _literal(self.text, span, src)
        return self.add(Num(fraction, src, span), (), lambda: float(fraction))

    def name(self, node: ast.Name, depth: int) -> _Built:
        span = self.span(node)
        name = self.identifier(node.id, span)
        if name in CONSTANTS:
            const = Const(cast(Literal["pi", "e"], name), span)
            return self.add(const, (), lambda: _CONST_VALUES.get(name))
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
                    f"too many variables: '{_short(name)}' would be number "
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
        if name not in FUNCTIONS:
            self.unknown_function(name, fspan, whole)
        spec = FUNCTIONS[name]
        for kw in node.keywords:
            self.fail(
                self.span(kw),
                "keyword arguments are not supported",
                f"write {name}(x), with arguments in order",
            )
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(self.span(arg), "starred arguments (*args) are not supported")
        if len(node.args) != spec.arity:
            got = len(node.args) or "none"
            plural = "" if spec.arity == 1 else "s"
            params = ", ".join("xyzw"[: spec.arity])
            self.fail(
                whole,
                f"{name} takes {spec.arity} argument{plural}, got {got}",
                f"usage: {name}({params}), the {spec.meaning}",
            )
        weight = DEPTH_WEIGHTS.get(name, 1)
        self.weighted = self.weighted or weight > 1
        args = tuple(self.convert(arg, depth + weight) for arg in node.args)
        expr = Call(name, tuple(a.expr for a in args), whole)
        return self.add(expr, args, lambda *values: _call_value(name, list(values)))

    def juxtaposition(self, whole: Span, callee: Span) -> NoReturn:
        """``2(x+1)``, ``(x+1)(x-1)``: Python reads a call, the user meant a product."""
        paren = callee.end
        while paren < whole.end and self.clean[paren] in " )":
            paren += 1
        left = self.clean[whole.start : paren].strip()
        right = self.clean[paren : whole.end]
        self.fail(
            whole,
            f"missing operator between {_short(left)} and {_short(right)}",
            f"did you mean {_short(left)}*{_short(right)}?",
        )

    def unknown_function(self, name: str, fspan: Span, whole: Span) -> NoReturn:
        rest = self.clean[fspan.end : whole.end]
        product = f"{_short(name)}*{_short(rest)}"
        if name in CONSTANTS:
            self.fail(fspan, f"'{name}' is a constant, not a function", f"did you mean {product}?")
        close = [_ALIASES[name]] if _ALIASES.get(name) in FUNCTIONS else []
        close += [
            c
            for c in difflib.get_close_matches(name.lower(), list(FUNCTIONS), n=3, cutoff=0.6)
            if c not in close
        ]
        if close:
            self.fail(
                fspan,
                f"unknown function '{_short(name)}'",
                f"did you mean {_one_of(close)}? Known functions: {_KNOWN}",
            )
        self.fail(
            fspan,
            f"'{_short(name)}' is not a function",
            f"to multiply, write {product}. Known functions: {_KNOWN}",
        )

    def attribute(self, node: ast.Attribute, depth: int, call: ast.Call | None = None) -> NoReturn:
        span = self.span(node)
        src = self.src(span)
        rest = ""
        if call is not None:
            rest = _short(self.clean[span.end : self.span(call).end].strip(), 20)
        if node.attr in FUNCTIONS or node.attr in CONSTANTS:
            self.fail(
                span,
                f"attribute access is not allowed: write {node.attr}{rest}, "
                f"not {_short(src)}{rest}",
            )
        self.fail(span, "attribute access (a.b) is not allowed")

    def compare(self, node: ast.Compare, depth: int) -> NoReturn:
        op = self.between(self.span(node.left), self.span(node.comparators[0]))
        self.fail(op, "comparisons are not supported")

    def boolop(self, node: ast.BoolOp, depth: int) -> NoReturn:
        op = self.between(self.span(node.values[0]), self.span(node.values[1]))
        word = "and" if isinstance(node.op, ast.And) else "or"
        self.fail(op, f"'{word}' is not supported: no booleans")

    def subscript(self, node: ast.Subscript, depth: int) -> NoReturn:
        value = node.value
        hint = _GROUPING
        if isinstance(value, ast.Name) and value.id in FUNCTIONS:
            hint = f"call functions with parentheses: {value.id}(x)"
        self.fail(self.span(node), "indexing with [...] is not supported", hint)

    def tuple_(self, node: ast.Tuple, depth: int) -> NoReturn:
        span = self.span(node)
        src = self.src(span)
        hint = "commas separate function arguments only"
        if re.fullmatch(r"\s*[0-9]+\s*,\s*[0-9]+\s*", src):
            whole, frac = (s.strip() for s in src.split(","))
            hint = f"for a decimal number use a point: {whole}.{frac}"
        if not node.elts:
            self.fail(span, "empty parentheses", "put an expression inside")
        self.fail(span, "a single expression is expected, not a comma-separated list", hint)


def _byte_table(line: str) -> list[int]:
    """UTF-8 byte offset -> character offset (Python's AST columns count bytes)."""
    table: list[int] = []
    for i, ch in enumerate(line):
        table.extend([i] * len(ch.encode("utf-8", "surrogatepass")))
    table.append(len(line))
    return table


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


# --- syntax errors: our own diagnosis first, Python's position as the fallback ----

_NUMBER = r"0[xXoObB]\w*|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9][0-9_]*)?"
_TOKEN = re.compile(
    rf"(?P<num>{_NUMBER})|(?P<name>[^\W\d]\w*)|(?P<str>'[^']*'?|\"[^\"]*\"?)"
    r"|(?P<op>\*\*|//|<<|>>|[<>=!]=|:=|\S)"
)
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


def _tokens(clean: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(clean) and clean[pos] == " ":
            pos += 1
        if pos >= len(clean):
            return tokens
        match = _TOKEN.match(clean, pos)
        assert match is not None and match.lastgroup is not None  # \S matches anything left
        tokens.append(_Token(match.lastgroup, match.group(), pos, match.end()))
        pos = match.end()


def _is_operand(tok: _Token) -> bool:
    return tok.kind == "num" or (tok.kind == "name" and not keyword.iskeyword(tok.text))


def _group_end(tokens: list[_Token], i: int) -> int:
    """Index of the last token of the operand starting at ``i`` (a call swallows its parens)."""
    if i + 1 < len(tokens) and tokens[i + 1].text == "(" and tokens[i].kind == "name":
        depth = 0
        for j in range(i + 1, len(tokens)):
            depth += {"(": 1, ")": -1}.get(tokens[j].text, 0)
            if depth == 0:
                return j
    return i


def _group_start(tokens: list[_Token], i: int) -> int:
    """Index of the first token of the operand ending at ``i``."""
    if tokens[i].text != ")":
        return i
    depth = 0
    for j in range(i, -1, -1):
        depth += {")": 1, "(": -1}.get(tokens[j].text, 0)
        if depth == 0:
            return j - 1 if j > 0 and tokens[j - 1].kind == "name" else j
    return i


def _diagnose(text: str, clean: str, lead: int, err: SyntaxError) -> ExpressionError:
    """Turn Python's SyntaxError into ours, explaining the usual mistakes ourselves."""
    tokens = _tokens(clean)

    def error(start: int, end: int, message: str, hint: str | None = None) -> ExpressionError:
        return ExpressionError(text, Span(start, end), message, hint)

    for i, tok in enumerate(tokens):
        bad = _invalid_character(tok)
        if bad is not None:
            ch = clean[bad]
            return error(bad, bad + 1, f"invalid character {_describe(ch)}", _CHAR_HINTS.get(ch))
        if tok.text in ("=", ":="):
            rhs = clean[tok.end :].strip()
            hint = f"did you mean {_short(rhs)}?" if rhs else None
            return error(
                tok.start, tok.end, "assignment is not supported: write only the expression", hint
            )
        if tok.text == ";":
            return error(tok.start, tok.end, "';' is not allowed: write a single expression")
        if i + 1 < len(tokens):
            nxt = tokens[i + 1]
            if _juxtaposed(tok, nxt):
                j = _group_end(tokens, i + 1)
                right = clean[nxt.start : tokens[j].end]
                if tok.kind == "name" and tok.text in FUNCTIONS:
                    return error(
                        tok.start,
                        tokens[j].end,
                        f"function '{tok.text}' must be called",
                        f"{tok.text} is a function: call it as {tok.text}({_short(right)})",
                    )
                k = _group_start(tokens, i)
                left = clean[tokens[k].start : tok.end]
                return error(
                    tokens[k].start,
                    tokens[j].end,
                    f"missing operator between {_short(left)} and {_short(right)}",
                    f"did you mean {_short(left)}*{_short(right)}?",
                )

    stack: list[_Token] = []
    for tok in tokens:
        if tok.text in _OPENERS:
            stack.append(tok)
        elif tok.text in _CLOSERS:
            if not stack:
                return error(
                    tok.start,
                    tok.end,
                    f"unmatched '{tok.text}'",
                    "remove it or add its opening bracket",
                )
            opener = stack.pop()
            if _OPENERS[opener.text] != tok.text:
                return error(
                    tok.start,
                    tok.end,
                    f"'{tok.text}' does not match '{opener.text}' (column {opener.start + 1})",
                    f"close '{opener.text}' with '{_OPENERS[opener.text]}'",
                )
    if stack:
        opener = stack[0]
        return error(
            opener.start,
            opener.end,
            f"'{opener.text}' is never closed",
            f"add the missing '{_OPENERS[opener.text]}'",
        )

    last = tokens[-1]
    if last.kind == "op" and last.text not in _CLOSERS:
        return error(last.start, last.end, f"incomplete expression: nothing after '{last.text}'")

    message = err.msg if isinstance(err.msg, str) else ""
    offset = err.offset if isinstance(err.offset, int) and err.offset > 0 else None
    pos = len(clean.rstrip()) if offset is None else min(lead + offset - 1, len(clean))
    found = next((t for t in tokens if t.end > pos), None)
    if found is None:
        return error(pos, pos, "incomplete expression")
    tok = found
    if "nested parentheses" in message:
        return _too_deep(text, Span(tok.start, tok.end))
    if "leading zeros" in message and tok.kind == "num":
        fixed = tok.text.lstrip("0_") or "0"
        return error(
            tok.start,
            tok.end,
            "leading zeros are not allowed in integers",
            f"write {_short(fixed)}",
        )
    if tok.kind == "str" or "string" in message:
        return error(
            tok.start, tok.end, "strings are not supported", "write the expression without quotes"
        )
    if tok.kind == "num" or "literal" in message:
        return error(tok.start, tok.end, f"invalid number {_short(tok.text)!r}")
    if tok.kind == "name" and keyword.iskeyword(tok.text):
        return error(tok.start, tok.end, f"'{tok.text}' is a reserved word and not supported here")
    return error(tok.start, tok.end, f"invalid syntax: unexpected '{_short(tok.text)}'")


def _invalid_character(tok: _Token) -> int | None:
    """Where a character Python never accepts outside strings sits in ``tok``, if anywhere."""
    if tok.kind == "op" and (not tok.text.isascii() or tok.text in "$?`\\!"):
        return tok.start
    if tok.kind == "name" and not tok.text.isidentifier():
        return tok.start + next(i for i, ch in enumerate(tok.text) if not f"a{ch}".isidentifier())
    return None


def _juxtaposed(left: _Token, right: _Token) -> bool:
    """Two operands with no operator between them, such as ``2x`` or ``x y``."""
    if not (_is_operand(left) or left.text == ")") or not _is_operand(right):
        return False
    touching = left.end == right.start
    literal_suffix = right.text in ("j", "J") or (left.text == "0" and right.text[0] in "xXoObB")
    if touching and left.kind == "num" and right.kind == "name" and literal_suffix:
        return False
    return not (touching and right.text.startswith("."))
