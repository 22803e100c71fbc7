"""Reports as HTML, for notebooks (``_repr_html_``): the headline, the table of the text
output (the same columns and cells as :mod:`autograd_cli.report.render`'s tables), each
row's verdict coloured by its tier, the verdict line; a sweep's figure inline as a PNG.

Every text is escaped: expressions, reasons and notes are user text.

Why it does not call :mod:`.render`: :class:`autograd_cli.report.common.Judged`
delegates here, and render imports the report models, which import common; the
columns are therefore made here from the report's fields alone (the tests hold them to
render's markdown table, cell for cell).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from typing import Any

from autograd_cli.core.dtypes import shortest
from autograd_cli.core.model import notation
from autograd_cli.core.statuses import INACCURATE, WRONG

#: A verdict cell's colour by tier: ok green, inaccurate orange, wrong red (special and
#: failed rows keep the text colour).
TIER_COLORS = {"ok": "green", INACCURATE: "darkorange", WRONG: "red"}

#: Columns shown left-aligned (names and words); the others are numbers.
TEXT_COLUMNS = frozenset({"dtype", "backend", "method", "version", "device", "wrt",
                          "special", "verdict"})

SWEEP_COLUMNS: tuple[str, ...] = (
    "backend", "method", "version", "points", "max abs err", "max rel err", "max ULP err",
    "worst at", "mean ULP", "NaN/inf", "special", "verdict",
)


def report_html(report: Any) -> str:
    """A point :class:`~autograd_cli.report.model.Report` or a
    :class:`~autograd_cli.report.sweep_model.SweepReport` as an HTML fragment."""
    if hasattr(report, "swept"):
        headline = sweep_headline(report)
        columns = sweep_columns(report)
        rows = [(row.status, sweep_cells(report, row)) for row in report.rows]
    else:
        headline = point_headline(report)
        columns = point_columns(report)
        rows = [(row.status, point_cells(report, row, columns)) for row in report.rows]
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
    for status, cells in rows:
        tds = []
        for column, cell in zip(columns, cells, strict=True):
            style = f"text-align: {align(column)}"
            if column == "verdict" and status in TIER_COLORS:
                style += f"; color: {TIER_COLORS[status]}"
            tds.append(f'<td style="{style}">{escape(cell)}</td>')
        body.append(f'<tr class="{escape(status)}">{"".join(tds)}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# ---------------------------------------------------------------- cells, as render's

def format_value(value: float | None, dtype: str) -> str:
    return "—" if value is None else shortest(value, dtype)


def format_error(value: float | None) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:.2e}"


def format_ulps(value: float | None) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:.3g}"


def point_headline(report: Any) -> list[str]:
    lines = [f"f = {report.exact_expression}"]
    lines += [f"{notation(name)} = {text}" for name, text in
              report.derivative_expressions.items()]
    kinds = ", ".join(report.dtypes)
    if report.device != "cpu":
        kinds += f", {report.device}"
    points = list(dict.fromkeys(tuple(row.point.items()) for row in report.rows))
    if len(points) == 1:
        where = ", ".join(f"{n} = {format_value(v, report.dtype)}" for n, v in points[0])
        lines.append(f"at {where} ({kinds})")
    else:
        each = max(len({tuple(row.point.items()) for row in report.rows if row.dtype == d})
                   for d in report.dtypes)
        lines.append(f"at 1 point, as each dtype rounds it ({kinds})" if each == 1
                     else f"at {each} points ({kinds})")
    return lines


def point_columns(report: Any) -> list[str]:
    columns = ["dtype"] if len(report.dtypes) > 1 else []
    columns += ["backend", "method", "version"]
    if report.device != "cpu":
        columns.append("device")
    if len(report.variables) > 1 or len({tuple(r.point.items()) for r in report.rows}) > 1:
        columns += list(report.variables)
    if len(report.wrt) > 1:
        columns.append("wrt")
    estimates = any(row.error_estimate is not None for row in report.rows)
    errors = ["abs err", "est. err"] if estimates else ["abs err"]
    return [*columns, "f", "f" + "'" * report.order, *errors, "floor", "rel err",
            "ULP err", "verdict"]


def point_cells(report: Any, row: Any, columns: Sequence[str]) -> list[str]:
    cells = [row.dtype] if "dtype" in columns else []
    cells += [row.backend, row.method, row.version or "—"]
    if "device" in columns:
        cells.append(row.device)
    cells += [format_value(row.point[n], row.dtype) for n in report.variables if n in columns]
    if "wrt" in columns:
        cells.append(row.wrt)
    return [
        *cells,
        format_value(row.value, row.dtype),
        format_value(row.derivative, row.dtype),
        format_error(row.abs_error),
        *([format_error(row.error_estimate)] if "est. err" in columns else []),
        format_error(row.noise_floor),
        format_error(row.rel_error),
        format_ulps(row.ulp_error),
        row.status if not row.reason else f"{row.status}: {row.reason}",
    ]


def sweep_headline(report: Any) -> list[str]:
    grid = report.sweep
    kind = "both ends" if grid["endpoint"] else f"step {grid['step']!r}, end excluded"
    shown = "float64" if report.several else report.dtype
    fixed = "".join(f", {n} = {format_value(v, shown)}" for n, v in report.fixed.items())
    kinds = ", ".join(report.dtypes)
    if report.device != "cpu":
        kinds += f", {report.device}"
    return [
        f"f = {report.exact_expression}",
        f"{notation(report.label)} = {report.derivative_expressions[report.label]}",
        f"{report.swept} from {grid['start']!r} to {grid['stop']!r}: {report.points:,} "
        f"points ({kind}, {kinds}){fixed}",
    ]


def _estimates(report: Any) -> bool:
    return any(row.max_error_estimate is not None for row in report.rows)


def sweep_columns(report: Any) -> list[str]:
    columns = ["dtype"] if report.several else []
    columns += list(SWEEP_COLUMNS[:3])
    if report.device != "cpu":
        columns.append("device")
    columns += list(SWEEP_COLUMNS[3:])
    if _estimates(report):
        columns.insert(columns.index("max abs err") + 1, "max est. err")
    return columns


def sweep_cells(report: Any, row: Any) -> list[str]:
    if row.failed:
        verdict = f"{row.status}: {row.reason}" if row.reason else row.status
    elif row.wrong or row.inaccurate:
        verdict = ", ".join(f"{n:,} {tier}" for tier, n in (("wrong", row.wrong),
                                                              ("inaccurate", row.inaccurate))
                            if n)
    else:
        verdict = "ok"
    mean = "—" if row.mean_ulp_error is None else (
        "0" if row.mean_ulp_error == 0 else f"{row.mean_ulp_error:.3g}")
    estimate = []
    if _estimates(report):
        cell = format_error(row.max_error_estimate)
        if row.estimate_exceeded:
            cell += f" (exceeded at {row.estimate_exceeded:,})"
        estimate = [cell]
    return [
        *([row.dtype] if report.several else []),
        row.backend, row.method, row.version or "—",
        *([row.device] if report.device != "cpu" else []),
        f"{row.points:,}",
        format_error(row.max_abs_error),
        *estimate,
        format_error(row.max_rel_error),
        format_ulps(row.max_ulp_error),
        format_value(row.worst_at, row.dtype),
        mean,
        f"{row.nonfinite:,}",
        ", ".join(f"{n:,} {status}" for status, n in row.special.items()) or "0",
        verdict,
    ]
