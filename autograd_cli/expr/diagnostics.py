"""Explaining a rejected expression: what is wrong and a hint to fix it.

Why its own module: Python's SyntaxError says little (``2x`` is "invalid decimal
literal"), so a failed ``ast.parse`` is diagnosed again here from our own tokens:
juxtaposed operands ("did you mean 2*x?"), unbalanced brackets, look-alike characters,
assignments. The messages and hints for constructs the parser refuses live here too.
"""

from __future__ import annotations

import ast
import difflib
import keyword
import re
from dataclasses import dataclass
from typing import NoReturn

from autograd_cli.expr.errors import ExpressionError, describe, short
from autograd_cli.expr.functions import CONSTANTS, FUNCTIONS
from autograd_cli.expr.limits import too_deep
from autograd_cli.expr.nodes import Span
from autograd_cli.expr.positions import Positions

_KNOWN = ", ".join(sorted(FUNCTIONS))
_ALIASES = {
    "ln": "log",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "arctan2": "atan2",
    "expit": "sigmoid",
    "logistic": "sigmoid",
    "fabs": "abs",
    "sgn": "sign",
    "signum": "sign",
    "gammaln": "lgamma",
    "loggamma": "lgamma",
    "psi": "digamma",
    "min": "minimum",
    "max": "maximum",
    "fmin": "minimum",
    "fmax": "maximum",
    "hardtanh": "clip",
}
#: What a spelling from another library means here, said after the suggestion.
_NOTES = {
    "hardtanh": "hardtanh(x) is clip(x, -1, 1)",
    "min": "minimum(x, y) is the smaller of two values",
    "max": "maximum(x, y) is the larger of two values",
}
_CHAR_HINTS = {
    **dict.fromkeys("×·⋅∗✕", "use * for multiplication"),
    **dict.fromkeys("÷∕", "use / for division"),
    **dict.fromkeys("−–—‐‑", "use the ASCII minus sign -"),
    **dict.fromkeys("⁰¹²³⁴⁵⁶⁷⁸⁹", "use ** for powers, e.g. x**2"),
    "√": "use sqrt(x)",
    "!": "factorials and '!' are not supported",
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


def _one_of(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


class Refusals(Positions):
    """What the converter refuses, explained: the handlers of AST nodes outside the
    language, and calls that are not calls of a known function. Each one raises."""

    def reject(self, node: ast.AST) -> NoReturn:
        message, hint = _REJECTED.get(
            type(node), (f"{type(node).__name__} expressions are not supported", None)
        )
        self.fail(self.span(node), message, hint)

    def juxtaposition(self, whole: Span, callee: Span) -> NoReturn:
        """``2(x+1)``, ``(x+1)(x-1)``: Python reads a call, the user meant a product."""
        paren = callee.end
        while paren < whole.end and self.clean[paren] in " )":
            paren += 1
        left = self.clean[whole.start : paren].strip()
        right = self.clean[paren : whole.end]
        self.fail(
            whole,
            f"missing operator between {short(left)} and {short(right)}",
            f"did you mean {short(left)}*{short(right)}?",
        )

    def unknown_function(self, name: str, fspan: Span, whole: Span) -> NoReturn:
        rest = self.clean[fspan.end : whole.end]
        product = f"{short(name)}*{short(rest)}"
        if name in CONSTANTS:
            self.fail(fspan, f"'{name}' is a constant, not a function", f"did you mean {product}?")
        close = [_ALIASES[name]] if _ALIASES.get(name) in FUNCTIONS else []
        close += [
            c
            for c in difflib.get_close_matches(name.lower(), list(FUNCTIONS), n=3, cutoff=0.6)
            if c not in close
        ]
        if close:
            note = f" {_NOTES[name]}." if name in _NOTES else ""
            self.fail(
                fspan,
                f"unknown function '{short(name)}'",
                f"did you mean {_one_of(close)}?{note} Known functions: {_KNOWN}",
            )
        self.fail(
            fspan,
            f"'{short(name)}' is not a function",
            f"to multiply, write {product}. Known functions: {_KNOWN}",
        )

    def keyword_argument(self, name: str, call: ast.Call, kw: ast.keyword) -> NoReturn:
        """``f(x, a=1)``: parameters are positional (the hint writes the call so);
        gelu's ``approximate`` is a function of its own here."""
        spec = FUNCTIONS[name]
        hint = f"write {spec.signature()}, with arguments in order"
        given = {k.arg: self.src(self.span(k.value)) for k in call.keywords}
        names = [p.name for p in spec.params]
        if name == "gelu" and kw.arg == "approximate":
            hint = "for the tanh approximation write gelu_tanh(x); gelu(x) is the exact erf form"
        elif set(given) <= set(names) and len(call.args) >= spec.arity:
            shown = [self.src(self.span(a)) for a in call.args]
            for param in spec.params[len(call.args) - spec.arity :]:
                default = None if param.default is None else str(float(param.default))
                shown.append(given.get(param.name) or default or param.name)
            written = short(f"{name}({', '.join(shown)})", 60)
            hint = f"parameters are positional: write {written}"
        self.fail(self.span(kw), "keyword arguments are not supported", hint)

    def attribute(self, node: ast.Attribute, depth: int, call: ast.Call | None = None) -> NoReturn:
        span = self.span(node)
        src = self.src(span)
        rest = ""
        if call is not None:
            rest = short(self.clean[span.end : self.span(call).end].strip(), 20)
        if node.attr in FUNCTIONS or node.attr in CONSTANTS:
            self.fail(
                span,
                f"attribute access is not allowed: write {node.attr}{rest}, "
                f"not {short(src)}{rest}",
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


def diagnose(text: str, clean: str, lead: int, err: SyntaxError) -> ExpressionError:
    """Turn Python's SyntaxError into ours, explaining the usual mistakes ourselves."""
    tokens = _tokens(clean)

    def error(start: int, end: int, message: str, hint: str | None = None) -> ExpressionError:
        return ExpressionError(text, Span(start, end), message, hint)

    for i, tok in enumerate(tokens):
        bad = _invalid_character(tok)
        if bad is not None:
            ch = clean[bad]
            return error(bad, bad + 1, f"invalid character {describe(ch)}", _CHAR_HINTS.get(ch))
        if tok.text in ("=", ":="):
            rhs = clean[tok.end :].strip()
            hint = f"did you mean {short(rhs)}?" if rhs else None
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
                        f"{tok.text} is a function: call it as {tok.text}({short(right)})",
                    )
                k = _group_start(tokens, i)
                left = clean[tokens[k].start : tok.end]
                return error(
                    tokens[k].start,
                    tokens[j].end,
                    f"missing operator between {short(left)} and {short(right)}",
                    f"did you mean {short(left)}*{short(right)}?",
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
        return too_deep(text, Span(tok.start, tok.end))
    if "leading zeros" in message and tok.kind == "num":
        fixed = tok.text.lstrip("0_") or "0"
        return error(
            tok.start,
            tok.end,
            "leading zeros are not allowed in integers",
            f"write {short(fixed)}",
        )
    if tok.kind == "str" or "string" in message:
        return error(
            tok.start, tok.end, "strings are not supported", "write the expression without quotes"
        )
    if tok.kind == "num" or "literal" in message:
        return error(tok.start, tok.end, f"invalid number {short(tok.text)!r}")
    if tok.kind == "name" and keyword.iskeyword(tok.text):
        return error(tok.start, tok.end, f"'{tok.text}' is a reserved word and not supported here")
    return error(tok.start, tok.end, f"invalid syntax: unexpected '{short(tok.text)}'")


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
