"""Reports as text: table (rich), json, csv and markdown. Pure functions to strings,
so the CLI has one place that writes output.
"""

from __future__ import annotations

import csv
import io
import json

from autograd_cli.core.dtypes import shortest
from autograd_cli.core.model import notation
from autograd_cli.report.model import Report, Row
from autograd_cli.report.sweep_model import SweepReport, SweepRow

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


def format_value(value: float | None, dtype: str) -> str:
    """The shortest text that reads back as the same number of ``dtype``."""
    if value is None:
        return "—"
    return shortest(value, dtype)


def format_error(value: float | None) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:.2e}"


def format_ulps(value: float | None) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:.3g}"


#: Verdict colours: ok green, wrong red, everything else (inaccurate, special) yellow.
STYLES = {"ok": "green", "wrong": "red"}


def _verdict_cell(row: Row) -> str:
    return row.status if not row.reason else f"{row.status}: {row.reason}"


def _headline(report: Report) -> list[str]:
    lines = [f"f = {report.exact_expression}"]
    for name, text in report.derivative_expressions.items():
        lines.append(f"{notation(name)} = {text}")
    return lines


def prime(order: int) -> str:
    """The derivative's column: f' for order 1, f'' for order 2, and so on."""
    return "f" + "'" * order


def _columns(report: Report) -> list[str]:
    columns = ["dtype"] if len(report.dtypes) > 1 else []
    columns += ["backend", "method", "version"]
    if report.device != "cpu":
        columns.append("device")
    if len(report.variables) > 1 or len({tuple(r.point.items()) for r in report.rows}) > 1:
        columns += list(report.variables)
    if len(report.wrt) > 1:
        columns.append("wrt")
    errors = ["abs err", "est. err"] if _estimates(report) else ["abs err"]
    return [*columns, "f", prime(report.order), *errors, "floor", "rel err", "ULP err",
            "verdict"]


def _estimates(report: Report) -> bool:
    """Whether a backend estimated its own error (finite-diff): shown beside the true one."""
    return any(row.error_estimate is not None for row in report.rows)


def _cells(report: Report, row: Row, columns: list[str]) -> list[str]:
    """A row's cells under ``columns`` (:func:`_columns`, computed once per table)."""
    cells = [row.dtype] if "dtype" in columns else []
    cells += [row.backend, row.method, row.version or "—"]
    if "device" in columns:
        cells.append(row.device)
    for name in report.variables:
        if name in columns:
            cells.append(format_value(row.point[name], row.dtype))
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
        _verdict_cell(row),
    ]


def _point_text(report: Report) -> str:
    kinds = ", ".join(report.dtypes)
    if report.device != "cpu":
        kinds += f", {report.device}"
    points = list(dict.fromkeys(tuple(row.point.items()) for row in report.rows))
    if len(points) == 1:
        where = ", ".join(f"{n} = {format_value(v, report.dtype)}" for n, v in points[0])
        return f"at {where} ({kinds})"
    each = max(
        len({tuple(row.point.items()) for row in report.rows if row.dtype == dtype})
        for dtype in report.dtypes
    )
    if each == 1:
        return f"at 1 point, as each dtype rounds it ({kinds})"
    return f"at {each} points ({kinds})"


def _scripts(report: Report) -> list[tuple[str, str]]:
    """(title, script) for each --show-code script, by dtype, then backend."""
    return [
        (f"{backend}, {dtype}", script)
        for dtype, scripts in report.code.items()
        for backend, script in scripts.items()
    ]


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
    for line in _headline(report):
        console.print(Text(line))
    console.print(Text(_point_text(report)))
    console.print()
    table = Table(show_edge=False, pad_edge=False, header_style="bold" if color else "")
    columns = _columns(report)
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
        cells = _cells(report, row, columns)
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
    columns = _columns(report)
    lines = [f"`{line}`  " for line in _headline(report)]
    lines += [_point_text(report), ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in report.rows:
        cells = [cell.replace("|", "\\|") for cell in _cells(report, row, columns)]
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

SWEEP_COLUMNS: tuple[str, ...] = (
    "backend", "method", "version", "points", "max abs err", "max rel err", "max ULP err",
    "worst at", "mean ULP", "NaN/inf", "special", "verdict",
)


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


def _sweep_headline(report: SweepReport) -> list[str]:
    lines = [f"f = {report.exact_expression}",
             f"{notation(report.label)} = {report.derivative_expressions[report.label]}"]
    grid = report.sweep
    kind = "both ends" if grid["endpoint"] else f"step {grid['step']!r}, end excluded"
    # Several dtypes round the fixed values each their own way: shown as given.
    shown = "float64" if report.several else report.dtype
    fixed = "".join(f", {n} = {format_value(v, shown)}" for n, v in report.fixed.items())
    kinds = ", ".join(report.dtypes)
    if report.device != "cpu":
        kinds += f", {report.device}"
    lines.append(
        f"{report.swept} from {grid['start']!r} to {grid['stop']!r}: {report.points:,} points "
        f"({kind}, {kinds}){fixed}"
    )
    return lines


def _sweep_columns(report: SweepReport) -> list[str]:
    """SWEEP_COLUMNS, after a ``dtype`` column with several dtypes and with a
    ``device`` column when --device is not the CPU (as point tables)."""
    columns = ["dtype"] if report.several else []
    columns += list(SWEEP_COLUMNS[:3])
    if report.device != "cpu":
        columns.append("device")
    columns += list(SWEEP_COLUMNS[3:])
    if _sweep_estimates(report):
        columns.insert(columns.index("max abs err") + 1, "max est. err")
    return columns


def _sweep_estimates(report: SweepReport) -> bool:
    """Whether a backend estimated its own error (finite-diff): shown beside the true one."""
    return any(row.max_error_estimate is not None for row in report.rows)


def _sweep_cells(report: SweepReport, row: SweepRow) -> list[str]:
    cells = _sweep_summary_cells(row)
    before = [row.dtype] if report.several else []
    device = [row.device] if report.device != "cpu" else []
    if _sweep_estimates(report):
        cells.insert(5, _estimate_cell(row))
    return [*before, *cells[:3], *device, *cells[3:]]


def _estimate_cell(row: SweepRow) -> str:
    """The largest own estimate, and where it failed to bound the true error."""
    cell = format_error(row.max_error_estimate)
    if row.estimate_exceeded:
        cell += f" (exceeded at {row.estimate_exceeded:,})"
    return cell


def _sweep_summary_cells(row: SweepRow) -> list[str]:
    if row.failed:
        verdict = f"{row.status}: {row.reason}" if row.reason else row.status
    elif row.wrong or row.inaccurate:
        verdict = ", ".join(f"{n:,} {tier}" for tier, n in (("wrong", row.wrong),
                                                              ("inaccurate", row.inaccurate))
                            if n)
    else:
        verdict = "ok"
    mean = "—" if row.mean_ulp_error is None else (
        "0" if row.mean_ulp_error == 0 else f"{row.mean_ulp_error:.3g}"
    )
    return [
        row.backend,
        row.method,
        row.version or "—",
        f"{row.points:,}",
        format_error(row.max_abs_error),
        format_error(row.max_rel_error),
        format_ulps(row.max_ulp_error),
        format_value(row.worst_at, row.dtype),
        mean,
        f"{row.nonfinite:,}",
        ", ".join(f"{n:,} {status}" for status, n in row.special.items()) or "0",
        verdict,
    ]


def render_sweep_table(
    report: SweepReport, *, color: bool = False, width: int | None = None
) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color,
                      width=width or TABLE_WIDTH, highlight=False, soft_wrap=False)
    for line in _sweep_headline(report):
        console.print(Text(line))
    console.print()
    table = Table(show_edge=False, pad_edge=False, header_style="bold" if color else "")
    for column in _sweep_columns(report):
        numeric = column not in ("dtype", "backend", "method", "version", "device", "special",
                                 "verdict")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    previous: str | None = None
    for row in report.rows:
        if previous is not None and row.dtype != previous:
            table.add_section()  # a section per dtype
        previous = row.dtype
        style = STYLES.get(row.status, "yellow") if color else ""
        cells = _sweep_cells(report, row)
        table.add_row(*cells[:-1], Text(cells[-1], style=style))
    console.print(table)
    console.print()
    console.print(Text(report.verdict(), style=("green" if report.ok else "red") if color else ""))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def render_sweep_markdown(report: SweepReport) -> str:
    lines = [f"`{line}`  " for line in _sweep_headline(report)[:2]]
    lines += [_sweep_headline(report)[2], ""]
    columns = _sweep_columns(report)
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in report.rows:
        cells = [cell.replace("|", "\\|") for cell in _sweep_cells(report, row)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"**{report.verdict()}**", ""]
    return "\n".join(lines)
