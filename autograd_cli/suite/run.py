"""Suites: TOML files of cases, run as one CI job after a framework upgrade.

A suite file holds ``[defaults]`` (what its cases share) and ``[[case]]`` tables, each
with a name, an expression and any option a single run takes, plus ``expect``: the
derivative the author knows to be right, checked on top of cross-backend agreement.

Everything is checked when the file loads (every expression parsed, every point and
option validated) so a bad file is refused with exit 2 before any framework starts.
Cases then run one after another through one pool of workers, so each framework is
imported once per suite, not once per case. A failing case never stops the others
unless asked (``exitfirst``). JUnit XML is written with :mod:`xml.etree` in the shape
CI systems (Jenkins, GitLab, GitHub Actions reporters) read.

This module selects, shards and runs cases. The rest has a module each: the file's
keys (:mod:`.schema`), reading it (:mod:`.load`), the types (:mod:`.model`),
``expect`` (:mod:`.expect`), summary and JSON (:mod:`.output`), JUnit (:mod:`.junit`);
their public names are importable from here as well.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autograd_cli.report.common import EXIT_MISMATCH, EXIT_OK, EXIT_USAGE
from autograd_cli.report.model import Report
from autograd_cli.suite.expect import check_expect
from autograd_cli.suite.junit import junit_xml
from autograd_cli.suite.load import load_suite, repeated_files
from autograd_cli.suite.model import (
    ERROR,
    FAILED,
    MAX_PROBLEMS,
    MAX_ROWS,
    PASSED,
    SKIPPED,
    Case,
    CaseResult,
    Suite,
)
from autograd_cli.suite.output import (
    collisions,
    exit_code,
    not_run,
    plot_path,
    render_json,
    render_summary,
)
from autograd_cli.suite.schema import (
    MAX_CASE_POINTS,
    MAX_CASES,
    MAX_SUITE_ROWS,
)

if TYPE_CHECKING:
    from autograd_cli.execution import runner


# ------------------------------------------------------------------ selection, shards


def select(cases: Sequence[Case], keywords: Sequence[str]) -> list[Case]:
    """Cases whose ``suite::case [dtype]`` contains any keyword (case-insensitive)."""
    if not keywords:
        return list(cases)
    lowered = [k.lower() for k in keywords]
    return [c for c in cases if any(k in c.nodeid.lower() for k in lowered)]


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` with 1 <= K <= N; ValueError otherwise."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found:
        raise ValueError(f"{text!r} is not K/N (for example 1/4)")
    k, n = int(found.group(1)), int(found.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"{text!r}: K must be between 1 and N (for example 1/{max(n, 1)})")
    return k, n


def shard(cases: Sequence[Case], k: int, n: int) -> list[Case]:
    """The K-th of N slices, dealt round-robin so slow neighbours spread over jobs."""
    return list(cases[k - 1 :: n])


# --------------------------------------------------------------------------- running


def run_cases(
    cases: Sequence[Case],
    *,
    jobs: int | None = None,
    isolate: bool = True,
    verbose: bool = False,
    exitfirst: bool = False,
    on_case: Callable[[CaseResult, int, int], None] | None = None,
    pool: runner.Pool | None = None,
) -> list[CaseResult]:
    """Run every case through one pool of workers (``pool``, or one opened here and
    closed after), so each framework is imported once; a failure never stops the rest
    unless ``exitfirst``, and the cases not run then are ``skipped``."""
    from autograd_cli.backends import REGISTRY
    from autograd_cli.execution import runner
    from autograd_cli.execution.service_pool import lent

    if pool is None:  # inside the service: its warm pool, if it fits
        pool = lent(jobs=jobs, isolate=isolate, verbose=verbose)
    if pool is None:
        frameworks = [
            name for name in REGISTRY
            if name != "analytic" and any(name in c.request.backends for c in cases)
        ]
        with runner.Pool(frameworks, jobs=jobs, isolate=isolate, verbose=verbose) as own:
            return run_cases(cases, exitfirst=exitfirst, on_case=on_case, pool=own)
    results: list[CaseResult] = []
    for index, case in enumerate(cases, start=1):
        if exitfirst and any(r.exit_code != EXIT_OK for r in results):
            result = CaseResult(case, SKIPPED, EXIT_OK,
                                problems=["not run: an earlier case failed (-x)"])
        else:
            result = run_case(case, pool=pool)
        results.append(result)
        if on_case is not None:
            on_case(result, index, len(cases))
    return results


def run_case(
    case: Case,
    *,
    jobs: int | None = None,
    isolate: bool = True,
    verbose: bool = False,
    pool: runner.Pool | None = None,
) -> CaseResult:
    """One case: the cross-backend check, then ``expect``, then the plot."""
    from autograd_cli.comparison.points import run_check

    started = time.perf_counter()
    try:
        report = run_check(case.request, case.tolerance, jobs=jobs, isolate=isolate,
                           verbose=verbose, notes=list(case.notes), pool=pool,
                           strict=case.strict)
    except ValueError as error:
        return CaseResult(case, ERROR, EXIT_USAGE, time.perf_counter() - started,
                          problems=[f"error: {error}"])
    problems = check_expect(case, report)
    if case.plot is not None:
        problems += _draw(case, report)
    code = report.exit_code
    known = _known(case, report)
    if code == EXIT_MISMATCH and known.excused:
        code = EXIT_OK
    if case.known_strict:
        problems += [line.removesuffix("; fixed by an upgrade?") for line in known.lines
                     if line.startswith("known failure not seen")]
    if problems and code == EXIT_OK:
        code = EXIT_MISMATCH
    outcome = PASSED if code == EXIT_OK else FAILED if code == EXIT_MISMATCH else ERROR
    return CaseResult(case, outcome, code, time.perf_counter() - started, report, problems,
                      known.lines)


@dataclass(frozen=True)
class _Known:
    excused: bool  # every failing row is a known backend's
    lines: list[str]


def _known(case: Case, report: Report) -> _Known:
    """Whether a case's failure is only its known framework errors, and what to say:
    each known backend seen failing, or not seen (fixed by an upgrade?)."""
    if not case.known:
        return _Known(False, [])
    failing = {row.backend for row in report.mismatched}
    lines = [f"known: {backend} ({why})" if backend in failing else
             f"known failure not seen: {backend} passes now ({why}); fixed by an upgrade?"
             for backend, why in case.known.items()]
    excused = bool(failing) and failing <= case.known.keys() and not report.failures \
        and not (report.strict and report.special)
    return _Known(excused, lines)



def _draw(case: Case, report: Report) -> list[str]:
    from autograd_cli.comparison import sweep

    target = plot_path(case)
    assert target is not None
    try:
        sweep.save_plot(case.request, report, target)
    except (OSError, ValueError) as error:
        return [f"plot: cannot write {target}: {error}"]
    return []


__all__ = [
    "ERROR",
    "FAILED",
    "MAX_CASES",
    "MAX_CASE_POINTS",
    "MAX_PROBLEMS",
    "MAX_ROWS",
    "MAX_SUITE_ROWS",
    "PASSED",
    "SKIPPED",
    "Case",
    "CaseResult",
    "Suite",
    "check_expect",
    "collisions",
    "exit_code",
    "junit_xml",
    "load_suite",
    "not_run",
    "parse_shard",
    "plot_path",
    "render_json",
    "render_summary",
    "repeated_files",
    "run_case",
    "run_cases",
    "select",
    "shard",
]
