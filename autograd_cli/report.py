"""The Report: every row of a comparison, its verdict and its exit code.

The exit code is a property of the report (as in black), so the CLI, the suites and
the Python API all agree on what a run means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from autograd_cli.compare import Tolerance
from autograd_cli.model import FAILURE_STATUSES

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_BACKEND_FAILED = 3

#: Bumped only when a field changes meaning or disappears; new fields may be added.
JSON_SCHEMA_VERSION = 1


@dataclass
class Row:
    """One backend's derivative with respect to one variable at one point."""

    backend: str
    method: str
    version: str | None
    dtype: str
    point: dict[str, float]
    wrt: str
    value: float | None
    derivative: float | None
    exact: float | None
    abs_error: float | None
    rel_error: float | None
    ulp_error: float | None
    status: str
    reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILURE_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "method": self.method,
            "version": self.version,
            "dtype": self.dtype,
            "point": {name: json_number(v) for name, v in self.point.items()},
            "wrt": self.wrt,
            "value": json_number(self.value),
            "derivative": json_number(self.derivative),
            "exact": json_number(self.exact),
            "abs_error": json_number(self.abs_error),
            "rel_error": json_number(self.rel_error),
            "ulp_error": json_number(self.ulp_error),
            "status": self.status,
            "reason": self.reason,
        }


@dataclass
class Report:
    """Everything a renderer needs; nothing framework-typed."""

    expression: str
    exact_expression: str
    derivative_expressions: dict[str, str]
    variables: tuple[str, ...]
    wrt: tuple[str, ...]
    dtype: str
    tolerance: Tolerance
    reference_precision_bits: int
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def backends(self) -> list[str]:
        return list(dict.fromkeys(row.backend for row in self.rows))

    @property
    def mismatches(self) -> list[Row]:
        return [row for row in self.rows if row.status == "mismatch"]

    @property
    def failures(self) -> list[Row]:
        return [row for row in self.rows if row.failed]

    @property
    def exit_code(self) -> int:
        """3 if a backend could not run, else 1 on any mismatch, else 0."""
        if self.failures:
            return EXIT_BACKEND_FAILED
        if self.mismatches:
            return EXIT_MISMATCH
        return EXIT_OK

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def verdict(self) -> str:
        """The closing line: whether all backends agree, and if not, who does not."""
        backends = self.backends
        if self.ok:
            return (
                f"OK: all {len(backends)} backends agree with the exact derivative "
                f"within tolerance ({self.dtype}: {self.tolerance.describe()})"
            )
        parts = []
        failed = list(dict.fromkeys(row.backend for row in self.failures))
        if failed:
            parts.append(f"could not run: {', '.join(failed)}")
        mismatched = list(dict.fromkeys(row.backend for row in self.mismatches))
        if mismatched:
            count = len(self.mismatches)
            parts.append(
                f"{count} {'row' if count == 1 else 'rows'} beyond tolerance "
                f"({self.dtype}: {self.tolerance.describe()}): {', '.join(mismatched)}"
            )
        return "FAIL: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (see README): stable keys, non-finite numbers as strings."""
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "expression": self.expression,
            "exact_expression": self.exact_expression,
            "derivative_expression": (
                self.derivative_expressions[self.wrt[0]] if len(self.wrt) == 1 else None
            ),
            "derivative_expressions": dict(self.derivative_expressions),
            "variables": list(self.variables),
            "wrt": list(self.wrt),
            "dtype": self.dtype,
            "tolerance": {
                "rtol": self.tolerance.rtol,
                "atol": self.tolerance.atol,
                "max_ulps": self.tolerance.max_ulps,
            },
            "reference_precision_bits": self.reference_precision_bits,
            "verdict": self.verdict(),
            "notes": list(self.notes),
            "results": [row.to_dict() for row in self.rows],
        }


def json_number(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: they travel as the strings "nan", "inf", "-inf"."""
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


@dataclass
class SweepRow:
    """One backend over a whole sweep, reduced chunk by chunk: how far, where, how often."""

    backend: str
    method: str
    version: str | None
    dtype: str
    wrt: str
    status: str
    points: int = 0
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    max_ulp_error: float | None = None
    mean_ulp_error: float | None = None
    worst_at: float | None = None  # the swept variable where the ULP error is largest
    max_abs_at: float | None = None
    nonfinite: int = 0  # derivatives that are NaN or ±inf
    mismatches: int = 0  # points beyond tolerance
    reason: str | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status in FAILURE_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "method": self.method,
            "version": self.version,
            "dtype": self.dtype,
            "wrt": self.wrt,
            "status": self.status,
            "reason": self.reason,
            "points": self.points,
            "max_abs_error": json_number(self.max_abs_error),
            "max_rel_error": json_number(self.max_rel_error),
            "max_ulp_error": json_number(self.max_ulp_error),
            "mean_ulp_error": json_number(self.mean_ulp_error),
            "worst_at": json_number(self.worst_at),
            "max_abs_at": json_number(self.max_abs_at),
            "nonfinite": self.nonfinite,
            "mismatches": self.mismatches,
            "seconds": round(self.seconds, 6),
        }


@dataclass
class SweepReport:
    """A sweep's summary: one :class:`SweepRow` per backend, judged like a Report."""

    expression: str
    exact_expression: str
    derivative_expressions: dict[str, str]
    variables: tuple[str, ...]
    swept: str
    fixed: dict[str, float]
    dtype: str
    tolerance: Tolerance
    sweep: dict[str, Any]  # start, stop, num, step, endpoint: how the points were made
    reference: dict[str, Any]  # method, bits, recomputed points
    rows: list[SweepRow]
    notes: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        return int(self.sweep["num"])

    @property
    def backends(self) -> list[str]:
        return [row.backend for row in self.rows]

    @property
    def failures(self) -> list[SweepRow]:
        return [row for row in self.rows if row.failed]

    @property
    def mismatched(self) -> list[SweepRow]:
        return [row for row in self.rows if row.status == "mismatch"]

    @property
    def exit_code(self) -> int:
        """As for points: 3 if a backend could not run, else 1 on any mismatch, else 0."""
        if self.failures:
            return EXIT_BACKEND_FAILED
        if self.mismatched:
            return EXIT_MISMATCH
        return EXIT_OK

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def verdict(self) -> str:
        where = f"{self.points:,} points"
        rule = f"({self.dtype}: {self.tolerance.describe()})"
        if self.ok:
            return (
                f"OK: all {len(self.rows)} backends agree with the exact derivative at all "
                f"{where} within tolerance {rule}"
            )
        parts = []
        if self.failures:
            parts.append(f"could not run: {', '.join(r.backend for r in self.failures)}")
        for row in self.mismatched:
            at = "" if row.worst_at is None else f", worst at {self.swept} = {row.worst_at!r}"
            parts.append(f"{row.backend} beyond tolerance at {row.mismatches:,} of "
                         f"{row.points:,} points{at}")
        return "FAIL: " + "; ".join(parts) + f" {rule}"

    def to_dict(self) -> dict[str, Any]:
        """The sweep's JSON contract: the point report's keys where they mean the same,
        ``kind: "sweep"``, and one summary row per backend under ``results``."""
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "kind": "sweep",
            "ok": self.ok,
            "exit_code": self.exit_code,
            "expression": self.expression,
            "exact_expression": self.exact_expression,
            "derivative_expression": self.derivative_expressions[self.swept],
            "derivative_expressions": dict(self.derivative_expressions),
            "variables": list(self.variables),
            "wrt": [self.swept],
            "swept": self.swept,
            "fixed": {name: json_number(v) for name, v in self.fixed.items()},
            "dtype": self.dtype,
            "tolerance": {
                "rtol": self.tolerance.rtol,
                "atol": self.tolerance.atol,
                "max_ulps": self.tolerance.max_ulps,
            },
            "range": {k: json_number(v) if isinstance(v, float) else v
                      for k, v in self.sweep.items()},
            "points": self.points,
            "reference": dict(self.reference),
            "verdict": self.verdict(),
            "notes": list(self.notes),
            "results": [row.to_dict() for row in self.rows],
        }
