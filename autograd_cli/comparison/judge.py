"""Judging one chunk of a sweep: every backend's errors against the exact derivative,
reduced block by block into that backend's running summary row, and the
:class:`Chunk` the output sinks receive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from autograd_cli.comparison.verdicts import (
    TIER_INACCURATE,
    TIER_OK,
    TIER_WRONG,
    Errors,
    Tolerance,
    errors,
    range_statuses,
    ulp,
)
from autograd_cli.core.model import BackendResult
from autograd_cli.core.statuses import (
    CODES,
    INACCURATE,
    LABELS,
    NONDIFFERENTIABLE,
    OVERFLOW,
    RANGE_CODES,
    UNDEFINED,
    UNDERFLOW,
    WRONG,
)
from autograd_cli.report.sweep_model import SweepRow


@dataclass
class Chunk:
    """One judged chunk, as the output sinks see it."""

    start: int  # index of its first point in the sweep
    x: np.ndarray  # the swept variable as the backends saw it (dtype)
    values: np.ndarray | None  # exact f (float64, nearest), when asked for
    exact: np.ndarray  # exact f' (float64, nearest)
    exact_lo: np.ndarray  # and what it leaves out: exact f' = exact + exact_lo
    derivatives: dict[str, np.ndarray]  # backend -> its f' (ok backends only)
    errors: dict[str, Errors]
    #: Per point: 0, or the code of undefined / nondifferentiable (statuses.CODES).
    special: np.ndarray | None = None
    dtype: str = "float32"  # the dtype this chunk was compared in
    #: Per point, for the outputs: 0, or the code (:data:`LABELS`) of undefined,
    #: nondifferentiable, or overflow / underflow of any backend's result there
    #: (a point has at most one: the last two exclude the first two and each other).
    labels: np.ndarray | None = None
    #: Per backend that left some points unjudged (labelled): which (keep only).
    skipped: dict[str, np.ndarray] = field(default_factory=dict)
    #: Per point, computed on first use: where an intermediate leaves the dtype's range
    #: (:func:`autograd_cli.domain.intermediate_range` codes).
    intermediate: Callable[[], np.ndarray] | None = None
    #: Per point: the noise floor (what rounding alone may cost, absolute) and where an
    #: input or intermediate is subnormal (:mod:`autograd_cli.truth.noise_floor`).
    floor: np.ndarray | None = None
    subnormal: np.ndarray | None = None


class Sink(Protocol):
    """Something that takes each judged chunk: CSV rows, kept arrays, plot data."""

    def chunk(self, data: Chunk) -> None: ...


@dataclass
class Summary:
    """A backend's running reduction over the chunks judged so far."""

    row: SweepRow
    ulp_sum: float = 0.0
    ulp_count: int = 0

    def add(self, x: np.ndarray, derivative: np.ndarray, judged: Errors,
            skip: np.ndarray | None = None, floor: np.ndarray | None = None,
            scaled: np.ndarray | None = None) -> None:
        """``skip``: points not judged (undefined, kinks, over/underflow): no error of
        theirs enters the maxima, the mean or the mismatches. ``scaled``: each error in
        ULPs of max(|exact|, floor), for the largest error still ok (an exact 0 has
        the ULP of the smallest subnormal, which says nothing)."""
        row = self.row
        n = x.size
        if n == 0:
            return
        tiers = judged.tier_codes()
        if skip is not None:
            tiers = np.where(skip, TIER_OK, tiers)
            judged = Errors(np.where(skip, 0.0, judged.absolute),
                            np.where(skip, 0.0, judged.relative),
                            np.where(skip, 0.0, judged.ulps), judged.passed | skip, tiers)
        i_ulp = int(np.argmax(judged.ulps))
        i_abs = int(np.argmax(judged.absolute))
        ulp, absolute = float(judged.ulps[i_ulp]), float(judged.absolute[i_abs])
        if row.max_ulp_error is None or ulp > row.max_ulp_error:
            row.max_ulp_error = ulp
            row.worst_at = float(x[i_ulp]) if ulp > 0 else row.worst_at
        if row.max_abs_error is None or absolute > row.max_abs_error:
            row.max_abs_error = absolute
            row.max_abs_at = float(x[i_abs]) if absolute > 0 else row.max_abs_at
        relative = float(np.max(judged.relative))
        row.max_rel_error = relative if row.max_rel_error is None else max(
            row.max_rel_error, relative
        )
        finite = np.isfinite(judged.ulps) if skip is None else np.isfinite(judged.ulps) & ~skip
        self.ulp_sum += float(np.sum(judged.ulps, where=finite))
        self.ulp_count += int(np.count_nonzero(finite))
        row.mean_ulp_error = self.ulp_sum / self.ulp_count if self.ulp_count else None
        row.nonfinite += n - int(np.count_nonzero(np.isfinite(derivative)))
        row.mismatches += n - int(np.count_nonzero(judged.passed))
        row.inaccurate += int(np.count_nonzero(tiers == TIER_INACCURATE))
        row.wrong += int(np.count_nonzero(tiers == TIER_WRONG))
        if floor is not None:
            judged_floor = floor if skip is None else np.where(skip, 0.0, floor)
            largest = float(np.max(judged_floor, initial=0.0, where=np.isfinite(judged_floor)))
            row.max_noise_floor = largest if row.max_noise_floor is None else max(
                row.max_noise_floor, largest)
        ok_ulps = np.where(tiers == TIER_OK, judged.ulps if scaled is None else scaled, 0.0)
        if skip is not None:
            ok_ulps = np.where(skip, 0.0, ok_ulps)
        largest_ok = float(np.max(ok_ulps, initial=0.0, where=np.isfinite(ok_ulps)))
        row.max_ok_ulp_error = largest_ok if row.max_ok_ulp_error is None else max(
            row.max_ok_ulp_error, largest_ok)
        row.points += n
        row.status = WRONG if row.wrong else INACCURATE if row.inaccurate else "ok"

    def fail(self, result: BackendResult) -> None:
        self.row.status = result.status
        self.row.reason = result.reason


#: Points judged at a time within a chunk: errors' temporaries then stay in cache
#: (three times faster than whole chunks).
JUDGE_BLOCK = 1 << 16


def judge_backend(data: Chunk, backend: str, derivative: np.ndarray, summary: Summary,
           tolerance: Tolerance, keep: bool, estimate: np.ndarray | None = None) -> None:
    """One backend's errors over a chunk, reduced into its summary block by block; the
    arrays are kept on ``data`` for the sinks only if ``keep``. ``estimate``: the
    backend's own error estimate per point (finite-diff), checked against its error."""
    parts: list[Errors] = []
    skips: list[tuple[int, np.ndarray]] = []
    row = summary.row
    for a in range(0, data.x.size, JUDGE_BLOCK):
        b = a + JUDGE_BLOCK
        floor = None if data.floor is None else data.floor[a:b]
        judged = errors(derivative[a:b], data.exact[a:b], data.exact_lo[a:b],
                        summary.row.dtype, tolerance, floor=floor,
                        estimate=None if estimate is None else estimate[a:b])
        skip = None
        if data.special is not None:
            codes = data.special[a:b]
            skip = codes > 0
            row.undefined += int(np.count_nonzero(codes == CODES[UNDEFINED]))
            row.nondifferentiable += int(np.count_nonzero(codes == CODES[NONDIFFERENTIABLE]))
        if not judged.passed.all() or np.isinf(derivative[a:b]).any():
            overflow, underflow = range_statuses(derivative[a:b], data.exact[a:b],
                                                 data.exact_lo[a:b], row.dtype, judged.passed)
            if skip is not None:
                overflow &= ~skip
                underflow &= ~skip
            if data.intermediate is not None and not judged.passed.all():
                codes = data.intermediate()[a:b]
                failing = ~judged.passed & ~overflow & ~underflow
                if skip is not None:
                    failing &= ~skip
                inside_over = failing & (codes == RANGE_CODES[OVERFLOW])
                inside_under = failing & (codes == RANGE_CODES[UNDERFLOW])
                row.intermediate_overflow += int(np.count_nonzero(inside_over))
                row.intermediate_underflow += int(np.count_nonzero(inside_under))
                overflow |= inside_over
                underflow |= inside_under
            row.overflow += int(np.count_nonzero(overflow))
            row.underflow += int(np.count_nonzero(underflow))
            if overflow.any() or underflow.any():
                _label_range(data, a, overflow, underflow)
            skip = overflow | underflow if skip is None else skip | overflow | underflow
        scale = np.abs(data.exact[a:b]) if floor is None else np.fmax(np.abs(data.exact[a:b]),
                                                                        floor)
        with np.errstate(all="ignore"):
            scaled = judged.absolute / ulp(scale, row.dtype)
        summary.add(data.x[a:b], derivative[a:b], judged, skip, floor, scaled)
        if estimate is not None:
            _check_estimate(row, estimate[a:b], judged.absolute, skip)
        if keep:
            parts.append(judged)
            if skip is not None and skip.any():
                skips.append((a, skip))
    if keep:
        if skips:
            skipped = np.zeros(data.x.size, dtype=bool)
            for a, skip in skips:
                skipped[a:a + skip.size] = skip
            data.skipped[backend] = skipped
        data.derivatives[backend] = derivative
        absolute, relative, ulps, passed = (
            np.concatenate([getattr(p, name) for p in parts])
            for name in ("absolute", "relative", "ulps", "passed"))
        data.errors[backend] = Errors(absolute, relative, ulps, passed,
                                      np.concatenate([p.tier_codes() for p in parts]))


def _check_estimate(row: SweepRow, estimate: np.ndarray, absolute: np.ndarray,
                    skip: np.ndarray | None) -> None:
    """Fold a block of a backend's own error estimates into its row: the largest, and
    how often the error against the truth was larger (the estimate failed to bound it)."""
    judged = np.isfinite(estimate) & np.isfinite(absolute)
    if skip is not None:
        judged &= ~skip
    if not judged.any():
        return
    largest = float(np.max(estimate, where=judged, initial=0.0))
    row.max_error_estimate = largest if row.max_error_estimate is None else max(
        row.max_error_estimate, largest)
    row.estimate_exceeded += int(np.count_nonzero(judged & (absolute > estimate)))


def _label_range(data: Chunk, start: int, overflow: np.ndarray, underflow: np.ndarray) -> None:
    """Mark a block's over- and underflowing points in the chunk's per-point labels
    (a point is labelled when any backend's result there is)."""
    if data.labels is None:
        data.labels = np.zeros(data.x.size, dtype=np.int8)
    block = data.labels[start:start + overflow.size]
    block[overflow] = LABELS[OVERFLOW]
    block[underflow] = LABELS[UNDERFLOW]
