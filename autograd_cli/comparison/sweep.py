"""Sweeps: one variable over an interval, from thousands to hundreds of millions of points.

Why chunks: memory must not grow with the number of points. The points are made,
evaluated by every backend, given their exact reference, judged and reduced to a
summary (max, argmax -> worst_at, sums, counts) one chunk at a time; only what an
output needs outlives its chunk: CSV rows are written as each chunk is judged, a plot
of a very long sweep keeps a min/max envelope, and ``--arrays`` keeps whole arrays,
refused up front when they cannot fit.

Why a pool: each framework is imported once (seconds, for TensorFlow) and its worker
then takes every chunk; the parent computes the next chunk's reference
(:mod:`autograd_cli.truth.vectorized`, vectorized) while the workers compute.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import numpy as np

from autograd_cli.comparison.verdicts import Errors, Tolerance, errors, range_statuses, ulp
from autograd_cli.core.dtypes import finfo, shortest
from autograd_cli.core.model import MODES, BackendResult, Request, partial_of
from autograd_cli.core.names import unknown
from autograd_cli.core.statuses import (
    CODES,
    NONDIFFERENTIABLE,
    OVERFLOW,
    RANGE_CODES,
    UNDEFINED,
    UNDERFLOW,
)
from autograd_cli.domain import MAX_EXACT, SpecialRuns, classify, intermediate_range
from autograd_cli.expr.nodes import Expr
from autograd_cli.inputs import (
    InputError,
    Point,
    as_number,
    checked_expression,
    named_value,
    parse_number,
    resolve_partials,
)
from autograd_cli.report.model import SweepReport, SweepRow, json_number
from autograd_cli.truth.vectorized import two_prod, two_sum

if TYPE_CHECKING:
    from autograd_cli.execution.runner import Pool

#: Points per chunk: 2**20 keeps a chunk's arrays in the tens of MB per process while
#: numpy and the frameworks run at full speed; a 10**6-point sweep is one chunk.
CHUNK = 1 << 20

#: Points when neither --num nor --step is given: 10**4 intervals, so decimal ranges
#: give decimal steps (-4..4: 0.0008).
DEFAULT_NUM = 10_001

#: The most points a sweep may have (10**8 takes minutes; 10**9 would take an hour).
MAX_POINTS = 10**9

#: Up to this many points a plot gets every point (and decimates by itself); beyond,
#: it gets a min/max envelope over PLOT_BINS bins, built chunk by chunk.
PLOT_FULL = 1 << 21
PLOT_BINS = 2000

ANALYTIC = "analytic"

#: A point's label code in CSV, --arrays and plots: statuses.CODES (undefined,
#: nondifferentiable), then overflow and underflow.
LABELS: dict[str, int] = dict(CODES)
for _status in (OVERFLOW, UNDERFLOW):
    LABELS.setdefault(_status, max(LABELS.values()) + 1)
LABEL_OF_CODE: dict[int, str] = {code: status for status, code in LABELS.items()}


# --------------------------------------------------------------------------- points


@dataclass(frozen=True)
class Grid:
    """The swept points: ``start + i*step`` for ``0 <= i < num``, each computed from the
    exact decimals typed and rounded once to float64 (so ``--range 0 1 --step 0.1``
    gives 0.3, not 0.30000000000000004; the backends then round to their dtype)."""

    start: Fraction
    stop: Fraction
    step: Fraction
    num: int
    endpoint: bool  # --num: the stop is the last point; --step: it is excluded

    def describe(self) -> dict[str, Any]:
        return {
            "start": float(self.start),
            "stop": float(self.stop),
            "num": self.num,
            "step": float(self.step),
            "endpoint": self.endpoint,
        }

    def points(self, lo: int, hi: int) -> np.ndarray:
        """Points ``lo <= i < hi`` as float64, from double-double arithmetic."""
        i = np.arange(lo, hi, dtype=np.float64)
        s_hi, s_lo = _double_double(self.start)
        d_hi, d_lo = _double_double(self.step)
        p, e = two_prod(i, d_hi)
        e = e + i * d_lo
        s, t = two_sum(s_hi, p)
        x = s + (t + (e + s_lo))
        if self.endpoint and hi == self.num:
            x[-1] = float(self.stop)
        # Where start + i*step cancels (near 0) the double-double's own 2**-106 error is
        # all that is left (-4..4 gave -2.5e-32, not 0): those few points are exact here.
        scale = float(max(abs(self.start), abs(self.stop)))
        for j in np.flatnonzero(np.abs(x) <= scale * 2.0**-40).tolist():
            x[j] = float(self.start + (lo + j) * self.step)
        return x


def _double_double(value: Fraction) -> tuple[float, float]:
    hi = float(value)
    return hi, float(value - Fraction(hi))


def _exact_decimal(text: str, what: str) -> Fraction:
    """A typed number as the exact rational it spells (0.1 is 1/10); finite only."""
    value = parse_number(text, what)
    if not math.isfinite(value):
        raise InputError(f"{what}: {text!r} is not a finite number")
    try:
        decimal = Decimal(text.strip().replace("_", ""))
        if decimal.is_zero():
            return Fraction(0)
        if abs(decimal.adjusted()) > 300:
            # Refused before Fraction(decimal), which would build 10**exponent exactly.
            raise InputError(f"{what}: {text!r} is out of range (1e-300 to 1e300 in magnitude)")
        return Fraction(decimal)
    except (InvalidOperation, ValueError):
        return Fraction(value)


def _count(text: str) -> int:
    """--num as an integer; ``1e6`` and ``1_000_000`` are welcome."""
    value = parse_number(text, f"--num {text!r}")
    if not math.isfinite(value) or value != int(value):
        raise InputError(f"--num {text!r}: give a whole number of points, e.g. --num 1001")
    return int(value)


def parse_range(
    start_text: str, stop_text: str, *, num: str | None = None, step: str | None = None
) -> Grid:
    """``--range A B`` with ``--num N`` (both ends, like linspace) or ``--step S`` (the
    end excluded, like arange). A must be below B: a reversed range is refused (its
    points would be the same, only their order differs)."""
    what = f"--range {start_text} {stop_text}"
    start = _exact_decimal(start_text, what)
    stop = _exact_decimal(stop_text, what)
    if start == stop:
        raise InputError(f"{what}: the range is empty; for one point use --at {start_text}")
    if start > stop:
        raise InputError(
            f"{what}: the start is above the end; sweeps go upward: --range {stop_text} "
            f"{start_text}"
        )
    if num is not None and step is not None:
        raise InputError("give --num or --step, not both")
    if step is not None:
        size = _exact_decimal(step, f"--step {step!r}")
        if size <= 0:
            raise InputError(f"--step {step!r}: the step must be positive")
        count = math.ceil((stop - start) / size)
        if count < 2:
            raise InputError(
                f"--step {step!r} is not smaller than the range {what}: a sweep needs at "
                "least 2 points"
            )
        endpoint = False
    else:
        count = DEFAULT_NUM if num is None else _count(num)
        if count < 2:
            raise InputError(
                f"--num {num}: a sweep needs at least 2 points (both ends); for one point "
                "use --at"
            )
        size = (stop - start) / (count - 1)
        endpoint = True
    if count > MAX_POINTS:
        raise InputError(
            f"{what}: {count:,} points is too many (at most {MAX_POINTS:,}); use a larger "
            "--step or a smaller --num"
        )
    return Grid(start, stop, size, count, endpoint)


@dataclass(frozen=True)
class Sweep:
    """A checked sweep request: the expression, the swept variable and its grid, the
    other variables fixed, and what to compare. :meth:`request` cuts one chunk."""

    text: str
    expr: Expr
    variables: tuple[str, ...]
    swept: str
    fixed: dict[str, float]
    grid: Grid
    dtype: str = "float32"
    backends: tuple[str, ...] = (ANALYTIC,)
    timeout: float = 120.0
    order: int = 1
    mode: str = "reverse"
    #: The derivative swept, as its variables ("x", "x" for f''; "x", "y" for the
    #: mixed partial, x swept); empty: df/d(swept).
    partial: tuple[str, ...] = ()
    device: str = "cpu"

    @property
    def size(self) -> int:
        return self.grid.num

    @property
    def label(self) -> str:
        """The swept derivative's label: "x", "x,x", "x,y"."""
        return ",".join(self.partial) if self.partial else self.swept

    @property
    def modes(self) -> tuple[str, ...]:
        return MODES if self.mode == "both" else (self.mode,)

    def request(self, lo: int, hi: int) -> Request:
        points = {
            name: self.grid.points(lo, hi) if name == self.swept
            else np.full(hi - lo, self.fixed[name])
            for name in self.variables
        }
        return Request(
            text=self.text,
            expr=self.expr,
            variables=self.variables,
            points=points,
            wrt=(self.label,),
            dtype=self.dtype,
            backends=self.backends,
            timeout=self.timeout,
            order=self.order,
            mode=self.mode,
            device=self.device,
        )


def build_sweep(
    text: str,
    range_: tuple[str, str],
    *,
    num: str | None = None,
    step: str | None = None,
    at: Sequence[Point] = (),
    wrt: Sequence[str] = (),
    dtype: str = "float32",
    backends: tuple[str, ...] = (ANALYTIC,),
    timeout: float = 120.0,
    order: int = 1,
    mode: str = "reverse",
    device: str = "cpu",
) -> tuple[Sweep, list[str]]:
    """Parse and check everything, before any work; raises ExpressionError or
    InputError. Also returns notes worth saying (points that repeat in the dtype).

    With ``order`` N the swept derivative is the Nth in the swept variable, or, with
    exactly N ``wrt``, the mixed partial in that order with the first one swept."""
    expr, names = checked_expression(text, dtype=dtype, device=device, order=order,
                                     mode=mode, timeout=timeout)
    chosen = list(dict.fromkeys(wrt))
    for name in chosen:
        if name not in names:
            raise InputError(f"--wrt: {unknown('variable', name, names)}")
    partial: tuple[str, ...] = ()
    if order > 1 and len(wrt) > 1:
        partial = tuple(resolve_partials(names, list(wrt), order)[0])
        chosen = chosen[:1]
    if len(chosen) > 1:
        raise InputError(
            f"--wrt {', '.join(chosen)}: a sweep varies one variable; name only that one"
        )
    if not chosen and len(names) > 1:
        others = ",".join(f"{n}=1" for n in names[1:])
        raise InputError(
            f"the expression has variables {', '.join(names)}: name the swept one with "
            f"--wrt and fix the others with --at, e.g. --wrt {names[0]} --at {others}"
        )
    swept = chosen[0] if chosen else names[0]
    fixed = _fixed(at, names, swept)
    grid = parse_range(*range_, num=num, step=step)
    notes = _grid_notes(grid, swept, dtype)
    from autograd_cli.inputs import check_cost, check_work

    # Before SymPy loads: a derivative too large for the reference, or a chunk of
    # points too many for it within --timeout (each chunk's truth has that deadline).
    size = check_cost(expr, [partial or (swept,) * order], order)
    check_work(size, grid.num, order, chunk=CHUNK, where="--range")
    sweep = Sweep(text, expr, names, swept, fixed, grid, dtype, backends, timeout, order,
                  mode, partial or (swept,) * order, device=device)
    return sweep, notes


def _fixed(at: Sequence[Point], names: tuple[str, ...], swept: str) -> dict[str, float]:
    """--at NAME=VALUE for every variable but the swept one (one or several --at, or
    mappings of numbers from suites and the Python API)."""
    others = [n for n in names if n != swept]
    fixed: dict[str, float] = {}
    for given in at:
        if isinstance(given, Mapping):
            for name, value in given.items():
                where = f"--at {name}={value!r}"
                if name == swept:
                    raise InputError(f"{where}: {swept} is swept by --range; do not fix it")
                if name not in names:
                    raise InputError(f"{where}: {unknown('variable', name, names)}")
                if name in fixed:
                    raise InputError(f"{where}: {name} is given twice")
                fixed[name] = as_number(value, where)
            continue
        text = str(given)
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            where = f"--at {text!r}"
            if "=" not in item:
                raise InputError(
                    f"{where}: with --range, --at fixes the other variables: "
                    f"NAME=VALUE, e.g. --at {others[0] if others else 'y'}=1"
                )
            if item.partition("=")[0].strip() == swept:
                raise InputError(f"{where}: {swept} is swept by --range; do not fix it")
            name, value = named_value(item, names, fixed, where)
            fixed[name] = value
    missing = [n for n in others if n not in fixed]
    if missing:
        example = ",".join(f"{n}=1" for n in missing)
        raise InputError(
            f"{', '.join(missing)} must be fixed while {swept} is swept: add --at {example}"
        )
    return fixed


def _grid_notes(grid: Grid, swept: str, dtype: str) -> list[str]:
    """The dtype cannot tell apart points closer than its spacing: say so, and refuse
    ends beyond its range."""
    largest = max(abs(float(grid.start)), abs(float(grid.stop)))
    info = finfo(dtype)
    if largest > float(info.max):
        raise InputError(
            f"--range: {largest:g} is beyond {dtype}'s range (±{float(info.max):.4g}); "
            "use a smaller range or --dtype float64"
        )
    spacing = float(ulp(np.array(largest), dtype))
    if float(grid.step) < spacing:
        return [
            f"the step {float(grid.step):.3g} is below {dtype}'s spacing {spacing:.3g} near "
            f"{largest:g}: some {swept} values repeat after rounding to {dtype}"
        ]
    return []


# --------------------------------------------------------------------------- judging


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


class Sink(Protocol):
    """Something that takes each judged chunk: CSV rows, kept arrays, plot data."""

    def chunk(self, data: Chunk) -> None: ...


@dataclass
class _Summary:
    """A backend's running reduction over the chunks judged so far."""

    row: SweepRow
    ulp_sum: float = 0.0
    ulp_count: int = 0

    def add(self, x: np.ndarray, derivative: np.ndarray, judged: Errors,
            skip: np.ndarray | None = None) -> None:
        """``skip``: points not judged (undefined, kinks, over/underflow): no error of
        theirs enters the maxima, the mean or the mismatches."""
        row = self.row
        n = x.size
        if n == 0:
            return
        if skip is not None:
            judged = Errors(np.where(skip, 0.0, judged.absolute),
                            np.where(skip, 0.0, judged.relative),
                            np.where(skip, 0.0, judged.ulps), judged.passed | skip)
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
        row.points += n
        row.status = "mismatch" if row.mismatches else "ok"

    def fail(self, result: BackendResult) -> None:
        self.row.status = result.status
        self.row.reason = result.reason


#: Points judged at a time within a chunk: errors' temporaries then stay in cache
#: (three times faster than whole chunks).
JUDGE_BLOCK = 1 << 16


def _judge(data: Chunk, backend: str, derivative: np.ndarray, summary: _Summary,
           tolerance: Tolerance, keep: bool, estimate: np.ndarray | None = None) -> None:
    """One backend's errors over a chunk, reduced into its summary block by block; the
    arrays are kept on ``data`` for the sinks only if ``keep``. ``estimate``: the
    backend's own error estimate per point (finite-diff), checked against its error."""
    parts: list[Errors] = []
    skips: list[tuple[int, np.ndarray]] = []
    row = summary.row
    for a in range(0, data.x.size, JUDGE_BLOCK):
        b = a + JUDGE_BLOCK
        judged = errors(derivative[a:b], data.exact[a:b], data.exact_lo[a:b],
                        summary.row.dtype, tolerance)
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
        summary.add(data.x[a:b], derivative[a:b], judged, skip)
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
        data.errors[backend] = Errors(*(
            np.concatenate([getattr(p, name) for p in parts])
            for name in ("absolute", "relative", "ulps", "passed")
        ))


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


def run_sweep(
    sweep: Sweep,
    tolerance: Tolerance,
    *,
    jobs: int | None = None,
    isolate: bool = True,
    verbose: bool = False,
    notes: Sequence[str] = (),
    sinks: Sequence[Sink] = (),
    values: bool = False,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
    strict: bool = False,
    pool: Pool | None = None,
) -> SweepReport:
    """Run every backend over the sweep chunk by chunk and reduce what they got wrong.

    ``values`` also computes the exact f (for CSV and arrays); ``progress`` is told
    (points done, points in all) after each chunk. Undefined and non-differentiable
    points (:mod:`autograd_cli.domain`) and over/underflowing results are counted, not
    judged; ``strict`` makes them fail the sweep. With a ``pool`` (see
    :func:`run_sweeps`) its workers take the chunks and it is left open; ``jobs``,
    ``isolate`` and ``verbose`` are then the pool's.
    """
    from autograd_cli.backends import backend_class
    from autograd_cli.execution import runner
    from autograd_cli.truth.deadline import Deadline
    from autograd_cli.truth.point import round_double_double
    from autograd_cli.truth.vectorized import (
        ACCEPT_BITS,
        FUNCTIONS_IN_MPMATH,
        LONG_DOUBLE_BITS,
        SweepReference,
    )

    bits = ACCEPT_BITS[sweep.dtype]
    truth = SweepReference(sweep.expr, (sweep.label,), values=values, bits=bits)
    frameworks = [name for name in sweep.backends if name != ANALYTIC]
    moded = {name for name in frameworks if _has_modes(name, backend_class)}

    def own_mode(name: str, mode: str) -> str | None:
        return mode if name in moded else None

    summaries: dict[str, _Summary] = {}
    for name in sweep.backends:
        for mode in dict.fromkeys(own_mode(name, m) for m in sweep.modes):
            key = series_name(name, mode, sweep.mode)
            summaries[key] = _Summary(SweepRow(
                name, _method(name, backend_class, mode, sweep.order),
                _version(name, backend_class), sweep.dtype, sweep.label, "ok",
                order=sweep.order, mode=mode, series=key,
                device=_device(name, backend_class, sweep.device)))
    if ANALYTIC in summaries:
        summaries[ANALYTIC].row.method = "sympy.diff + double-double"
    active = {key for key, summary in summaries.items() if summary.row.backend != ANALYTIC}

    def submit(request: Request, m: int) -> runner.Run | None:
        """The frameworks still running, in the m-th mode (those without modes: the
        first only), on one chunk."""
        mode = sweep.modes[m]
        names = [n for n in frameworks if (m == 0 or n in moded)
                 and series_name(n, own_mode(n, mode), sweep.mode) in active]
        if pool is None or not names:
            return None
        return pool.submit(replace(request, mode=mode), names)
    recomputed = 0
    keep = bool(sinks)  # whole error arrays per chunk, only for outputs that show points
    total = sweep.size
    own = pool is None
    if own and frameworks:
        pool = runner.Pool(frameworks, jobs=jobs, isolate=isolate, verbose=verbose)
    if not frameworks:
        pool = None
    bounds = [(lo, min(lo + chunk, total)) for lo in range(0, total, chunk)]
    special = SpecialRuns(sweep.label)
    try:
        request = sweep.request(*bounds[0])
        run = submit(request, 0)
        for k, (lo, hi) in enumerate(bounds):
            started = time.perf_counter()
            try:
                inputs = request.inputs()
                x = inputs[sweep.swept]
                points = {name: a.astype(np.float64) for name, a in inputs.items()}
                deadline = Deadline(sweep.timeout)  # each chunk's truth gets --timeout
                with deadline.alarm():
                    exact = truth(points, deadline=deadline)
                hi_exact, lo_exact = exact.derivatives[sweep.label]
                data = Chunk(lo, x, None if exact.values is None else exact.values[0],
                             hi_exact, lo_exact, {}, {}, dtype=sweep.dtype)
                labels = classify(sweep.expr, points, (sweep.label,), sweep.text,
                                  max_exact=MAX_EXACT - special.checked)
                hi_exact, lo_exact = labels.exact_for(sweep.label, hi_exact, lo_exact)
                data.exact, data.exact_lo = hi_exact, lo_exact
                # where an intermediate leaves the range: only if a backend misses
                data.intermediate = functools.cache(functools.partial(
                    intermediate_range, sweep.expr, points, sweep.dtype, sweep.label, hi_exact))
                if labels.any():
                    data.special = labels.codes[sweep.label]
                    data.labels = data.special.astype(np.int8)
                special.add(lo, points[sweep.swept], labels)
                if ANALYTIC in summaries:  # judged while the workers still compute
                    rounded = round_double_double(hi_exact, lo_exact, sweep.dtype)
                    _judge(data, ANALYTIC, rounded, summaries[ANALYTIC], tolerance, keep)
                    summaries[ANALYTIC].row.seconds += time.perf_counter() - started
            except BaseException:
                if run is not None:
                    run.close()
                raise
            recomputed += exact.recomputed

            def judge(result: BackendResult, data: Chunk = data, mode: str = "") -> None:
                """Each backend's chunk as it arrives, so only the slowest one waits."""
                key = series_name(result.backend, own_mode(result.backend, mode), sweep.mode)
                summary = summaries[key]
                summary.row.seconds += result.seconds
                summary.row.device = result.device
                if result.status != "ok":
                    summary.fail(result)
                    active.discard(key)
                    return
                derivative = np.asarray(result.derivatives[sweep.label])
                _judge(data, key, derivative, summary, tolerance, keep,
                       result.error_estimate(sweep.label))

            for m, mode in enumerate(sweep.modes):
                if m:
                    run = submit(request, m)

                def judged(result: BackendResult, mode: str = mode) -> None:
                    judge(result, mode=mode)

                if run is not None:
                    run.results(judged)
            if k + 1 < len(bounds):  # the workers take the next chunk while we write this one
                following = sweep.request(*bounds[k + 1])
                run = submit(following, 0)
            for sink in sinks:
                sink.chunk(data)
            if verbose:
                print(f"chunk {k + 1}/{len(bounds)}: {hi - lo:,} points, "
                      f"{exact.recomputed:,} recomputed in mpmath", file=sys.stderr)
            if progress is not None:
                progress(hi, total)
            if k + 1 < len(bounds):
                request = following
    finally:
        if own and pool is not None:
            pool.close()

    method = "double-double arithmetic, " + (
        "mpmath functions" if FUNCTIONS_IN_MPMATH else f"{LONG_DOUBLE_BITS}-bit long double "
        "functions"
    ) + ", mpmath where the error bound is not met"
    all_notes = list(notes)
    if FUNCTIONS_IN_MPMATH:
        all_notes.append(
            f"numpy's long double has only {LONG_DOUBLE_BITS} bits here: the reference "
            "evaluates functions point by point in mpmath (slower)"
        )
    if truth.fallback:
        all_notes.append(f"reference in mpmath at every point ({truth.fallback})")
    return SweepReport(
        expression=sweep.text,
        exact_expression=truth.expression,
        derivative_expressions=dict(truth.derivative_expressions),
        variables=sweep.variables,
        swept=sweep.swept,
        fixed=dict(sweep.fixed),
        dtype=sweep.dtype,
        tolerance=tolerance,
        sweep=sweep.grid.describe(),
        reference={"method": method, "bits": bits, "recomputed_points": recomputed},
        rows=[summary.row for summary in summaries.values()],
        notes=all_notes,
        strict=strict,
        special_points=special.to_list(),
        warnings=special.warnings(sweep.swept) + _range_warnings(
            [summary.row for summary in summaries.values()]
        ),
        order=sweep.order,
        mode=sweep.mode,
        wrt=sweep.label,
        device=sweep.device,
    )


def run_sweeps(
    sweeps: Sequence[Sweep],
    tolerances: Sequence[Tolerance],
    *,
    jobs: int | None = None,
    isolate: bool = True,
    verbose: bool = False,
    notes: Sequence[str] = (),
    sinks: Callable[[str], Sequence[Sink]] | Sequence[Sink] = (),
    values: bool = False,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
    strict: bool = False,
) -> SweepReport:
    """The same sweep in several dtypes (a :class:`Sweep` and a tolerance each), one
    dtype after the other, as one report (:func:`report.merge_sweeps`). One pool of
    workers serves them all, so each framework loads once. ``sinks`` are shared by
    every dtype (each chunk names its dtype), or given per dtype by a function of it;
    ``progress`` counts the points of all dtypes."""
    from autograd_cli.execution import runner
    from autograd_cli.report.model import merge_sweeps

    frameworks = list(dict.fromkeys(
        name for s in sweeps for name in s.backends if name != ANALYTIC))
    pool = None
    if len(sweeps) > 1 and frameworks:
        pool = runner.Pool(frameworks, jobs=jobs, isolate=isolate, verbose=verbose)
    total = sum(s.size for s in sweeps)
    reports = []
    try:
        done = 0
        for one, tolerance in zip(sweeps, tolerances, strict=True):

            def told(points: int, _: int, before: int = done) -> None:
                if progress is not None:
                    progress(before + points, total)

            reports.append(run_sweep(
                one, tolerance, jobs=jobs, isolate=isolate, verbose=verbose, notes=notes,
                sinks=sinks(one.dtype) if callable(sinks) else sinks, values=values,
                progress=told, chunk=chunk, strict=strict, pool=pool,
            ))
            done += one.size
    finally:
        if pool is not None:
            pool.close()
    return merge_sweeps(reports)


def _range_warnings(rows: Sequence[SweepRow]) -> list[str]:
    """A line per kind of range event: which backends, how many points."""
    lines = []
    kinds = (
        ("overflow", "", "the exact f' is beyond {dtype}'s range: inf is the IEEE result"),
        ("underflow", "", "the exact f' is below {dtype}'s smallest normal number: the "
                          "result underflows"),
        ("overflow", "intermediate_", "an intermediate is beyond {dtype}'s range while the "
                                      "exact f' is in it: the dtype, not the framework, "
                                      "explains the miss"),
        ("underflow", "intermediate_", "an intermediate underflows in {dtype} while the "
                                       "exact f' is in range: the dtype, not the framework, "
                                       "explains the miss"),
    )
    for status, inside, what in kinds:
        counts = {row.series: _range_count(row, status, inside) for row in rows}
        counts = {name: n for name, n in counts.items() if n}
        if counts:
            who = ", ".join(f"{name} {n:,}" for name, n in counts.items())
            lines.append(f"{status} at some points ({who}): "
                         + what.format(dtype=rows[0].dtype))
    return lines


def _range_count(row: SweepRow, status: str, inside: str) -> int:
    """Points labelled ``status`` because of an intermediate (``inside``) or of the
    exact f' itself (not)."""
    within = int(getattr(row, f"intermediate_{status}"))
    return within if inside else int(getattr(row, status)) - within


def series_name(backend: str, mode: str | None, asked: str) -> str:
    """A sweep row's name in CSV columns, arrays and plots: the backend, with its mode
    ("torch:forward") when both modes were asked for."""
    return f"{backend}:{mode}" if asked == "both" and mode is not None else backend


def series_names(backends: Sequence[str], mode: str) -> list[str]:
    """Every row's :func:`series_name`, in row order (what the sinks are built with)."""
    from autograd_cli.backends import backend_class

    names = []
    for name in backends:
        modes = MODES if mode == "both" else (mode,)
        has = name != ANALYTIC and _has_modes(name, backend_class)
        names += list(dict.fromkeys(series_name(name, m if has else None, mode) for m in modes))
    return names


def _has_modes(name: str, backend_class: Callable[[str], Any]) -> bool:
    try:
        return bool(backend_class(name).modes)
    except Exception:
        return False


def _method(name: str, backend_class: Callable[[str], Any], mode: str | None = None,
            order: int = 1) -> str:
    try:
        return str(backend_class(name).describe(mode or "reverse", order))
    except Exception:
        return ""


def _device(name: str, backend_class: Callable[[str], Any], device: str) -> str:
    """Where a backend computes when ``device`` is asked for: the CPU unless it has
    that device (what its worker will confirm in each result)."""
    if name == ANALYTIC:
        return "cpu"
    try:
        devices = tuple(getattr(backend_class(name), "devices", ("cpu",)))
    except Exception:
        return device
    return device if device in devices else "cpu"


def _version(name: str, backend_class: Callable[[str], Any]) -> str | None:
    try:
        version = backend_class(name).version()
    except Exception:
        return None
    return None if version is None else str(version)


# --------------------------------------------------------------------------- outputs


@contextmanager
def open_output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a file replaced whole when the block ends well (a reader never sees
    half an output; a failure leaves any old file as it was)."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _text(array: np.ndarray) -> list[str]:
    """Each number as the shortest text that reads back as the same value of its dtype
    (numpy's repr for float32, Python's for float64); nan, inf, -inf as such."""
    if array.dtype == np.float64:
        return list(map(repr, array.tolist()))
    if array.dtype.name == "bfloat16":  # numpy cannot cast it to str
        return [shortest(v, "bfloat16") for v in array.astype(np.float64).tolist()]
    return [str(v) for v in array.astype(str).tolist()]


class CsvSink:
    """One CSV row per point, written as each chunk is judged: the swept variable, the
    exact f and f', then each backend's f' with its absolute and ULP error (empty
    where that backend could not run), then the point's ``label`` (empty, or
    undefined, nondifferentiable, overflow, underflow: see :data:`LABELS`).

    With several ``dtypes`` a first column ``dtype`` names each row's, and the rows
    come in one block per dtype (one header for all)."""

    def __init__(self, stream: TextIO, swept: str, backends: Sequence[str],
                 dtypes: Sequence[str] = ()) -> None:
        self.stream = stream
        self.backends = tuple(backends)
        self.with_dtype = len(dtypes) > 1
        self.header = ["dtype"] if self.with_dtype else []
        self.header += [swept, "f", "exact"]
        for name in self.backends:
            self.header += [name, f"{name}_abs_error", f"{name}_ulp_error"]
        self.header.append("label")
        self.written = False

    def chunk(self, data: Chunk) -> None:
        if not self.written:  # written with the first rows: a refusal leaves nothing behind
            self.stream.write(",".join(self.header) + "\n")
            self.written = True
        n = data.x.size
        blank = [""] * n
        columns = [[data.dtype] * n] if self.with_dtype else []
        columns += [_text(data.x), blank if data.values is None else _text(data.values),
                    _text(data.exact)]
        for name in self.backends:
            if name in data.derivatives:
                judged = data.errors[name]
                columns += [_text(data.derivatives[name]), _text(judged.absolute),
                            _text(judged.ulps)]
            else:
                columns += [blank, blank, blank]
        columns.append(blank if data.labels is None else label_texts(data.labels, ""))
        self.stream.write("\n".join(map(",".join, zip(*columns, strict=True))) + "\n")


def label_texts(codes: np.ndarray, ordinary: Any) -> list[Any]:
    """Each point's label by name (:data:`LABELS`); ``ordinary`` where it has none."""
    names = np.array([ordinary, *(LABEL_OF_CODE.get(c, ordinary)
                                  for c in range(1, max(LABEL_OF_CODE) + 1))], dtype=object)
    return list(names[np.asarray(codes, dtype=np.intp)])


def array_bytes(points: int, backends: int) -> int:
    """Memory that --arrays keeps: x, f and f' plus three arrays per backend, float64,
    and a label byte per point."""
    return points * (8 * (3 + 3 * backends) + 1)


def available_memory() -> int | None:
    """Bytes this machine can still give (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def check_arrays_fit(points: int, backends: int, dtypes: int = 1) -> None:
    """Refuse --arrays up front when keeping them would exhaust memory (half of what is
    available, at most); with several dtypes each keeps its own."""
    needed = array_bytes(points, backends) * dtypes
    available = available_memory()
    if available is not None and needed > available // 2:
        each = f" in each of {dtypes} dtypes" if dtypes > 1 else ""
        raise InputError(
            f"--arrays: {points:,} points{each} need about {needed / 2**30:.1f} GiB for their "
            f"arrays, more than half the {available / 2**30:.1f} GiB available; use fewer "
            "points, or --format csv (streamed, any size)"
        )


class ArraySink:
    """Every point's numbers, kept for ``--format json --arrays`` (one sink per dtype)."""

    def __init__(self, points: int, backends: Sequence[str]) -> None:
        self.backends = tuple(backends)
        self.x = np.full(points, np.nan)
        self.values = np.full(points, np.nan)
        self.exact = np.full(points, np.nan)
        self.labels = np.zeros(points, dtype=np.int8)  # LABELS codes; 0: an ordinary point
        self.columns = {
            name: {key: np.full(points, np.nan) for key in ("derivative", "abs_error",
                                                             "ulp_error")}
            for name in self.backends
        }

    def chunk(self, data: Chunk) -> None:
        where = slice(data.start, data.start + data.x.size)
        self.x[where] = data.x
        self.exact[where] = data.exact
        if data.values is not None:
            self.values[where] = data.values
        if data.labels is not None:
            self.labels[where] = data.labels
        for name, derivative in data.derivatives.items():
            judged = data.errors[name]
            self.columns[name]["derivative"][where] = derivative
            self.columns[name]["abs_error"][where] = judged.absolute
            self.columns[name]["ulp_error"][where] = judged.ulps

    def write(self, stream: TextIO, swept: str, failed: Sequence[str], indent: str = "") -> None:
        """The ``arrays`` object of the JSON output, written piece by piece (``indent``:
        more leading space on every line, for an object nested one level deeper)."""
        pad = indent + "    "
        stream.write("{")
        for key, array in ((swept, self.x), ("f", self.values), ("exact", self.exact)):
            stream.write(f"\n{pad}{_json_key(key)}: ")
            _write_numbers(stream, array)
            stream.write(",")
        stream.write(f'\n{pad}"labels": ')
        _write_labels(stream, self.labels)
        stream.write(f',\n{pad}"backends": {{')
        for j, name in enumerate(self.backends):
            stream.write(("," if j else "") + f"\n{pad}  {_json_key(name)}: ")
            if name in failed:
                stream.write("null")
                continue
            stream.write("{")
            for i, (key, array) in enumerate(self.columns[name].items()):
                stream.write(("," if i else "") + f"\n{pad}    {_json_key(key)}: ")
                _write_numbers(stream, array)
            stream.write(f"\n{pad}  }}")
        stream.write(f"\n{pad}}}\n{indent}  }}")


def _json_key(key: str) -> str:
    import json

    return json.dumps(key)


def write_json(
    stream: TextIO, report: SweepReport,
    arrays: ArraySink | Mapping[str, ArraySink] | None = None,
) -> None:
    """The sweep's JSON: the summary, and with ``arrays`` every point's numbers under
    ``"arrays"`` (streamed, so the text is never held whole). With several dtypes
    ``arrays`` maps each dtype to its sink, and so does the ``"arrays"`` object."""
    import json

    text = json.dumps(report.to_dict(), indent=2)
    if arrays is None:
        stream.write(text + "\n")
        return
    assert text.endswith("\n}")
    stream.write(text[:-2] + ',\n  "arrays": ')
    if isinstance(arrays, ArraySink):
        arrays.write(stream, report.swept, [row.series for row in report.rows if row.failed])
    else:
        stream.write("{")
        for j, (dtype, sink) in enumerate(arrays.items()):
            failed = [row.series for row in report.rows if row.failed and row.dtype == dtype]
            stream.write(("," if j else "") + f"\n    {_json_key(dtype)}: ")
            sink.write(stream, report.swept, failed, indent="  ")
        stream.write("\n  }")
    stream.write("\n}\n")


def _write_labels(stream: TextIO, codes: np.ndarray, piece: int = 1 << 16) -> None:
    """A JSON list of each point's label: null, or "undefined", "overflow", ..."""
    stream.write("[")
    for start in range(0, codes.size, piece):
        names = label_texts(codes[start:start + piece], None)
        text = ", ".join("null" if name is None else f'"{name}"' for name in names)
        stream.write((", " if start else "") + text)
    stream.write("]")


def _write_numbers(stream: TextIO, array: np.ndarray | None, piece: int = 1 << 16) -> None:
    """A JSON list of float64, non-finite numbers as "nan"/"inf"/"-inf" strings."""
    if array is None:
        stream.write("null")
        return
    stream.write("[")
    for start in range(0, array.size, piece):
        part = array[start:start + piece].tolist()
        text = ", ".join(repr(v) if math.isfinite(v) else f'"{json_number(v)}"' for v in part)
        stream.write((", " if start else "") + text)
    stream.write("]")


class _PlotLayer:
    """One dtype's share of a :class:`PlotSink`: its points, truth, series and labels."""

    def __init__(self, points: int, backends: Sequence[str], full: bool) -> None:
        self.points = points
        self.full = full
        keys = ["x", "exact"]
        for name in backends:
            keys += [f"{name}:d", f"{name}:u"]
        ends = ("",) if full else (":min", ":max")
        size = points if full else PLOT_BINS
        self.store = {key + end: np.full(size, np.nan) for key in keys for end in ends}
        self.seen: set[str] = set()
        #: Full: each point's label code. Binned: per code (row) and bin, how many
        #: labelled points it holds and the least and largest x among them.
        self.codes = np.zeros(size if full else 0, dtype=np.int8)
        rows = 0 if full else max(LABEL_OF_CODE) + 1
        self.count = np.zeros((rows, size), dtype=np.int64)
        self.low = np.full((rows, size), np.inf)
        self.high = np.full((rows, size), -np.inf)

    def add(self, data: Chunk) -> None:
        n = data.x.size
        series = {"x": data.x, "exact": data.exact}
        for name, derivative in data.derivatives.items():
            self.seen.add(name)
            series[f"{name}:d"] = derivative
            ulps = np.abs(data.errors[name].ulps)
            skipped = data.skipped.get(name)  # not judged: its band says why, no error
            series[f"{name}:u"] = ulps if skipped is None else np.where(skipped, np.nan, ulps)
        if self.full:
            for key, array in series.items():
                self.store[key][data.start:data.start + n] = array
            if data.labels is not None:
                self.codes[data.start:data.start + n] = data.labels
            return
        index = np.arange(data.start, data.start + n, dtype=np.int64)
        bins = index * PLOT_BINS // self.points
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        used = bins[starts]
        for key, array in series.items():
            values = np.asarray(array, dtype=np.float64)
            low, high = self.store[f"{key}:min"], self.store[f"{key}:max"]
            low[used] = np.fmin(low[used], np.fmin.reduceat(values, starts))
            high[used] = np.fmax(high[used], np.fmax.reduceat(values, starts))
        if data.labels is None:
            return
        x = np.asarray(data.x, dtype=np.float64)
        for code in np.unique(data.labels[data.labels > 0]).tolist():
            where = np.flatnonzero(data.labels == code)
            held = bins[where]
            first = np.flatnonzero(np.r_[True, held[1:] != held[:-1]])
            bin_of = held[first]
            self.count[code, bin_of] += np.diff(np.r_[first, where.size])
            self.low[code, bin_of] = np.minimum(self.low[code, bin_of],
                                                np.minimum.reduceat(x[where], first))
            self.high[code, bin_of] = np.maximum(self.high[code, bin_of],
                                                 np.maximum.reduceat(x[where], first))

    def column(self, key: str) -> np.ndarray:
        if self.full:
            return self.store[key]
        return np.column_stack([self.store[f"{key}:min"], self.store[f"{key}:max"]]).ravel()

    def marks(self, dtype: str | None) -> list[Any]:
        """Runs of labelled points (undefined, non-differentiable, overflow,
        underflow), each from its first labelled x to its last; binned, a run of bins
        holding the label, from the least such x in them to the largest (so a single
        point is a single x however many points a bin holds)."""
        from autograd_cli.domain import runs
        from autograd_cli.report.figure import SpecialMark

        found = []
        if self.full:
            x = self.store["x"]
            found = [SpecialMark(LABEL_OF_CODE[code], float(x[first]), float(x[last]),
                                 last - first + 1, dtype)
                     for code, first, last in runs(self.codes)]
        for code in range(1, self.count.shape[0]):
            held = (self.count[code] > 0).astype(np.int8)
            found += [SpecialMark(LABEL_OF_CODE[code], float(self.low[code, first]),
                                  float(self.high[code, last]),
                                  int(self.count[code, first:last + 1].sum()), dtype)
                      for _, first, last in runs(held)]
        return sorted(found, key=lambda m: (m.start, LABELS[m.status]))


class PlotSink:
    """What the figure needs: every point up to PLOT_FULL points (over all dtypes),
    beyond that the min/max of each of PLOT_BINS runs of points (the figure's own
    envelope, built chunk by chunk, so a one-point spike still shows). Chunks of
    several dtypes (a dtype list) each go to their dtype's layer: one series per
    backend and dtype, labelled with the dtype."""

    def __init__(
        self,
        points: int,
        backends: Sequence[str],
        latex: tuple[str | None, str | None] = (None, None),
        dtypes: int = 1,
    ) -> None:
        self.points = points
        self.backends = tuple(backends)
        self.latex = latex
        self.full = points * max(dtypes, 1) <= PLOT_FULL
        self.layers: dict[str, _PlotLayer] = {}

    def chunk(self, data: Chunk) -> None:
        layer = self.layers.get(data.dtype)
        if layer is None:
            layer = self.layers[data.dtype] = _PlotLayer(self.points, self.backends, self.full)
        layer.add(data)

    def figure_data(self, report: SweepReport) -> Any:
        """The figure's input (:class:`autograd_cli.report.figure.SweepFigureData`). With
        several dtypes the figure's x and exact curve are those of the most precise
        one, and each series carries its own dtype's x."""
        from autograd_cli.report.figure import Series, SweepFigureData

        dtypes = [d for d in report.dtypes if d in self.layers] or list(self.layers)
        several = len(dtypes) > 1
        base = min(dtypes, key=lambda d: float(finfo(d).eps))
        rows = {(row.series, row.dtype): row for row in report.rows}
        series = [
            Series(backend=name, label=_label(rows[name, dtype]),
                   derivative=layer.column(f"{name}:d"), ulp_error=layer.column(f"{name}:u"),
                   dtype=dtype, x=layer.column("x") if several else None)
            for name in self.backends
            for dtype in dtypes
            for layer in (self.layers[dtype],)
            if name in layer.seen
        ]
        notes: tuple[str, ...] = ()
        if not self.full:
            notes = (f"{self.points:,} points drawn as the min/max of {PLOT_BINS:,} runs",)
        special = [mark for dtype in dtypes
                   for mark in self.layers[dtype].marks(dtype if several else None)]
        if several:  # a mark every dtype has (a pole at 0) is drawn once, for all
            shared = set.intersection(*(
                {(m.status, m.start, m.stop, m.points) for m in special if m.dtype == d}
                for d in dtypes))
            special = [replace(m, dtype=None) for m in special if m.dtype == dtypes[0]
                       and (m.status, m.start, m.stop, m.points) in shared] + [
                m for m in special if (m.status, m.start, m.stop, m.points) not in shared]
            special.sort(key=lambda m: (m.start, LABELS[m.status]))
        return SweepFigureData(
            x=self.layers[base].column("x"), exact=self.layers[base].column("exact"),
            series=series, expression=report.exact_expression,
            derivative=report.derivative_expressions[report.label], dtype=base,
            wrt=report.swept, partial=partial_of(report.label), notes=notes, special=special,
            expression_latex=self.latex[0], derivative_latex=self.latex[1],
        )

    def marks(self) -> list[Any]:
        """Runs of labelled points, for the figure (every dtype's, named when several)."""
        several = len(self.layers) > 1
        return [mark for dtype, layer in self.layers.items()
                for mark in layer.marks(dtype if several else None)]


def _label(row: SweepRow) -> str:
    version = f" {row.version}" if row.version else ""
    return f"{row.backend}{version} ({row.method})"


def latex_of(expr: Any, label: str) -> tuple[str | None, str | None]:
    """f and its derivative typeset for the figure's title; plain text where SymPy can't."""
    try:
        import sympy

        from autograd_cli.truth.symbolic import derivative, to_sympy

        return sympy.latex(to_sympy(expr)), sympy.latex(derivative(expr, label))
    except Exception:
        return None, None


def draw(sink: PlotSink, report: SweepReport, path: Path) -> None:
    """Draw and save a sweep's figure (matplotlib loads here, not before)."""
    from autograd_cli.report.figure import build_figure, save_figure

    save_figure(build_figure(sink.figure_data(report)), path)


def build_sweep_request(
    text: str,
    start: str,
    stop: str,
    *,
    num: str | int | None = None,
    step: str | float | None = None,
    at: Sequence[Point] = (),
    wrt: Sequence[str] = (),
    dtype: str = "float32",
    backends: tuple[str, ...] = (ANALYTIC,),
    timeout: float = 120.0,
    order: int = 1,
    mode: str = "reverse",
    device: str = "cpu",
) -> Request:
    """A sweep as one point Request (every point a row): for suites, whose sweeps are
    short and judged point by point by :func:`check.run_check`."""
    sweep, _ = build_sweep(
        text, (str(start), str(stop)), num=None if num is None else str(num),
        step=None if step is None else str(step), at=at, wrt=wrt, dtype=dtype,
        backends=backends, timeout=timeout, order=order, mode=mode, device=device,
    )
    return sweep.request(0, sweep.size)


def save_plot(request: Request, report: Any, path: Path) -> None:
    """The sweep figure of a point Report over a swept Request (see
    :func:`build_sweep_request`)."""
    from autograd_cli.domain import runs
    from autograd_cli.report.figure import (
        Series,
        SpecialMark,
        SweepFigureData,
        build_figure,
        save_figure,
    )

    label = request.wrt[0]
    swept = partial_of(label)[0]
    rows = [row for row in report.rows if row.wrt == label]
    keys = list(dict.fromkeys((row.backend, row.mode) for row in rows))

    def column(key: tuple[str, str | None], attribute: str) -> np.ndarray:
        values = [getattr(row, attribute) for row in rows if (row.backend, row.mode) == key]
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)

    def method(key: tuple[str, str | None]) -> str:
        return next(row.method for row in rows if (row.backend, row.mode) == key)

    first = [row for row in rows if (row.backend, row.mode) == keys[0]]
    # A point's label: any series' (undefined and kinks are every row's; over- and
    # underflow exclude them and each other, so the largest code is the one there).
    codes = np.zeros(len(first), dtype=np.int8)
    for key in keys:
        statuses = [row.status for row in rows if (row.backend, row.mode) == key]
        codes = np.maximum(codes, np.array([LABELS.get(s, 0) for s in statuses], dtype=np.int8))
    xs = [row.point[swept] for row in first]
    marks = [SpecialMark(LABEL_OF_CODE[code], xs[a], xs[b], b - a + 1)
             for code, a, b in runs(codes)]
    data = SweepFigureData(
        x=np.array([row.point[swept] for row in first], dtype=np.float64),
        exact=column(keys[0], "exact"),
        series=[
            Series(backend=series_name(*key, request.mode),
                   label=f"{series_name(*key, request.mode)} ({method(key)})",
                   derivative=column(key, "derivative"), ulp_error=column(key, "ulp_error"))
            for key in keys
        ],
        expression=report.exact_expression,
        derivative=report.derivative_expressions[label],
        dtype=request.dtype,
        wrt=swept,
        partial=partial_of(label),
        special=marks,
        expression_latex=latex_of(request.expr, label)[0],
        derivative_latex=latex_of(request.expr, label)[1],
    )
    save_figure(build_figure(data), path)


@dataclass
class Progress:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    total: int
    enabled: bool = field(default_factory=lambda: sys.stderr.isatty())

    def __post_init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            import rich.progress as bar
            from rich.console import Console

            self._bar = bar.Progress(
                bar.TextColumn("sweep"), bar.BarColumn(), bar.MofNCompleteColumn(),
                bar.TimeElapsedColumn(), console=Console(stderr=True), transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("sweep", total=self.total)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done)

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)


__all__ = [
    "CHUNK",
    "DEFAULT_NUM",
    "LABELS",
    "LABEL_OF_CODE",
    "MAX_POINTS",
    "ArraySink",
    "Chunk",
    "CsvSink",
    "Grid",
    "PlotSink",
    "Progress",
    "Sweep",
    "build_sweep",
    "build_sweep_request",
    "check_arrays_fit",
    "draw",
    "label_texts",
    "open_output",
    "parse_range",
    "run_sweep",
    "run_sweeps",
    "save_plot",
    "write_json",
]
