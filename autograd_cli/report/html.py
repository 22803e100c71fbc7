"""Reports as HTML, for notebooks (``_repr_html_``): the headline, the table of the text
output (the same columns and cells as :mod:`autograd_cli.report.render`'s tables), each
row's verdict coloured by its tier, the verdict line; a sweep's figure inline as a PNG.

Every text is escaped: expressions, reasons and notes are user text.

The cells come from :mod:`.cells`, as the text tables' do (render imports the report
models, which delegate here: importing render would be a cycle).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from typing import Any

from autograd_cli.core.statuses import INACCURATE, WRONG
from autograd_cli.report import cells

#: A verdict cell's colour by tier: ok green, inaccurate orange, wrong red (special and
#: failed rows keep the text colour).
TIER_COLORS = {"ok": "green", INACCURATE: "darkorange", WRONG: "red"}

#: Columns shown left-aligned (names and words); the others are numbers.
TEXT_COLUMNS = frozenset({"dtype", "backend", "method", "version", "device", "wrt",
                          "special", "verdict"})


def report_html(report: Any) -> str:
    """A point :class:`~autograd_cli.report.model.Report` or a
    :class:`~autograd_cli.report.sweep_model.SweepReport` as an HTML fragment."""
    if hasattr(report, "swept"):
        headline = cells.sweep_headline(report)
        columns = cells.sweep_columns(report)
        rows = [(row.status, cells.sweep_cells(report, row)) for row in report.rows]
    else:
        headline = [*cells.headline(report), cells.point_text(report)]
        columns = cells.point_columns(report)
        rows = [(row.status, cells.point_cells(report, row, columns)) for row in report.rows]
    colour = "green" if report.ok else "red"
    return (
        '<div class="gradcheck-report">'
        + "".join(f"<div><code>{escape(line)}</code></div>" for line in headline)
        + table_html(columns, rows)
        + f'<p style="color: {colour}; font-weight: bold">{escape(report.verdict())}</p>'
        + "</div>"
    )


def figure_html(figure: Any, alt: str = "gradcheck sweep figure") -> str:
    """A matplotlib Figure as an inline ``<img>`` (PNG, base64)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def table_html(columns: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """``<table>``: a header row, then one row per (status, cells); the last cell is the
    verdict, coloured by the status's tier."""
    def align(column: str) -> str:
        return "left" if column in TEXT_COLUMNS else "right"

    head = "".join(f'<th style="text-align: {align(c)}">{escape(c)}</th>' for c in columns)
    body = []
    for status, texts in rows:
        tds = []
        for column, cell in zip(columns, texts, strict=True):
            style = f"text-align: {align(column)}"
            if column == "verdict" and status in TIER_COLORS:
                style += f"; color: {TIER_COLORS[status]}"
            tds.append(f'<td style="{style}">{escape(cell)}</td>')
        body.append(f'<tr class="{escape(status)}">{"".join(tds)}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
