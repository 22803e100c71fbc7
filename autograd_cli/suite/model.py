"""What a suite is made of: cases, suites and case results.

Its own module because loading, running and every output (summary, JSON, JUnit) share
these types; none of them imports another to get at them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograd_cli.comparison.verdicts import Tolerance
from autograd_cli.core.model import Request
from autograd_cli.expr.nodes import Expr
from autograd_cli.report.model import Report

#: Outcomes of a case, from best to worst; the exit code follows the worst.
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"

#: A failing case's table shows at most this many rows, and this many expect problems.
MAX_ROWS = 60
MAX_PROBLEMS = 10


@dataclass(frozen=True)
class Case:
    """One run of the suite: a case at one dtype."""

    suite: str
    name: str
    id: str
    request: Request
    tolerance: Tolerance
    expect: Any = None
    expect_expr: Mapping[str, Expr] = field(default_factory=dict)
    plot: Path | None = None
    notes: tuple[str, ...] = ()
    strict: bool = False  # undefined/kink/overflow rows fail the case
    #: Backends whose wrong rows are a known framework error (backend -> why): they do
    #: not fail the case; the case says they were seen, or that they are gone.
    known: Mapping[str, str] = field(default_factory=dict)
    #: A known failure that is not seen fails the case (a regression suite of bugs).
    known_strict: bool = False

    @property
    def nodeid(self) -> str:
        """What -k matches and JUnit names: ``suite::case [dtype]``."""
        return f"{self.suite}::{self.id}"


@dataclass(frozen=True)
class Suite:
    path: Path
    name: str
    description: str
    cases: tuple[Case, ...]


@dataclass
class CaseResult:
    case: Case
    outcome: str
    exit_code: int
    seconds: float = 0.0
    report: Report | None = None
    problems: list[str] = field(default_factory=list)
    #: "known: tensorflow (why)" for each known failure seen; "fixed? ..." for one not seen.
    known: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """One line for the progress line and JUnit's message attribute."""
        parts = [] if self.report is None or (self.report.ok and self.problems) else [
            self.report.verdict()
        ]
        shown = self.problems[:MAX_PROBLEMS]
        parts += shown
        if len(self.problems) > len(shown):
            parts.append(f"and {len(self.problems) - len(shown)} more")
        return "; ".join(parts)

    def details(self) -> str:
        """The case's table and its problems: the body of a JUnit failure. A large
        sweep shows only the rows that did not pass (at most MAX_ROWS)."""
        from dataclasses import replace

        from autograd_cli.report.render import render

        text = ""
        if self.report is not None:
            report = self.report
            if len(report.rows) > MAX_ROWS:
                bad = [row for row in report.rows if row.status != "ok"]
                note = (f"showing {min(len(bad), MAX_ROWS)} of {len(report.rows)} rows: "
                        "those that did not pass" if bad else
                        f"all {len(report.rows)} rows pass; showing the first {MAX_ROWS}")
                report = replace(report, rows=(bad or report.rows)[:MAX_ROWS])
                text = f"({note})\n"
            text = render(report, "table") + text
        shown = self.problems[:MAX_PROBLEMS]
        text += "".join(f"{problem}\n" for problem in shown)
        if len(self.problems) > len(shown):
            text += f"... and {len(self.problems) - len(shown)} more\n"
        return text
