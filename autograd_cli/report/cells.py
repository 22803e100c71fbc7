"""The cells of the report tables, text only: column names, each row's cells, the
headline. Why its own module: the rich and markdown tables (:mod:`.render`) and the
notebook's HTML (:mod:`.html`) show the same cells, so they are computed once, here,
without importing either report model (types only), so both may use it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autograd_cli.core.dtypes import shortest
from autograd_cli.core.model import notation
from autograd_cli.core.statuses import NOT_RUN_STATUSES

if TYPE_CHECKING:
    from autograd_cli.report.model import Report, Row
    from autograd_cli.report.sweep_model import SweepReport, SweepRow


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


def verdict_cell(row: Row) -> str:
    return row.status if not row.reason else f"{row.status}: {row.reason}"


def headline(report: Report) -> list[str]:
    lines = [f"f = {report.exact_expression}"]
    for name, text in report.derivative_expressions.items():
        lines.append(f"{notation(name)} = {text}")
    return lines


def prime(order: int) -> str:
    """The derivative's column: f' for order 1, f'' for order 2, and so on."""
    return "f" + "'" * order


def point_columns(report: Report) -> list[str]:
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


def point_cells(report: Report, row: Row, columns: list[str]) -> list[str]:
    """A row's cells under ``columns`` (:func:`point_columns`, computed once per table)."""
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
        verdict_cell(row),
    ]


def point_text(report: Report) -> str:
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


SWEEP_COLUMNS: tuple[str, ...] = (
    "backend", "method", "version", "points", "max abs err", "max rel err", "max ULP err",
    "worst at", "mean ULP", "NaN/inf", "special", "verdict",
)


def sweep_headline(report: SweepReport) -> list[str]:
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


def sweep_columns(report: SweepReport) -> list[str]:
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


def sweep_cells(report: SweepReport, row: SweepRow) -> list[str]:
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
    if row.failed or row.status in NOT_RUN_STATUSES:
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
