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
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from autograd_cli.comparison.grid import CHUNK, Sweep
from autograd_cli.comparison.judge import Chunk, Sink, Summary, judge_backend
from autograd_cli.comparison.plan import (
    ANALYTIC,
    ModePlan,
    device_of,
    frameworks_of,
    method_of,
    series_name,
    version_of,
    worker_pool,
)
from autograd_cli.comparison.verdicts import Tolerance
from autograd_cli.core.model import BackendResult, Request
from autograd_cli.domain import MAX_EXACT, SpecialRuns, classify, intermediate_range
from autograd_cli.report.sweep_model import SweepReport, SweepRow

if TYPE_CHECKING:
    from autograd_cli.execution.runner import Pool



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
    from autograd_cli.execution import runner
    from autograd_cli.truth.deadline import Deadline
    from autograd_cli.truth.params import with_rounded_parameters
    from autograd_cli.truth.point import round_double_double
    from autograd_cli.truth.vectorized import (
        ACCEPT_BITS,
        FUNCTIONS_IN_MPMATH,
        LONG_DOUBLE_BITS,
        SweepReference,
    )

    bits = ACCEPT_BITS[sweep.dtype]
    truth = SweepReference(with_rounded_parameters(sweep.expr, sweep.dtype), (sweep.label,),
                           values=values, bits=bits)
    plan = ModePlan(sweep.backends, sweep.mode)
    own_mode = plan.own_mode
    summaries: dict[str, Summary] = {}
    for name, mode in plan.rows():
        key = series_name(name, mode, sweep.mode)
        summaries[key] = Summary(SweepRow(
            name, method_of(name, mode, sweep.order), version_of(name), sweep.dtype,
            sweep.label, "ok", order=sweep.order, mode=mode, series=key,
            device=device_of(name, sweep.device)))
    if ANALYTIC in summaries:
        summaries[ANALYTIC].row.method = "sympy.diff + double-double"
    active = {key for key, summary in summaries.items() if summary.row.backend != ANALYTIC}

    def submit(request: Request, m: int) -> runner.Run | None:
        """The frameworks still running, in the m-th mode (those without modes: the
        first only), on one chunk."""
        mode = sweep.modes[m]
        names = [n for n in plan.frameworks if (m == 0 or n in plan.moded)
                 and series_name(n, own_mode(n, mode), sweep.mode) in active]
        if pool is None or not names:
            return None
        return pool.submit(replace(request, mode=mode), names)
    recomputed = 0
    keep = bool(sinks)  # whole error arrays per chunk, only for outputs that show points
    total = sweep.size
    workers = ExitStack()
    pool = workers.enter_context(worker_pool(plan.frameworks, pool, True, jobs=jobs,
                                             isolate=isolate, verbose=verbose))
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
                                  max_exact=MAX_EXACT - special.checked, dtype=sweep.dtype)
                hi_exact, lo_exact = labels.exact_for(sweep.label, hi_exact, lo_exact)
                data.exact, data.exact_lo = hi_exact, lo_exact
                data.floor, data.subnormal = sweep_floor(sweep, points)
                # where an intermediate leaves the range: only if a backend misses
                data.intermediate = functools.cache(functools.partial(
                    intermediate_range, sweep.expr, points, sweep.dtype, sweep.label, hi_exact))
                if labels.any():
                    data.special = labels.codes[sweep.label]
                    data.labels = data.special.astype(np.int8)
                special.add(lo, points[sweep.swept], labels)
                if ANALYTIC in summaries:  # judged while the workers still compute
                    rounded = round_double_double(hi_exact, lo_exact, sweep.dtype)
                    judge_backend(data, ANALYTIC, rounded, summaries[ANALYTIC], tolerance, keep)
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
                judge_backend(data, key, derivative, summary, tolerance, keep,
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
        workers.close()

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
    from autograd_cli.report.sweep_model import merge_sweeps

    frameworks = frameworks_of([s.backends for s in sweeps])
    total = sum(s.size for s in sweeps)
    reports = []
    with worker_pool(frameworks, None, len(sweeps) > 1, jobs=jobs, isolate=isolate,
                     verbose=verbose) as pool:
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
    return merge_sweeps(reports)


def sweep_floor(sweep: Sweep, points: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A chunk's noise floor (float64 bound, vectorized) and where a subnormal occurs;
    where it cannot be computed, none (0: the rounding of the result alone counts)."""
    from autograd_cli.truth.noise_floor import directions_of, noise_floor

    size = len(points[sweep.swept])
    try:
        found = noise_floor(sweep.expr, points, directions_of(sweep.label, sweep.order),
                            sweep.dtype)
    except (ArithmeticError, ValueError, TypeError):  # a judgement aid, never a crash
        return np.zeros(size), np.zeros(size, dtype=bool)
    return found.floor, found.subnormal


def _range_warnings(rows: Sequence[SweepRow]) -> list[str]:
    """A line per kind of range event: which backends, how many points."""
    lines = []
    kinds = (
        ("overflow", "", "the exact f' is beyond {dtype}'s range: inf is the IEEE result"),
        ("underflow", "", "the exact f' rounds to 0 in {dtype} (below half its smallest "
                          "subnormal number)"),
        ("overflow", "intermediate_", "an intermediate is beyond {dtype}'s range in every "
                                      "IEEE evaluation of the expression as written, while "
                                      "the exact f' is in it"),
        ("underflow", "intermediate_", "an intermediate rounds to 0 in {dtype} in every "
                                       "IEEE evaluation of the expression as written, while "
                                       "the exact f' is in range"),
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


# What callers of sweeps use, in one place: the plan (grid), the run (here), the row
# names (series) and the outputs (report sinks, plot, progress).
from autograd_cli.comparison.grid import (  # noqa: E402
    DEFAULT_NUM,
    MAX_POINTS,
    build_sweep,
    build_sweep_request,
    parse_range,
)
from autograd_cli.comparison.plan import series_names  # noqa: E402
from autograd_cli.report.plot_sink import PlotSink, draw, latex_of, save_plot  # noqa: E402
from autograd_cli.report.progress import Progress  # noqa: E402
from autograd_cli.report.sinks import (  # noqa: E402
    ArraySink,
    CsvSink,
    check_arrays_fit,
    label_texts,
    open_output,
    write_json,
)

__all__ = [
    "CHUNK",
    "DEFAULT_NUM",
    "MAX_POINTS",
    "ArraySink",
    "CsvSink",
    "PlotSink",
    "Progress",
    "Sink",
    "Sweep",
    "build_sweep",
    "build_sweep_request",
    "check_arrays_fit",
    "draw",
    "label_texts",
    "latex_of",
    "open_output",
    "parse_range",
    "run_sweep",
    "run_sweeps",
    "save_plot",
    "series_names",
    "write_json",
]
