"""Where an AST node sits in the user's text, as a character span.

Why its own module: Python's AST counts columns in UTF-8 bytes of the stripped text,
while errors point at characters of the text as typed. The converter inherits these
positions so every error it raises lands under the right characters.
"""

from __future__ import annotations

import ast
from typing import NoReturn

from autograd_cli.expr.errors import ExpressionError
from autograd_cli.expr.nodes import Span


class Positions:
    """The user's text and the map from AST columns to its characters."""

    def __init__(self, text: str, clean: str, lead: int, body: str) -> None:
        self.text = text
        self.clean = clean
        self.lead = lead
        self.table: list[int] | None = None if body.isascii() else byte_table(body)

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


def byte_table(line: str) -> list[int]:
    """UTF-8 byte offset -> character offset (Python's AST columns count bytes)."""
    table: list[int] = []
    for i, ch in enumerate(line):
        table.extend([i] * len(ch.encode("utf-8", "surrogatepass")))
    table.append(len(line))
    return table
