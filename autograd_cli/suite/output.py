"""What a finished suite run says: its exit code, the closing verdict, the summary
(table, markdown, CSV) and the whole run as JSON; and the outputs' paths, refused up
front when two would land in the same file.

Its own module because these are views of the results, computed after every case ran
(or after a signal stopped the run: ``interrupted`` is that signal, the cases that did
not finish are ``skipped``); :mod:`.junit` is the one for CI's XML.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autograd_cli.report.common import EXIT_OK, EXIT_SIGNAL_BASE
from autograd_cli.suite.model import ERROR, FAILED, PASSED, SKIPPED, Case, CaseResult, Suite

JSON_SCHEMA_VERSION = 1


def exit_code(results: Sequence[CaseResult], interrupted: int | None = None) -> int:
    """Worst case wins: 3 (a backend could not run) > 2 > 1 (mismatch) > 0; a run a
    signal stopped exits 128 + its number whatever the cases said."""
    if interrupted is not None:
        return EXIT_SIGNAL_BASE + int(interrupted)
    return max((r.exit_code for r in results), default=EXIT_OK)


def interruption(signum: int) -> str:
    """``interrupted (SIGINT)``: the message of every case a signal left unfinished."""
    return f"interrupted ({signal.Signals(signum).name})"


def not_run(cases: Sequence[Case], finished: Sequence[CaseResult],
            signum: int) -> list[CaseResult]:
    """The results of a run a signal stopped: those that finished, then every other
    case ``skipped`` with the reason (the one in flight included)."""
    done = {id(r.case) for r in finished}
    why = [f"not run: {interruption(signum)}"]
    return [*finished, *(CaseResult(c, SKIPPED, EXIT_OK, problems=why)
                         for c in cases if id(c) not in done)]


def counts(results: Sequence[CaseResult]) -> dict[str, int]:
    found = {outcome: 0 for outcome in (PASSED, FAILED, ERROR, SKIPPED)}
    for result in results:
        found[result.outcome] += 1
    return {"total": len(results), **found}


def verdict(results: Sequence[CaseResult], interrupted: int | None = None) -> str:
    """The closing line, naming the cases that did not pass."""
    tally = counts(results)
    ran = tally["total"] - tally[SKIPPED]
    parts = []
    for outcome, label in ((FAILED, "failed"), (ERROR, "could not run")):
        ids = [r.case.id for r in results if r.outcome == outcome]
        if ids:
            parts.append(f"{len(ids)} {label}: {', '.join(ids)}")
    if interrupted is not None:
        stopped = f"{interruption(interrupted).upper()} after {ran} of {tally['total']} cases"
        return f"{stopped}: " + "; ".join(
            [f"{tally[PASSED]} passed", *parts, f"{tally[SKIPPED]} not run"])
    if not results:
        return "OK: no cases selected"
    skipped = f", {tally[SKIPPED]} skipped" if tally[SKIPPED] else ""
    if exit_code(results) == EXIT_OK:
        return f"OK: {ran} {'case' if ran == 1 else 'cases'} passed{skipped}"
    return f"FAIL: {tally[PASSED]} of {ran} passed; " + "; ".join(parts) + skipped


def worst_ulps(result: CaseResult) -> float | None:
    if result.report is None:
        return None
    found = [r.ulp_error for r in result.report.rows if r.ulp_error is not None]
    return max(found) if found else None


def _summary_rows(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    from autograd_cli.report.cells import format_ulps

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
            else r.outcome.upper() if r.outcome == FAILED
            else r.outcome + _inaccurate(r) + _known(r),
        })
    return rows


def _known(result: CaseResult) -> str:
    """" (known: tensorflow)" for a passing case whose failing rows are its known
    framework errors; " (known failure not seen: tensorflow)" when one is gone."""
    seen = [line.split()[1] for line in result.known if line.startswith("known: ")]
    gone = [line.split()[4] for line in result.known if line.startswith("known failure")]
    parts = ([f"known: {', '.join(seen)}"] if seen else []) + (
        [f"known failure not seen: {', '.join(gone)}"] if gone else [])
    return f" ({'; '.join(parts)})" if parts else ""


def _inaccurate(result: CaseResult) -> str:
    """" (3 inaccurate)" for a passing case with inaccurate rows (see its JUnit
    system-out); "" otherwise."""
    count = 0 if result.report is None else len(result.report.inaccurate)
    return f" ({count} inaccurate)" if count else ""


def render_summary(results: Sequence[CaseResult], fmt: str,
                   interrupted: int | None = None) -> str:
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
        return "\n".join([*lines, "", f"**{verdict(results, interrupted)}**", ""])
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
    console.print(Text(verdict(results, interrupted)))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def to_dict(suites: Sequence[Suite], results: Sequence[CaseResult],
            selection: Mapping[str, Any], interrupted: int | None = None,
            config_files: Sequence[str] = ()) -> dict[str, Any]:
    """The whole run as JSON: each case with its full report (the single-run contract);
    ``interrupted`` names the signal that stopped the run, or is null; ``config_files``
    the configuration files in use."""
    code = exit_code(results, interrupted)
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "ok": code == EXIT_OK,
        "exit_code": code,
        "interrupted": None if interrupted is None else signal.Signals(interrupted).name,
        "suites": [{"name": s.name, "path": str(s.path), "description": s.description,
                    "cases": len(s.cases)} for s in suites],
        "selection": dict(selection),
        "config_files": list(config_files),
        "summary": counts(results),
        "verdict": verdict(results, interrupted),
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
                "known": list(r.known),
                "report": None if r.report is None else r.report.to_dict(),
            }
            for r in results
        ],
    }


def render_json(suites: Sequence[Suite], results: Sequence[CaseResult],
                selection: Mapping[str, Any], interrupted: int | None = None,
                config_files: Sequence[str] = ()) -> str:
    return json.dumps(to_dict(suites, results, selection, interrupted, config_files),
                      indent=2) + "\n"


def plot_path(case: Case) -> Path | None:
    """Where the case draws its figure (``{dtype}`` filled in), or None."""
    if case.plot is None:
        return None
    return Path(str(case.plot).replace("{dtype}", case.request.dtype))


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same path once resolved (symlinks followed,
    relative to the working directory), or, when both exist, the same inode (a hard
    link, a bind mount)."""
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop
        pass
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def collisions(cases: Sequence[Case], named: Mapping[str, Path | None]) -> list[str]:
    """Every pair of this run's outputs that would land in one file (``named``: the
    command's own, as ``{"--output": path}``), each as the sentence that refuses it; the
    later would silently overwrite the earlier."""
    outputs: list[tuple[str, Path]] = [(k, p) for k, p in named.items() if p is not None]
    outputs += [(f"the plot of case {c.nodeid}", p)
                for c in cases if (p := plot_path(c)) is not None]
    found = []
    for i, (first, a) in enumerate(outputs):
        for second, b in outputs[i + 1:]:
            if same_file(a, b):
                same = str(a) if a == b else f"{a} and {b}"
                found.append(f"{first} and {second} write the same file ({same})")
    return found
