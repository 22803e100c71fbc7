"""The point Report: every row of a comparison at given points, its verdict and its
exit code (the rule shared with sweeps lives in :mod:`.common`)."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from autograd_cli.comparison.verdicts import Tolerance
from autograd_cli.core.statuses import (
    FAILURE_STATUSES,
    INACCURATE,
    NOT_RUN_STATUSES,
    SPECIAL_STATUSES,
    WRONG,
)
from autograd_cli.report.common import (
    JSON_SCHEMA_VERSION,
    Judged,
    json_number,
    special_counts,
    tier_of,
    tolerance_dict,
)


class _Versioned(Protocol):
    backend: str
    version: str | None


def produced_by(rows: Iterable[_Versioned], device: str) -> dict[str, Any]:
    """What produced a report (its JSON ``produced_by``): gradcheck's version, Python's,
    the platform, and each backend's version as its rows name it (null: not installed),
    so ``gradcheck diff`` can say what changed between two reports."""
    from autograd_cli import __version__

    frameworks: dict[str, str | None] = {}
    for row in rows:
        if frameworks.get(row.backend) is None:
            frameworks[row.backend] = row.version
    return {
        "gradcheck": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "device": device,
        "frameworks": frameworks,
    }


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
    order: int = 1  # how many variables ``wrt`` names ("x,y": 2)
    mode: str | None = None  # "reverse"/"forward"; None for analytic, finite-diff
    device: str = "cpu"  # where it computed; analytic and finite-diff: always the CPU
    #: One-sided derivatives where the derivative does not exist (nondifferentiable).
    left: float | None = None
    right: float | None = None
    #: The backend's own bound on its error (finite-diff's Richardson estimate).
    error_estimate: float | None = None
    #: What rounding alone may cost here (:mod:`autograd_cli.truth.noise_floor`).
    noise_floor: float | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILURE_STATUSES

    @property
    def special(self) -> bool:
        """Undefined, non-differentiable, overflow, underflow: explained, not judged."""
        return self.status in SPECIAL_STATUSES


    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "method": self.method,
            "version": self.version,
            "dtype": self.dtype,
            "device": self.device,
            "point": {name: json_number(v) for name, v in self.point.items()},
            "wrt": self.wrt,
            "order": self.order,
            "mode": self.mode,
            "value": json_number(self.value),
            "derivative": json_number(self.derivative),
            "exact": json_number(self.exact),
            "abs_error": json_number(self.abs_error),
            "rel_error": json_number(self.rel_error),
            "ulp_error": json_number(self.ulp_error),
            "error_estimate": json_number(self.error_estimate),
            "noise_floor": json_number(self.noise_floor),
            "status": self.status,
            "tier": tier_of(self.status),
            "reason": self.reason,
            "left_derivative": json_number(self.left),
            "right_derivative": json_number(self.right),
        }


@dataclass
class Report(Judged):
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
    order: int = 1
    mode: str = "reverse"  # as asked: "reverse", "forward" or "both"
    #: Each compared dtype's tolerance, in the order asked; empty: only ``dtype``
    #: (``dtype``/``tolerance`` are then the first of several, see :func:`merge`).
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    device: str = "cpu"  # as asked with --device
    #: --show-code: dtype -> backend -> a standalone script reproducing its rows.
    code: dict[str, dict[str, str]] = field(default_factory=dict)
    #: --strict: inaccurate rows fail, and undefined, non-differentiable, overflow and
    #: underflow rows count as failures (by default they are explained in
    #: ``warnings`` and not counted).
    strict: bool = False
    warnings: list[str] = field(default_factory=list)
    #: The configuration files the run used (the command line's; none for the API).
    config_files: list[str] = field(default_factory=list)

    @property
    def dtypes(self) -> list[str]:
        return list(self.tolerances) or [self.dtype]

    def tolerance_of(self, dtype: str) -> Tolerance:
        return self.tolerances.get(dtype, self.tolerance)

    def _rule(self, dtypes: list[str] | None = None) -> str:
        return "; ".join(
            f"{dtype}: {self.tolerance_of(dtype).describe()}" for dtype in dtypes or self.dtypes
        )

    @property
    def backends(self) -> list[str]:
        return list(dict.fromkeys(row.backend for row in self.rows))






    def verdict(self) -> str:
        """The closing line: whether all backends agree, and if not, who does not."""
        return self._verdict() + self.unsupported_note()

    def _verdict(self) -> str:
        backends = [b for b in self.backends
                    if any(r.backend == b and r.status not in NOT_RUN_STATUSES for r in self.rows)]
        special = special_counts(row.status for row in self.special)
        shown = self._inaccurate_note()
        if self.ok and shown:
            judged = f"; not judged: {special} (see warnings)" if special else ""
            return f"OK: no backend is wrong ({self._rule()}){judged}{shown}"
        if self.ok:
            if special:
                return (
                    f"OK: where the derivative exists, all {len(backends)} backends agree "
                    f"with it within tolerance ({self._rule()}); not judged: {special} "
                    f"(see warnings){shown}"
                )
            return (
                f"OK: all {len(backends)} backends agree with the exact derivative "
                f"within tolerance ({self._rule()}){shown}"
            )
        parts = []
        failed = list(dict.fromkeys(row.backend for row in self.failures))
        if failed:
            parts.append(f"could not run: {', '.join(failed)}")
        if self.strict and special:
            parts.append(f"{special} (--strict)")
        for dtype in self.dtypes:
            for tier in (WRONG, INACCURATE):
                rows = [row for row in self.mismatched if row.dtype == dtype
                        and row.status == tier]
                if rows:
                    count = len(rows)
                    names = ", ".join(dict.fromkeys(row.backend for row in rows))
                    parts.append(f"{count} {'row' if count == 1 else 'rows'} {tier} "
                                 f"({self._rule([dtype])}): {names}")
        return "FAIL: " + "; ".join(parts) + shown

    def _inaccurate_note(self) -> str:
        """"; inaccurate, not failing: tensorflow (1 row, up to 48 ULPs)" for inaccurate
        rows that do not fail the run (they fail with --strict)."""
        rows = [row for row in self.inaccurate if not self.inaccurate_fails(row.dtype)]
        if not rows:
            return ""
        names = ", ".join(dict.fromkeys(row.backend for row in rows))
        worst = max((row.ulp_error for row in rows if row.ulp_error is not None), default=None)
        most = "" if worst is None else f", up to {worst:.3g} ULPs"
        count = len(rows)
        return (f"; inaccurate (fails with --strict): {names} "
                f"({count} {'row' if count == 1 else 'rows'}{most})")

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
            "order": self.order,
            "mode": self.mode,
            "dtype": self.dtype if len(self.dtypes) == 1 else None,
            "tolerance": (
                tolerance_dict(self.tolerance) if len(self.dtypes) == 1 else None
            ),
            "dtypes": self.dtypes,
            "tolerances": {d: tolerance_dict(self.tolerance_of(d)) for d in self.dtypes},
            "device": self.device,
            "reference_precision_bits": self.reference_precision_bits,
            "verdict": self.verdict(),
            "notes": list(self.notes),
            "strict": self.strict,
            "warnings": list(self.warnings),
            "config_files": list(self.config_files),
            "produced_by": produced_by(self.rows, self.device),
            "results": [self._result(row) for row in self.rows],
        }

    def _result(self, row: Row) -> dict[str, Any]:
        data = row.to_dict()
        if self.code:
            scripts = self.code.get(row.dtype, {})
            data["code"] = scripts.get(f"{row.backend}:{row.mode}", scripts.get(row.backend))
        return data


def merge(reports: list[Report]) -> Report:
    """One report of several dtypes' comparisons (same expression, points and
    backends): rows grouped by dtype in the order given, one verdict and exit code."""
    first = reports[0]
    if len(reports) == 1:
        return first
    timings = {
        f"{report.dtype}:{key}": seconds
        for report in reports
        for key, seconds in report.timings.items()
    }
    return replace(
        first,
        reference_precision_bits=max(r.reference_precision_bits for r in reports),
        rows=[row for report in reports for row in report.rows],
        notes=list(dict.fromkeys(note for report in reports for note in report.notes)),
        warnings=[w for report in reports for w in report.warnings],
        timings=timings,
        tolerances={r.dtype: r.tolerance for r in reports},
        code={dtype: code for r in reports for dtype, code in r.code.items()},
    )
