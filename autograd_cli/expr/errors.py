"""ExpressionError, and how it shows the user where the text is wrong.

Why its own module: every stage of reading an expression (the parser, the literal
reader, the syntax diagnosis) raises the same error and shortens the text it quotes
the same way; the caret rendering is the one place that knows how wide a character is.
Stdlib only, like the parser.
"""

from __future__ import annotations

import unicodedata

from autograd_cli.expr.nodes import Span

_EXCERPT_WIDTH = 76
_SNIPPET = 40


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


def describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    shown = repr(ch) if ch.isprintable() else ""
    parts = [p for p in (shown, f"(U+{ord(ch):04X}{' ' + name if name else ''})") if p]
    return " ".join(parts)


def short(s: str, limit: int = _SNIPPET) -> str:
    if len(s) <= limit:
        return s
    half = (limit - 3) // 2
    return f"{s[:half]}...{s[-half:]}"
