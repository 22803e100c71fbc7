"""The Report: every row of a comparison, its verdict and its exit code.

The exit code is a property of the report (as in black), so the CLI, the suites and
the Python API all agree on what a run means.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from autograd_cli.comparison.verdicts import Tolerance
from autograd_cli.core.statuses import FAILURE_STATUSES, OVERFLOW, SPECIAL_STATUSES, UNDERFLOW

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_BACKEND_FAILED = 3

def exit_code_for(failed: bool, mismatched: bool, strict_special: bool) -> int:
    """The one exit-code rule of point and sweep reports alike: 3 if a backend could not
    run, else 1 on any mismatch (with --strict, any special row too), else 0."""
    if failed:
        return EXIT_BACKEND_FAILED
    if mismatched or strict_special:
        return EXIT_MISMATCH
    return EXIT_OK


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
    order: int = 1  # how many variables ``wrt`` names ("x,y": 2)
    mode: str | None = None  # "reverse"/"forward"; None for analytic, finite-diff
    device: str = "cpu"  # where it computed; analytic and finite-diff: always the CPU
    #: One-sided derivatives where the derivative does not exist (nondifferentiable).
    left: float | None = None
    right: float | None = None
    #: The backend's own bound on its error (finite-diff's Richardson estimate).
    error_estimate: float | None = None

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
            "status": self.status,
            "reason": self.reason,
            "left_derivative": json_number(self.left),
            "right_derivative": json_number(self.right),
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
    order: int = 1
    mode: str = "reverse"  # as asked: "reverse", "forward" or "both"
    #: Each compared dtype's tolerance, in the order asked; empty: only ``dtype``
    #: (``dtype``/``tolerance`` are then the first of several, see :func:`merge`).
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    device: str = "cpu"  # as asked with --device
    #: --show-code: dtype -> backend -> a standalone script reproducing its rows.
    code: dict[str, dict[str, str]] = field(default_factory=dict)
    #: --strict: undefined, non-differentiable, overflow and underflow rows count as
    #: mismatches (by default they are explained in ``warnings`` and not counted).
    strict: bool = False
    warnings: list[str] = field(default_factory=list)

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

    @property
    def mismatches(self) -> list[Row]:
        return [row for row in self.rows if row.status == "mismatch"]

    @property
    def failures(self) -> list[Row]:
        return [row for row in self.rows if row.failed]

    @property
    def special(self) -> list[Row]:
        """Rows at undefined or non-differentiable points, or overflowing/underflowing."""
        return [row for row in self.rows if row.special]

    @property
    def exit_code(self) -> int:
        return exit_code_for(bool(self.failures), bool(self.mismatches),
                             self.strict and bool(self.special))

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def verdict(self) -> str:
        """The closing line: whether all backends agree, and if not, who does not."""
        backends = self.backends
        special = special_counts(row.status for row in self.special)
        if self.ok:
            if special:
                return (
                    f"OK: where the derivative exists, all {len(backends)} backends agree "
                    f"with it within tolerance ({self._rule()}); not judged: {special} "
                    "(see warnings)"
                )
            return (
                f"OK: all {len(backends)} backends agree with the exact derivative "
                f"within tolerance ({self._rule()})"
            )
        parts = []
        failed = list(dict.fromkeys(row.backend for row in self.failures))
        if failed:
            parts.append(f"could not run: {', '.join(failed)}")
        if self.strict and special:
            parts.append(f"{special} (--strict)")
        for dtype in self.dtypes:
            rows = [row for row in self.mismatches if row.dtype == dtype]
            mismatched = list(dict.fromkeys(row.backend for row in rows))
            if mismatched:
                count = len(rows)
                parts.append(
                    f"{count} {'row' if count == 1 else 'rows'} beyond tolerance "
                    f"({self._rule([dtype])}): {', '.join(mismatched)}"
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
            "order": self.order,
            "mode": self.mode,
            "dtype": self.dtype if len(self.dtypes) == 1 else None,
            "tolerance": (
                _tolerance_dict(self.tolerance) if len(self.dtypes) == 1 else None
            ),
            "dtypes": self.dtypes,
            "tolerances": {d: _tolerance_dict(self.tolerance_of(d)) for d in self.dtypes},
            "device": self.device,
            "reference_precision_bits": self.reference_precision_bits,
            "verdict": self.verdict(),
            "notes": list(self.notes),
            "strict": self.strict,
            "warnings": list(self.warnings),
            "results": [self._result(row) for row in self.rows],
        }

    def _result(self, row: Row) -> dict[str, Any]:
        data = row.to_dict()
        if self.code:
            scripts = self.code.get(row.dtype, {})
            data["code"] = scripts.get(f"{row.backend}:{row.mode}", scripts.get(row.backend))
        return data


def _tolerance_dict(tolerance: Tolerance) -> dict[str, Any]:
    return {"rtol": tolerance.rtol, "atol": tolerance.atol, "max_ulps": tolerance.max_ulps}


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
    mismatches: int = 0  # points beyond tolerance
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

    @property
    def dtypes(self) -> list[str]:
        return [part.dtype for part in self.parts] or [self.dtype]

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
    def special(self) -> list[SweepRow]:
        return [row for row in self.rows if row.special]

    @property
    def label(self) -> str:
        """The swept derivative's label, the key of ``derivative_expressions``."""
        return self.wrt or self.swept

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
        return exit_code_for(bool(self.failures), bool(self.mismatched),
                             self.strict and bool(self.special))

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def verdict(self) -> str:
        """The closing line; with several dtypes one line for all, rows named with
        their dtype ("torch float32") and each dtype's tolerance in the parentheses."""
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
        count = len(dict.fromkeys(row.series for row in self.rows))
        if self.ok:
            if special:
                return (
                    f"OK: all {count} backends agree with the exact derivative "
                    f"wherever it exists, within tolerance {rule}; not judged: {special}"
                    f"{',' if self.several else ''} of {where} (see warnings)"
                )
            return (
                f"OK: all {count} backends agree with the exact derivative at all "
                f"{where} within tolerance {rule}"
            )
        parts = []
        if self.failures:
            parts.append(f"could not run: {', '.join(self.name(r) for r in self.failures)}")
        if self.strict and special:
            parts.append(f"{special} (--strict)")
        for row in self.mismatched:
            at = "" if row.worst_at is None else f", worst at {self.swept} = {row.worst_at!r}"
            parts.append(f"{self.name(row)} beyond tolerance at {row.mismatches:,} of "
                         f"{row.points:,} points{at}")
        return "FAIL: " + "; ".join(parts) + f" {rule}"

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
            "tolerance": None if several else _tolerance_dict(self.tolerance),
            "dtypes": self.dtypes,
            "tolerances": {part.dtype: _tolerance_dict(part.tolerance) for part in parts},
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
            "special_points": [
                {**({"dtype": part.dtype} if several else {}),
                 **{k: json_number(v) if isinstance(v, float) else v for k, v in run.items()}}
                for part in parts
                for run in part.special_points
            ],
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
