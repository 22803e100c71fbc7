"""The sweep report: one summary row per backend over a whole range, reduced chunk by
chunk, judged by the same rule as a point report (:mod:`.common`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from autograd_cli.comparison.verdicts import Tolerance
from autograd_cli.core.statuses import (
    FAILURE_STATUSES,
    NOT_RUN_STATUSES,
    OVERFLOW,
    SPECIAL_STATUSES,
    UNDERFLOW,
)
from autograd_cli.report.common import JSON_SCHEMA_VERSION, Judged, json_number, tolerance_dict
from autograd_cli.report.model import produced_by


@dataclass
class SweepRow:
    """One backend over a whole sweep, reduced chunk by chunk: how far, where, how often."""

    backend: str
    method: str
    version: str | None
    dtype: str
    wrt: str  # the derivative's label: "x", "x,x", "x,y"
    status: str
    points: int = 0
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    max_ulp_error: float | None = None
    mean_ulp_error: float | None = None
    worst_at: float | None = None  # the swept variable where the ULP error is largest
    max_abs_at: float | None = None
    nonfinite: int = 0  # derivatives that are NaN or ±inf
    mismatches: int = 0  # points not ok: inaccurate + wrong
    inaccurate: int = 0  # points beyond the allowance, not wrong
    wrong: int = 0  # points wrong (see :func:`autograd_cli.comparison.verdicts.errors`)
    #: The largest noise floor over the judged points, and the largest error still ok
    #: (in ULPs of max(|exact|, floor): an exact 0's own ULP says nothing).
    max_noise_floor: float | None = None
    max_ok_ulp_error: float | None = None
    reason: str | None = None
    seconds: float = 0.0
    order: int = 1
    mode: str | None = None  # "reverse"/"forward"; None for analytic, finite-diff
    #: Its name in CSV columns, arrays and plots: the backend, "torch:forward" when
    #: both modes are swept.
    series: str = ""
    #: Points not judged (see :mod:`autograd_cli.domain`), counted by status.
    undefined: int = 0
    nondifferentiable: int = 0
    overflow: int = 0
    underflow: int = 0
    #: Where it computed: --device for torch, tensorflow and jax, else the CPU.
    device: str = "cpu"
    #: Of ``overflow`` and of ``underflow``: points where an intermediate left the
    #: dtype's range while the exact f' is in it.
    intermediate_overflow: int = 0
    intermediate_underflow: int = 0
    #: The backend's own error estimate (finite-diff): its largest over the judged
    #: points, and at how many of them the true error exceeded it.
    max_error_estimate: float | None = None
    estimate_exceeded: int = 0
    #: --show-code: a script that reproduces this row at its worst point (None: none).
    code: str | None = None

    def __post_init__(self) -> None:
        self.series = self.series or self.backend

    @property
    def failed(self) -> bool:
        return self.status in FAILURE_STATUSES

    @property
    def special(self) -> dict[str, int]:
        """Special points by status ({} when there are none)."""
        found = {s: int(getattr(self, s)) for s in SPECIAL_STATUSES}
        return {s: n for s, n in found.items() if n}


    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "method": self.method,
            "version": self.version,
            "dtype": self.dtype,
            "device": self.device,
            "wrt": self.wrt,
            "order": self.order,
            "mode": self.mode,
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
            "inaccurate": self.inaccurate,
            "wrong": self.wrong,
            "max_noise_floor": json_number(self.max_noise_floor),
            "max_ok_ulp_error": json_number(self.max_ok_ulp_error),
            "undefined": self.undefined,
            "nondifferentiable": self.nondifferentiable,
            "overflow": self.overflow,
            "underflow": self.underflow,
            "intermediate_overflow": self.intermediate_overflow,
            "intermediate_underflow": self.intermediate_underflow,
            "max_error_estimate": json_number(self.max_error_estimate),
            "estimate_exceeded": self.estimate_exceeded,
            "seconds": round(self.seconds, 6),
            **({"code": self.code} if self.code is not None else {}),
        }


@dataclass
class SweepReport(Judged):
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
    order: int = 1
    mode: str = "reverse"
    wrt: str = ""  # the derivative's label ("x,x", "x,y"); empty: d/d(swept)
    strict: bool = False  # special points count as mismatches
    #: Runs of undefined / non-differentiable points: status, from, to, points, reason.
    special_points: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    device: str = "cpu"  # as asked with --device
    #: With several dtypes (see :func:`merge_sweeps`): each dtype's own report, in the
    #: order asked. This report then holds all their rows (grouped by dtype); its
    #: verdict and exit code cover them all; ``dtype``, ``tolerance`` and ``reference``
    #: are the first part's.
    parts: list[SweepReport] = field(default_factory=list)
    #: The configuration files the run used (the command line's; none for the API).
    config_files: list[str] = field(default_factory=list)

    @property
    def dtypes(self) -> list[str]:
        return [part.dtype for part in self.parts] or [self.dtype]

    def tolerance_of(self, dtype: str) -> Tolerance:
        for part in self.parts:
            if part.dtype == dtype:
                return part.tolerance
        return self.tolerance

    @property
    def several(self) -> bool:
        """Whether this sweep compared in more than one dtype."""
        return len(self.parts) > 1

    def name(self, row: SweepRow) -> str:
        """A row's name in verdicts, CSV headers and plots: its series ("torch",
        "torch:forward"), with its dtype when there are several ("torch float32")."""
        return f"{row.series} {row.dtype}" if self.several else row.series

    @property
    def points(self) -> int:
        return int(self.sweep["num"])


    @property
    def label(self) -> str:
        """The swept derivative's label, the key of ``derivative_expressions``."""
        return self.wrt or self.swept

    @property
    def backends(self) -> list[str]:
        return [row.backend for row in self.rows]





    def verdict(self) -> str:
        """The closing line; with several dtypes one line for all, rows named with
        their dtype ("torch float32") and each dtype's tolerance in the parentheses."""
        return self._verdict() + self.unsupported_note()

    def _verdict(self) -> str:
        where = f"{self.points:,} points"
        if self.several:
            where += f" in each of {len(self.parts)} dtypes"
        dtypes = self.dtypes
        if not self.ok and self.several:  # the rules of the dtypes that failed
            dtypes = [part.dtype for part in self.parts if not part.ok] or dtypes
        tolerances = {part.dtype: part.tolerance for part in self.parts}
        rule = "(" + "; ".join(
            f"{d}: {tolerances.get(d, self.tolerance).describe()}" for d in dtypes) + ")"
        special = self._special_text()
        count = len(dict.fromkeys(row.series for row in self.rows
                                  if row.status not in NOT_RUN_STATUSES))
        if self.ok and self._inaccurate_note():
            judged = f"; not judged: {special} (see warnings)" if special else ""
            return (f"OK: no backend is wrong at any of {where} {rule}{judged}"
                    + self._inaccurate_note())
        if self.ok:
            if special:
                return (
                    f"OK: all {count} backends agree with the exact derivative "
                    f"wherever it exists, within tolerance {rule}; not judged: {special}"
                    f"{',' if self.several else ''} of {where} (see warnings)"
                    + self._inaccurate_note()
                )
            return (
                f"OK: all {count} backends agree with the exact derivative at all "
                f"{where} within tolerance {rule}" + self._inaccurate_note()
            )
        parts = []
        if self.failures:
            parts.append(f"could not run: {', '.join(self.name(r) for r in self.failures)}")
        if self.strict and special:
            parts.append(f"{special} (--strict)")
        for row in self.mismatched:
            at = "" if row.worst_at is None else f", worst at {self.swept} = {row.worst_at!r}"
            counts = [f"{tier} at {n:,}" for tier, n in (("wrong", row.wrong),
                                                          ("inaccurate", row.inaccurate))
                      if n and (tier == "wrong" or self.inaccurate_fails(row.dtype))]
            parts.append(f"{self.name(row)} {' and '.join(counts)} of "
                         f"{row.points:,} points{at}")
        return "FAIL: " + "; ".join(parts) + f" {rule}" + self._inaccurate_note()

    def _inaccurate_note(self) -> str:
        """"; inaccurate (fails with --strict): tensorflow at 12 points (up to 48 ULPs)"
        for rows with inaccurate points that do not fail the run."""
        rows = [row for row in self.rows if row.inaccurate and row.status != "wrong"
                and not self.inaccurate_fails(row.dtype)]
        if not rows:
            return ""
        return "; inaccurate (fails with --strict): " + ", ".join(
            f"{self.name(row)} at {row.inaccurate:,} of {row.points:,} points (up to "
            f"{row.max_ulp_error or 0:.3g} ULPs)" for row in rows)

    def to_dict(self) -> dict[str, Any]:
        """The sweep's JSON contract: the point report's keys where they mean the same,
        ``kind: "sweep"``, and one summary row per backend under ``results``.

        With several dtypes (as a point report): ``dtype``, ``tolerance`` and
        ``reference`` are null, ``dtypes``/``tolerances``/``references`` hold each
        one's, ``results`` holds every dtype's rows (in ``dtypes`` order, each naming
        its dtype) and each run of ``special_points`` names its dtype."""
        parts = self.parts or [self]
        several = self.several
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "kind": "sweep",
            "ok": self.ok,
            "exit_code": self.exit_code,
            "expression": self.expression,
            "exact_expression": self.exact_expression,
            "derivative_expression": self.derivative_expressions[self.label],
            "derivative_expressions": dict(self.derivative_expressions),
            "variables": list(self.variables),
            "wrt": [self.label],
            "order": self.order,
            "mode": self.mode,
            "swept": self.swept,
            "fixed": {name: json_number(v) for name, v in self.fixed.items()},
            "dtype": None if several else self.dtype,
            "tolerance": None if several else tolerance_dict(self.tolerance),
            "dtypes": self.dtypes,
            "tolerances": {part.dtype: tolerance_dict(part.tolerance) for part in parts},
            "device": self.device,
            "range": {k: json_number(v) if isinstance(v, float) else v
                      for k, v in self.sweep.items()},
            "points": self.points,
            "reference": None if several else dict(self.reference),
            "references": {part.dtype: dict(part.reference) for part in parts},
            "verdict": self.verdict(),
            "notes": list(self.notes),
            "strict": self.strict,
            "warnings": list(self.warnings),
            "config_files": list(self.config_files),
            "special_points": [
                {**({"dtype": part.dtype} if several else {}),
                 **{k: json_number(v) if isinstance(v, float) else v for k, v in run.items()}}
                for part in parts
                for run in part.special_points
            ],
            "produced_by": produced_by(self.rows, self.device),
            "results": [row.to_dict() for row in self.rows],
        }

    def _special_text(self) -> str:
        """"1 undefined point", "1 nondifferentiable, 3 overflow (torch) points"; with
        several dtypes each one's: "4 overflow points in float32, 2 ... in float64"."""
        if self.several:
            return ", ".join(f"{text} in {part.dtype}" for part in self.parts
                             for text in (part._special_text(),) if text)
        parts = []
        for status in SPECIAL_STATUSES:
            counts = {self.name(row): getattr(row, status) for row in self.rows}
            most = max(counts.values(), default=0)
            if not most:
                continue
            text = f"{most:,} {status}"
            if status in (OVERFLOW, UNDERFLOW) and len(set(counts.values())) > 1:
                text += f" ({', '.join(k for k, n in counts.items() if n)})"
            parts.append(text)
        if not parts:
            return ""
        return ", ".join(parts) + (" point" if len(parts) == 1 and parts[0].startswith("1 ")
                                   else " points")


def merge_sweeps(reports: list[SweepReport]) -> SweepReport:
    """One report of the same sweep in several dtypes (in the order given): every
    row, one verdict and one exit code (the worst), each dtype's report kept in
    ``parts`` for what differs between them (tolerance, reference, special points)."""
    first = reports[0]
    if len(reports) == 1:
        return first
    return replace(
        first,
        rows=[row for report in reports for row in report.rows],
        notes=list(dict.fromkeys(note for report in reports for note in report.notes)),
        warnings=list(dict.fromkeys(w for report in reports for w in report.warnings)),
        special_points=[run for report in reports for run in report.special_points],
        parts=list(reports),
    )
