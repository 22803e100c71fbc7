"""What every report shares: the exit codes and their one rule, the JSON schema version,
how numbers and tolerances travel in JSON, and :class:`Judged`, the verdict logic that
point and sweep reports both derive from their rows.

The exit code is a property of the report (as in black), so the CLI, the suites and
the Python API all agree on what a run means.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from autograd_cli.comparison.verdicts import Tolerance
from autograd_cli.core.statuses import (
    INACCURATE,
    NOT_RUN_STATUSES,
    SPECIAL_STATUSES,
    TIERS,
    WRONG,
)

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_BACKEND_FAILED = 3
#: The results could not be written (disk full, folder gone): the work was done, but
#: nothing half-written was left where the output should be.
EXIT_OUTPUT = 4
#: Ended by a signal: 128 + its number, as shells report it (SIGHUP 129, SIGINT 130,
#: SIGTERM 143).
EXIT_SIGNAL_BASE = 128

def exit_code_for(failed: bool, mismatched: bool, strict_special: bool) -> int:
    """The one exit-code rule of point and sweep reports alike: 3 if a backend could not
    run, else 1 on any failing row (wrong; inaccurate too with --strict or an explicit
    tolerance; with --strict, any special row too), else 0."""
    if failed:
        return EXIT_BACKEND_FAILED
    if mismatched or strict_special:
        return EXIT_MISMATCH
    return EXIT_OK


#: Bumped only when a field changes meaning or disappears; new fields may be added.
#: 2: statuses ok/inaccurate/wrong replace "mismatch"; the default tolerance is the
#: noise floor + 2 ULPs (``tolerance.noise_floor`` true), no longer torch's rtol/atol.
JSON_SCHEMA_VERSION = 2


def tolerance_dict(tolerance: Tolerance) -> dict[str, Any]:
    return {"rtol": tolerance.rtol, "atol": tolerance.atol, "max_ulps": tolerance.max_ulps,
            "noise_floor": not tolerance.explicit}


def tier_of(status: str) -> str | None:
    """A judged row's tier (ok, inaccurate, wrong); None for special or failed rows."""
    return status if status in TIERS else None


def special_counts(statuses: Iterable[str]) -> str:
    """"3 nondifferentiable rows", "1 undefined and 2 overflow rows", or ""."""
    counted = Counter(statuses)
    parts = [f"{counted[s]} {s}" for s in SPECIAL_STATUSES if counted[s]]
    if not parts:
        return ""
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return text + (" row" if sum(counted.values()) == 1 else " rows")


def json_number(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: they travel as the strings "nan", "inf", "-inf"."""
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


class Judged:
    """What a point report and a sweep report decide alike from their rows: which could
    not run, which are beyond tolerance, which are special, and so the exit code."""

    rows: Sequence[Any]
    strict: bool

    @property
    def failures(self) -> list[Any]:
        return [row for row in self.rows if row.failed]

    def tolerance_of(self, dtype: str) -> Tolerance:
        raise NotImplementedError

    def inaccurate_fails(self, dtype: str) -> bool:
        """Inaccurate rows fail with --strict or a tolerance the user gave."""
        return self.strict or self.tolerance_of(dtype).explicit

    @property
    def mismatched(self) -> list[Any]:
        """Rows that fail the run: wrong ones, and inaccurate ones where they fail."""
        return [row for row in self.rows if row.status == WRONG or (
            row.status == INACCURATE and self.inaccurate_fails(row.dtype))]

    @property
    def inaccurate(self) -> list[Any]:
        return [row for row in self.rows if row.status == INACCURATE]

    @property
    def unsupported(self) -> list[Any]:
        """Rows a framework could not compute with its own ops (no native hypot in
        TensorFlow): said, not judged, not a failure."""
        return [row for row in self.rows if row.status in NOT_RUN_STATUSES]

    def unsupported_note(self) -> str:
        """"; unsupported (not judged): tensorflow (no native hypot op)" or ""."""
        rows = self.unsupported
        if not rows:
            return ""
        names = ", ".join(dict.fromkeys(row.backend for row in rows))
        return f"; unsupported (not judged): {names}"

    @property
    def special(self) -> list[Any]:
        """Rows at undefined or non-differentiable points, or overflowing/underflowing."""
        return [row for row in self.rows if row.special]

    @property
    def exit_code(self) -> int:
        return exit_code_for(bool(self.failures), bool(self.mismatched),
                             self.strict and bool(self.special))

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def _repr_html_(self) -> str:
        """The report as a notebook shows it: the table, verdicts coloured by tier
        (:mod:`autograd_cli.report.html`)."""
        from autograd_cli.report.html import report_html

        return report_html(self)
