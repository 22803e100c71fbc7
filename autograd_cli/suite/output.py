"""What a finished suite run says: its exit code, the closing verdict, the summary
(table, markdown, CSV) and the whole run as JSON.

Its own module because these are views of the results, computed after every case ran;
:mod:`.junit` is the one for CI's XML.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from autograd_cli.report.common import EXIT_OK
from autograd_cli.suite.model import ERROR, FAILED, PASSED, SKIPPED, CaseResult, Suite

JSON_SCHEMA_VERSION = 1


def exit_code(results: Sequence[CaseResult]) -> int:
    """Worst case wins: 3 (a backend could not run) > 2 > 1 (mismatch) > 0."""
    return max((r.exit_code for r in results), default=EXIT_OK)


def counts(results: Sequence[CaseResult]) -> dict[str, int]:
    found = {outcome: 0 for outcome in (PASSED, FAILED, ERROR, SKIPPED)}
    for result in results:
        found[result.outcome] += 1
    return {"total": len(results), **found}


def verdict(results: Sequence[CaseResult]) -> str:
    """The closing line, naming the cases that did not pass."""
    tally = counts(results)
    ran = tally["total"] - tally[SKIPPED]
    if not results:
        return "OK: no cases selected"
    skipped = f", {tally[SKIPPED]} skipped" if tally[SKIPPED] else ""
    if exit_code(results) == EXIT_OK:
        return f"OK: {ran} {'case' if ran == 1 else 'cases'} passed{skipped}"
    parts = []
    for outcome, label in ((FAILED, "failed"), (ERROR, "could not run")):
        ids = [r.case.id for r in results if r.outcome == outcome]
        if ids:
            parts.append(f"{len(ids)} {label}: {', '.join(ids)}")
    return f"FAIL: {tally[PASSED]} of {ran} passed; " + "; ".join(parts) + skipped


def worst_ulps(result: CaseResult) -> float | None:
    if result.report is None:
        return None
    found = [r.ulp_error for r in result.report.rows if r.ulp_error is not None]
    return max(found) if found else None


def _summary_rows(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    from autograd_cli.report.render import format_ulps

    several = len({r.case.suite for r in results}) > 1
    rows = []
    for r in results:
        request = r.case.request
        rows.append({
            "case": r.case.nodeid if several else r.case.id,
            "dtype": request.dtype,
            "points": str(request.size),
            "backends": ",".join(request.backends),
            "worst ULP": format_ulps(worst_ulps(r)),
            "time": f"{r.seconds:.2f} s",
            "result": f"ERROR (exit {r.exit_code})" if r.outcome == ERROR
            else r.outcome.upper() if r.outcome == FAILED else r.outcome,
        })
    return rows


def render_summary(results: Sequence[CaseResult], fmt: str) -> str:
    """The summary as ``fmt`` (table, markdown, csv); failing cases' tables follow."""
    rows = _summary_rows(results)
    columns = ["case", "dtype", "points", "backends", "worst ULP", "time", "result"]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["suite", "case", "dtype", "points", "backends", "worst_ulp",
                         "seconds", "outcome", "exit_code", "message"])
        for r in results:
            ulps = worst_ulps(r)
            writer.writerow([r.case.suite, r.case.id, r.case.request.dtype,
                             r.case.request.size, ",".join(r.case.request.backends),
                             "" if ulps is None else repr(ulps), f"{r.seconds:.3f}",
                             r.outcome, r.exit_code, r.message])
        return buffer.getvalue()
    failing = [r for r in results if r.outcome in (FAILED, ERROR)]
    if fmt == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(row[c].replace("|", "\\|") for c in columns) + " |"
                  for row in rows]
        for r in failing:
            lines += ["", f"### {r.case.nodeid}", "", "```", r.details().rstrip(), "```"]
        return "\n".join([*lines, "", f"**{verdict(results)}**", ""])
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, header_style="")
    for column in columns:
        numeric = column in ("points", "worst ULP", "time")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    buffer = io.StringIO()
    console = Console(file=buffer, width=160, no_color=True, highlight=False, soft_wrap=False)
    for r in failing:
        console.print(Text(f"── {r.case.nodeid} " + "─" * 20))
        console.print(Text(r.details().rstrip()))
        console.print()
    console.print(table)
    console.print()
    console.print(Text(verdict(results)))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def to_dict(suites: Sequence[Suite], results: Sequence[CaseResult],
            selection: Mapping[str, Any]) -> dict[str, Any]:
    """The whole run as JSON: each case with its full report (the single-run contract)."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "ok": exit_code(results) == EXIT_OK,
        "exit_code": exit_code(results),
        "suites": [{"name": s.name, "path": str(s.path), "description": s.description,
                    "cases": len(s.cases)} for s in suites],
        "selection": dict(selection),
        "summary": counts(results),
        "verdict": verdict(results),
        "cases": [
            {
                "suite": r.case.suite,
                "name": r.case.name,
                "id": r.case.id,
                "dtype": r.case.request.dtype,
                "device": r.case.request.device,
                "outcome": r.outcome,
                "exit_code": r.exit_code,
                "seconds": round(r.seconds, 6),
                "message": r.message,
                "problems": list(r.problems),
                "report": None if r.report is None else r.report.to_dict(),
            }
            for r in results
        ],
    }


def render_json(suites: Sequence[Suite], results: Sequence[CaseResult],
                selection: Mapping[str, Any]) -> str:
    return json.dumps(to_dict(suites, results, selection), indent=2) + "\n"
