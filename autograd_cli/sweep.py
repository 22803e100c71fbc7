"""Sweeps: one variable over an interval, from thousands to hundreds of millions of points.

Why chunks: memory must not grow with the number of points. The points are made,
evaluated by every backend, given their exact reference, judged and reduced to a
summary (max, argmax -> worst_at, sums, counts) one chunk at a time; only what an
output needs outlives its chunk: CSV rows are written as each chunk is judged, a plot
of a very long sweep keeps a min/max envelope, and ``--arrays`` keeps whole arrays,
refused up front when they cannot fit.

Why a pool: each framework is imported once (seconds, for TensorFlow) and its worker
then takes every chunk; the parent computes the next chunk's reference
(:mod:`autograd_cli.backends.sweep_reference`, vectorized) while the workers compute.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np

from autograd_cli.backends.sweep_reference import two_prod, two_sum
from autograd_cli.domain import (
    CODES,
    MAX_EXACT,
    NONDIFFERENTIABLE,
    UNDEFINED,
    SpecialRuns,
    classify,
)
from autograd_cli.dtypes import finfo, shortest
from autograd_cli.expr.nodes import Expr, variables
from autograd_cli.expr.parser import parse
from autograd_cli.inputs import (
    InputError,
    _unknown,
    check_device,
    check_dtype,
    check_mode,
    check_order,
    parse_number,
    resolve_partials,
)
from autograd_cli.model import MODES, BackendResult, Request, partial_of
from autograd_cli.report import SweepReport, SweepRow, json_number
from autograd_cli.verdicts import Errors, Tolerance, errors, range_statuses, ulp

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
    at: Sequence[str] = (),
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
    expr = parse(text)
    names = variables(expr)
    if not names:
        raise InputError(
            f"{text!r} has no variable to differentiate with respect to; write e.g. x*{text}"
        )
    check_dtype(dtype)
    check_device(device)
    check_order(order)
    check_mode(mode)
    chosen = list(dict.fromkeys(wrt))
    for name in chosen:
        if name not in names:
            raise InputError(f"--wrt: {_unknown('variable', name, names)}")
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
    sweep = Sweep(text, expr, names, swept, fixed, grid, dtype, backends, timeout, order,
                  mode, partial or (swept,) * order, device=device)
    return sweep, notes


def _fixed(at: Sequence[str], names: tuple[str, ...], swept: str) -> dict[str, float]:
    """--at NAME=VALUE for every variable but the swept one (one or several --at)."""
    others = [n for n in names if n != swept]
    fixed: dict[str, float] = {}
    for text in at:
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep:
                raise InputError(
                    f"--at {text!r}: with --range, --at fixes the other variables: "
                    f"NAME=VALUE, e.g. --at {others[0] if others else 'y'}=1"
                )
            if name == swept:
                raise InputError(f"--at {text!r}: {swept} is swept by --range; do not fix it")
            if name not in names:
                raise InputError(f"--at {text!r}: {_unknown('variable', name, names)}")
            if name in fixed:
                raise InputError(f"--at {text!r}: {name} is given twice")
            fixed[name] = parse_number(value, f"--at {text!r}")
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
    #: Per point: 0, or the code of undefined / nondifferentiable (domain.CODES).
    special: np.ndarray | None = None


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
           tolerance: Tolerance, keep: bool) -> None:
    """One backend's errors over a chunk, reduced into its summary block by block; the
    arrays are kept on ``data`` for the sinks only if ``keep``."""
    parts: list[Errors] = []
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
            row.overflow += int(np.count_nonzero(overflow))
            row.underflow += int(np.count_nonzero(underflow))
            skip = overflow | underflow if skip is None else skip | overflow | underflow
        summary.add(data.x[a:b], derivative[a:b], judged, skip)
        if keep:
            parts.append(judged)
    if keep:
        data.derivatives[backend] = derivative
        data.errors[backend] = Errors(*(
            np.concatenate([getattr(p, name) for p in parts])
            for name in ("absolute", "relative", "ulps", "passed")
        ))


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
) -> SweepReport:
    """Run every backend over the sweep chunk by chunk and reduce what they got wrong.

    ``values`` also computes the exact f (for CSV and arrays); ``progress`` is told
    (points done, points in all) after each chunk. Undefined and non-differentiable
    points (:mod:`autograd_cli.domain`) and over/underflowing results are counted, not
    judged; ``strict`` makes them fail the sweep.
    """
    from autograd_cli import runner
    from autograd_cli.backends import backend_class
    from autograd_cli.backends.analytic import round_double_double
    from autograd_cli.backends.sweep_reference import (
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
                order=sweep.order, mode=mode, series=key))
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
    pool = runner.Pool(frameworks, jobs=jobs, isolate=isolate, verbose=verbose) if frameworks \
        else None
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
                exact = truth(points)
                hi_exact, lo_exact = exact.derivatives[sweep.label]
                data = Chunk(lo, x, None if exact.values is None else exact.values[0],
                             hi_exact, lo_exact, {}, {})
                labels = classify(sweep.expr, points, (sweep.label,), sweep.text,
                                  max_exact=MAX_EXACT - special.checked)
                if labels.any():
                    data.special = labels.codes[sweep.label]
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
                if result.status != "ok":
                    summary.fail(result)
                    active.discard(key)
                    return
                derivative = np.asarray(result.derivatives[sweep.label])
                _judge(data, key, derivative, summary, tolerance, keep)

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
        if pool is not None:
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
    )


def _range_warnings(rows: Sequence[SweepRow]) -> list[str]:
    """A line per kind of range event: which backends, how many points."""
    lines = []
    for status, what in (("overflow", "the exact f' is beyond {dtype}'s range: inf is "
                                      "the IEEE result"),
                         ("underflow", "the exact f' is below {dtype}'s smallest normal "
                                       "number: the result underflows")):
        counts = {row.series: getattr(row, status) for row in rows if getattr(row, status)}
        if counts:
            who = ", ".join(f"{name} {n:,}" for name, n in counts.items())
            lines.append(f"{status} at some points ({who}): "
                         + what.format(dtype=rows[0].dtype))
    return lines


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
    where that backend could not run)."""

    def __init__(self, stream: TextIO, swept: str, backends: Sequence[str]) -> None:
        self.stream = stream
        self.backends = tuple(backends)
        self.header = [swept, "f", "exact"]
        for name in self.backends:
            self.header += [name, f"{name}_abs_error", f"{name}_ulp_error"]

    def chunk(self, data: Chunk) -> None:
        if data.start == 0:  # written with the first rows: a refusal leaves nothing behind
            self.stream.write(",".join(self.header) + "\n")
        n = data.x.size
        blank = [""] * n
        columns = [_text(data.x), blank if data.values is None else _text(data.values),
                   _text(data.exact)]
        for name in self.backends:
            if name in data.derivatives:
                judged = data.errors[name]
                columns += [_text(data.derivatives[name]), _text(judged.absolute),
                            _text(judged.ulps)]
            else:
                columns += [blank, blank, blank]
        self.stream.write("\n".join(map(",".join, zip(*columns, strict=True))) + "\n")


def array_bytes(points: int, backends: int) -> int:
    """Memory that --arrays keeps: x, f and f' plus three arrays per backend, float64."""
    return points * 8 * (3 + 3 * backends)


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


def check_arrays_fit(points: int, backends: int) -> None:
    """Refuse --arrays up front when keeping them would exhaust memory (half of what is
    available, at most)."""
    needed = array_bytes(points, backends)
    available = available_memory()
    if available is not None and needed > available // 2:
        raise InputError(
            f"--arrays: {points:,} points need about {needed / 2**30:.1f} GiB for their "
            f"arrays, more than half the {available / 2**30:.1f} GiB available; use fewer "
            "points, or --format csv (streamed, any size)"
        )


class ArraySink:
    """Every point's numbers, kept for ``--format json --arrays``."""

    def __init__(self, points: int, backends: Sequence[str]) -> None:
        self.backends = tuple(backends)
        self.x = np.full(points, np.nan)
        self.values = np.full(points, np.nan)
        self.exact = np.full(points, np.nan)
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
        for name, derivative in data.derivatives.items():
            judged = data.errors[name]
            self.columns[name]["derivative"][where] = derivative
            self.columns[name]["abs_error"][where] = judged.absolute
            self.columns[name]["ulp_error"][where] = judged.ulps

    def write(self, stream: TextIO, swept: str, failed: Sequence[str]) -> None:
        """The ``arrays`` object of the JSON output, written piece by piece."""
        stream.write("{")
        for key, array in ((swept, self.x), ("f", self.values), ("exact", self.exact)):
            stream.write(f"\n    {_json_key(key)}: ")
            _write_numbers(stream, array)
            stream.write(",")
        stream.write('\n    "backends": {')
        for j, name in enumerate(self.backends):
            stream.write(("," if j else "") + f"\n      {_json_key(name)}: ")
            if name in failed:
                stream.write("null")
                continue
            stream.write("{")
            for i, (key, array) in enumerate(self.columns[name].items()):
                stream.write(("," if i else "") + f"\n        {_json_key(key)}: ")
                _write_numbers(stream, array)
            stream.write("\n      }")
        stream.write("\n    }\n  }")


def _json_key(key: str) -> str:
    import json

    return json.dumps(key)


def write_json(
    stream: TextIO, report: SweepReport, arrays: ArraySink | None = None
) -> None:
    """The sweep's JSON: the summary, and with ``arrays`` every point's numbers under
    ``"arrays"`` (streamed, so the text is never held whole)."""
    import json

    text = json.dumps(report.to_dict(), indent=2)
    if arrays is None:
        stream.write(text + "\n")
        return
    assert text.endswith("\n}")
    stream.write(text[:-2] + ',\n  "arrays": ')
    arrays.write(stream, report.swept, [row.series for row in report.rows if row.failed])
    stream.write("\n}\n")


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


class PlotSink:
    """What the figure needs: every point up to PLOT_FULL points, beyond that the
    min/max of each of PLOT_BINS runs of points (the figure's own envelope, built
    chunk by chunk, so a one-point spike still shows)."""

    def __init__(
        self,
        points: int,
        backends: Sequence[str],
        latex: tuple[str | None, str | None] = (None, None),
    ) -> None:
        self.points = points
        self.backends = tuple(backends)
        self.latex = latex
        self.full = points <= PLOT_FULL
        keys = ["x", "exact"]
        for name in self.backends:
            keys += [f"{name}:d", f"{name}:u"]
        ends = ("",) if self.full else (":min", ":max")
        size = points if self.full else PLOT_BINS
        self.store = {key + end: np.full(size, np.nan) for key in keys for end in ends}
        self.seen: set[str] = set()
        self.codes = np.zeros(size, dtype=np.int8)  # undefined/nondifferentiable, per point
        self.coded = np.zeros(size, dtype=np.int64)  # or bin: how many points it holds

    def chunk(self, data: Chunk) -> None:
        n = data.x.size
        series = {"x": data.x, "exact": data.exact}
        for name, derivative in data.derivatives.items():
            self.seen.add(name)
            series[f"{name}:d"] = derivative
            series[f"{name}:u"] = np.abs(data.errors[name].ulps)
        if self.full:
            for key, array in series.items():
                self.store[key][data.start:data.start + n] = array
            if data.special is not None:
                self.codes[data.start:data.start + n] = data.special
                self.coded[data.start:data.start + n] = data.special > 0
            return
        index = np.arange(data.start, data.start + n, dtype=np.int64)
        bins = index * PLOT_BINS // self.points
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        used = bins[starts]
        if data.special is not None:
            self.codes[used] = np.maximum(self.codes[used],
                                          np.maximum.reduceat(data.special, starts))
            self.coded[used] += np.add.reduceat((data.special > 0).astype(np.int64), starts)
        for key, array in series.items():
            values = np.asarray(array, dtype=np.float64)
            low, high = self.store[f"{key}:min"], self.store[f"{key}:max"]
            low[used] = np.fmin(low[used], np.fmin.reduceat(values, starts))
            high[used] = np.fmax(high[used], np.fmax.reduceat(values, starts))

    def figure_data(self, report: SweepReport) -> Any:
        """The figure's input (:class:`autograd_cli.plot.SweepFigureData`)."""
        from autograd_cli.plot import Series, SweepFigureData

        def column(key: str) -> np.ndarray:
            if self.full:
                return self.store[key]
            return np.column_stack([self.store[f"{key}:min"], self.store[f"{key}:max"]]).ravel()

        x = column("x")  # a run's (min, max) drawn from its first x to its last
        rows = {row.series: row for row in report.rows}
        series = [
            Series(backend=name, label=_label(rows[name]), derivative=column(f"{name}:d"),
                   ulp_error=column(f"{name}:u"))
            for name in self.backends if name in self.seen
        ]
        notes: tuple[str, ...] = ()
        if not self.full:
            notes = (f"{self.points:,} points drawn as the min/max of {PLOT_BINS:,} runs",)
        return SweepFigureData(
            x=x, exact=column("exact"), series=series, expression=report.exact_expression,
            derivative=report.derivative_expressions[report.label], dtype=report.dtype,
            wrt=report.swept, partial=partial_of(report.label), notes=notes, special=self.marks(),
            expression_latex=self.latex[0], derivative_latex=self.latex[1],
        )

    def marks(self) -> list[Any]:
        """Runs of undefined / non-differentiable points, for the figure."""
        from autograd_cli.domain import STATUS_OF_CODE, runs
        from autograd_cli.plot import SpecialMark

        low = self.store["x" if self.full else "x:min"]
        high = self.store["x" if self.full else "x:max"]
        return [SpecialMark(STATUS_OF_CODE[code], float(low[first]), float(high[last]),
                            int(self.coded[first:last + 1].sum()))
                for code, first, last in runs(self.codes)]


def _label(row: SweepRow) -> str:
    version = f" {row.version}" if row.version else ""
    return f"{row.backend}{version} ({row.method})"


def latex_of(expr: Any, label: str) -> tuple[str | None, str | None]:
    """f and its derivative typeset for the figure's title; plain text where SymPy can't."""
    try:
        import sympy

        from autograd_cli.backends.analytic import derivative, to_sympy

        return sympy.latex(to_sympy(expr)), sympy.latex(derivative(expr, label))
    except Exception:
        return None, None


def draw(sink: PlotSink, report: SweepReport, path: Path) -> None:
    """Draw and save a sweep's figure (matplotlib loads here, not before)."""
    from autograd_cli.plot import build_figure, save_figure

    save_figure(build_figure(sink.figure_data(report)), path)


def build_sweep_request(
    text: str,
    start: str,
    stop: str,
    *,
    num: str | int | None = None,
    step: str | float | None = None,
    at: Sequence[str] = (),
    wrt: Sequence[str] = (),
    dtype: str = "float32",
    backends: tuple[str, ...] = (ANALYTIC,),
    timeout: float = 120.0,
    order: int = 1,
    mode: str = "reverse",
) -> Request:
    """A sweep as one point Request (every point a row): for suites, whose sweeps are
    short and judged point by point by :func:`check.run_check`."""
    sweep, _ = build_sweep(
        text, (str(start), str(stop)), num=None if num is None else str(num),
        step=None if step is None else str(step), at=at, wrt=wrt, dtype=dtype,
        backends=backends, timeout=timeout, order=order, mode=mode,
    )
    return sweep.request(0, sweep.size)


def save_plot(request: Request, report: Any, path: Path) -> None:
    """The sweep figure of a point Report over a swept Request (see
    :func:`build_sweep_request`)."""
    from autograd_cli.domain import STATUS_OF_CODE, runs
    from autograd_cli.plot import Series, SpecialMark, SweepFigureData, build_figure, save_figure

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
    codes = np.array([CODES.get(row.status, 0) for row in first], dtype=np.int8)
    xs = [row.point[swept] for row in first]
    marks = [SpecialMark(STATUS_OF_CODE[code], xs[a], xs[b], b - a + 1)
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
    "open_output",
    "parse_range",
    "run_sweep",
    "save_plot",
    "write_json",
]
