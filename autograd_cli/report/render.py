"""Reports as text: table (rich), json, csv and markdown. Pure functions to strings,
so the CLI has one place that writes output.
"""

from __future__ import annotations

import csv
import io
import json

from autograd_cli.report.cells import (
    headline,
    point_cells,
    point_columns,
    point_text,
    sweep_cells,
    sweep_columns,
    sweep_headline,
)
from autograd_cli.report.model import Report
from autograd_cli.report.sweep_model import SweepReport

FORMATS: tuple[str, ...] = ("table", "json", "csv", "markdown")


def render(report: Report, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if fmt == "csv":
        return render_csv(report)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "table":
        return render_table(report, color=color, width=width)
    raise ValueError(f"unknown format {fmt!r}")


def _scripts(report: Report) -> list[tuple[str, str]]:
    """(title, script) for each --show-code script, by dtype, then backend."""
    return [
        (f"{backend}, {dtype}", script)
        for dtype, scripts in report.code.items()
        for backend, script in scripts.items()
    ]


#: Verdict colours: ok green, wrong red, everything else (inaccurate, special) yellow.
STYLES = {"ok": "green", "wrong": "red", "unsupported": "dim"}


def render_table(report: Report, *, color: bool = False, width: int | None = None) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=width or TABLE_WIDTH,
        highlight=False,
        soft_wrap=False,
    )
    for line in headline(report):
        console.print(Text(line))
    console.print(Text(point_text(report)))
    console.print()
    table = Table(show_edge=False, pad_edge=False, header_style="bold" if color else "")
    columns = point_columns(report)
    for column in columns:
        numeric = column not in ("dtype", "backend", "method", "version", "device", "wrt",
                                 "verdict")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    previous: tuple[object, ...] | None = None
    for row in report.rows:
        key = (row.dtype, tuple(row.point.items()), row.wrt)
        if previous is not None and key != previous:
            table.add_section()
        previous = key
        style = STYLES.get(row.status, "yellow") if color else ""
        cells = point_cells(report, row, columns)
        table.add_row(*cells[:-1], Text(cells[-1], style=style))
    console.print(table)
    console.print()
    console.print(Text(report.verdict(), style=("green" if report.ok else "red") if color else ""))
    text = "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())
    return text + "".join(f"\n{script}" for _, script in _scripts(report))


#: How wide tables may grow when no width is given (a pipe, a file): wide ones (several
#: dtypes, a device, finite-diff's estimate, long reasons) then stay unfolded.
TABLE_WIDTH = 240


def render_markdown(report: Report) -> str:
    columns = point_columns(report)
    lines = [f"`{line}`  " for line in headline(report)]
    lines += [point_text(report), ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in report.rows:
        cells = [cell.replace("|", "\\|") for cell in point_cells(report, row, columns)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"**{report.verdict()}**", ""]
    for title, script in _scripts(report):
        lines += [f"{title}:", "", "```python", script.rstrip("\n"), "```", ""]
    return "\n".join(lines)


CSV_COLUMNS = (
    "backend", "method", "version", "dtype", "wrt", "value", "derivative", "exact",
    "abs_error", "rel_error", "ulp_error", "status", "reason", "order", "mode",
    "error_estimate", "noise_floor", "tier",
)


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS[:4], *report.variables, *CSV_COLUMNS[4:]])
    for row in report.rows:
        data = row.to_dict()
        writer.writerow(
            [*(data[c] for c in CSV_COLUMNS[:4]),
             *(repr(row.point[n]) for n in report.variables),
             *("" if data[c] is None else data[c] for c in CSV_COLUMNS[4:])]
        )
    return buffer.getvalue()


# --------------------------------------------------------------------------- sweeps



def render_sweep(
    report: SweepReport, fmt: str, *, color: bool = False, width: int | None = None
) -> str:
    """A sweep's summary: one row per backend (CSV is per point: see sweep.CsvSink)."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    scripts = [row.code for row in report.rows if row.code is not None]
    if fmt == "markdown":
        return render_sweep_markdown(report) + "".join(
            f"\n```python\n{script.rstrip()}\n```\n" for script in scripts)
    if fmt == "table":
        return render_sweep_table(report, color=color, width=width) + "".join(
            f"\n{script}" for script in scripts)
    raise ValueError(f"no sweep summary in format {fmt!r}")


def render_sweep_table(
    report: SweepReport, *, color: bool = False, width: int | None = None
) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color,
                      width=width or TABLE_WIDTH, highlight=False, soft_wrap=False)
    for line in sweep_headline(report):
        console.print(Text(line))
    console.print()
    table = Table(show_edge=False, pad_edge=False, header_style="bold" if color else "")
    for column in sweep_columns(report):
        numeric = column not in ("dtype", "backend", "method", "version", "device", "special",
                                 "verdict")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    previous: str | None = None
    for row in report.rows:
        if previous is not None and row.dtype != previous:
            table.add_section()  # a section per dtype
        previous = row.dtype
        style = STYLES.get(row.status, "yellow") if color else ""
        cells = sweep_cells(report, row)
        table.add_row(*cells[:-1], Text(cells[-1], style=style))
    console.print(table)
    console.print()
    console.print(Text(report.verdict(), style=("green" if report.ok else "red") if color else ""))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def render_sweep_markdown(report: SweepReport) -> str:
    lines = [f"`{line}`  " for line in sweep_headline(report)[:2]]
    lines += [sweep_headline(report)[2], ""]
    columns = sweep_columns(report)
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in report.rows:
        cells = [cell.replace("|", "\\|") for cell in sweep_cells(report, row)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"**{report.verdict()}**", ""]
    return "\n".join(lines)
