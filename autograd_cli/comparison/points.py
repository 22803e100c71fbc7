"""One comparison from Request to Report: start the workers, compute the truth while
they run, then judge every row against it.

With ``mode = "both"`` the frameworks run once per mode, one submission after the other
through one pool (each framework loads once); backends without modes run only in the
first. Each mode's answer is its own row, keyed by backend and mode.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from autograd_cli.backends import backend_class
from autograd_cli.comparison.plan import (
    ANALYTIC,
    ModePlan,
    frameworks_of,
    method_of,
    worker_pool,
)
from autograd_cli.comparison.verdicts import (
    TIER_NAMES,
    Errors,
    Tolerance,
    beyond_range,
    errors,
    range_statuses,
)
from autograd_cli.core.model import BackendResult, Request
from autograd_cli.core.statuses import (
    INACCURATE,
    NONDIFFERENTIABLE,
    OVERFLOW,
    UNDEFINED,
    UNDERFLOW,
    WRONG,
)
from autograd_cli.domain import Labels, Special, convention, describe, in_range, short
from autograd_cli.execution import runner
from autograd_cli.report.model import Report, Row, merge

if TYPE_CHECKING:
    from autograd_cli.truth.noise_floor import Floor


def run_check(
    request: Request,
    tolerance: Tolerance,
    *,
    jobs: int | None = None,
    isolate: bool = True,
    verbose: bool = False,
    notes: list[str] | None = None,
    on_result: Callable[[BackendResult], None] | None = None,
    pool: runner.Pool | None = None,
    strict: bool = False,
) -> Report:
    """Run every requested backend and compare each with the exact derivative.

    With a ``pool`` its workers (frameworks already loaded) take the request, so a
    suite of many checks imports each framework once; ``jobs``/``isolate``/``verbose``
    are then the pool's. Rows at undefined or non-differentiable points, and results
    that over- or underflow as they must, are labelled (:mod:`autograd_cli.domain`)
    and explained in ``warnings``; ``strict`` counts them as failures, and inaccurate rows too.
    """
    from autograd_cli import domain, truth
    from autograd_cli.truth.params import with_rounded_parameters
    from autograd_cli.truth.symbolic import sympy_ops

    modes = ModePlan(request.backends, request.mode)
    moded = modes.moded
    plan = modes.runs()
    workers = ExitStack()
    pool = workers.enter_context(worker_pool(modes.frameworks, pool, len(plan) > 1, jobs=jobs,
                                             isolate=isolate, verbose=verbose))

    def submit(mode: str, names: list[str]) -> runner.Run:
        single = replace(request, mode=mode)
        if pool is not None:
            return pool.submit(single, names)
        return runner.start(single, names, jobs=jobs, isolate=isolate, verbose=verbose)

    def tagged(mode: str) -> Callable[[BackendResult], None]:
        def tag(result: BackendResult) -> None:
            result.mode = mode if result.backend in moded else None
            if result.status != "ok":  # the registry's method names the default mode only
                result.method = method_of(result.backend, result.mode,
                                          request.order) or result.method
            if on_result is not None:
                on_result(result)

        return tag

    try:
        run = submit(*plan[0])
        try:
            started = time.perf_counter()
            inputs = request.inputs()
            # The truth, computed here while the workers compute, gets --timeout too
            # (ReferenceTimeout, a ValueError: exit 2, or that suite case's error).
            # SymPy's import (about a second, once) is not counted.
            sympy_ops()
            deadline = truth.Deadline(request.timeout)
            with deadline.alarm():
                # Parameters (leaky_relu's slope) as the frameworks see them: in the dtype.
                reference = truth.reference(with_rounded_parameters(request.expr, request.dtype),
                                            inputs, request.wrt, deadline=deadline)
                reference_seconds = time.perf_counter() - started
                deadline.doing = "checking points near kinks and domain edges"
                labels = domain.classify(
                    request.expr, {k: v.astype(np.float64) for k, v in inputs.items()},
                    request.wrt, request.text, dtype=request.dtype,
                )
        except BaseException:
            run.cancel()
            raise
        found: dict[tuple[str, str | None], BackendResult] = {}
        for k, (mode, names) in enumerate(plan):
            if k:
                run = submit(mode, names)
            for result in run.results(tagged(mode)):
                found[result.backend, result.mode] = result
    finally:
        workers.close()
    if ANALYTIC in request.backends:
        found[ANALYTIC, None] = _analytic_result(request, reference, reference_seconds)
    results = [found[row] for row in modes.rows()]
    rows = _rows(request, inputs, reference, results, tolerance, labels)
    return Report(
        expression=request.text,
        exact_expression=reference.expression,
        derivative_expressions=dict(reference.derivative_expressions),
        variables=request.variables,
        wrt=request.wrt,
        dtype=request.dtype,
        tolerance=tolerance,
        reference_precision_bits=reference.precision_bits,
        rows=rows,
        notes=list(notes or []),
        timings={_key(result): result.seconds for result in results},
        order=request.order,
        mode=request.mode,
        device=request.device,
        strict=strict,
        warnings=_warnings(rows, request, labels.unchecked),
    )


def run_checks(
    requests: Sequence[Request],
    tolerances: Sequence[Tolerance],
    *,
    jobs: int | None = None,
    isolate: bool = True,
    verbose: bool = False,
    notes: list[str] | None = None,
    on_result: Callable[[BackendResult], None] | None = None,
    show_code: bool = False,
    strict: bool = False,
    pool: runner.Pool | None = None,
) -> Report:
    """The same check in several dtypes (a request and a tolerance each), as one
    report grouped by dtype. One pool serves them all, so each framework loads once:
    ``pool`` when given (a warm one, :mod:`autograd_cli.execution.warm`), else one for
    the call. ``show_code`` attaches each backend's reproducing script."""
    frameworks = frameworks_of([r.backends for r in requests])
    with worker_pool(frameworks, pool, len(requests) > 1, jobs=jobs, isolate=isolate,
                     verbose=verbose) as pool:
        reports = []
        for request, tolerance in zip(requests, tolerances, strict=True):
            report = run_check(request, tolerance, jobs=jobs, isolate=isolate, verbose=verbose,
                               notes=notes, on_result=on_result, pool=pool, strict=strict)
            if show_code:
                from autograd_cli.report.show_code import scripts

                report.code = {request.dtype: scripts(request)}
            reports.append(report)
    return merge(reports)


def _key(result: BackendResult) -> str:
    """A row's backend, with its mode when it has one: "torch:forward"."""
    return result.backend if result.mode is None else f"{result.backend}:{result.mode}"


def _analytic_result(request: Request, reference: object, seconds: float) -> BackendResult:
    """The analytic row is the truth rounded to the dtype: what a perfect backend returns."""
    from autograd_cli.backends.analytic import AnalyticBackend
    from autograd_cli.truth.point import Reference, round_double_double

    assert isinstance(reference, Reference)
    return BackendResult(
        backend=ANALYTIC,
        status="ok",
        dtype=request.dtype,
        method=f"{AnalyticBackend.method} ({reference.precision_bits}-bit)",
        version=AnalyticBackend.version(),
        values=round_double_double(reference.values, reference.values_lo, request.dtype),
        derivatives={
            name: round_double_double(hi, reference.derivatives_lo[name], request.dtype)
            for name, hi in reference.derivatives.items()
        },
        seconds=seconds,
    )


def _rows(
    request: Request,
    inputs: dict[str, np.ndarray],
    reference: object,
    results: list[BackendResult],
    tolerance: Tolerance,
    labels: Labels | None = None,
) -> list[Row]:
    from autograd_cli.truth.point import Reference

    assert isinstance(reference, Reference)
    points = [
        {name: float(inputs[name][i]) for name in request.variables} for i in range(request.size)
    ]
    exact_hi, exact_lo = dict(reference.derivatives), dict(reference.derivatives_lo)
    if labels is not None and labels.exact:  # where SymPy's formula has no value (0**y by y)
        for name in request.wrt:
            exact_hi[name], exact_lo[name] = labels.exact_for(name, exact_hi[name],
                                                              exact_lo[name])
        results = [_exact_put_in(result, exact_hi, exact_lo) if result.backend == ANALYTIC
                   else result for result in results]
    floors = {name: floor_of(request, inputs, name) for name in request.wrt}
    judged = {
        (index, name): errors(
            result.derivatives[name],
            exact_hi[name],
            exact_lo[name],
            request.dtype,
            tolerance,
            floor=floors[name].floor,
            estimate=result.error_estimate(name),
        )
        for index, result in enumerate(results)
        if result.status == "ok"
        for name in request.wrt
    }
    ranges = {
        key: range_statuses(
            results[key[0]].derivatives[key[1]], exact_hi[key[1]],
            exact_lo[key[1]], request.dtype, found.passed,
        )
        for key, found in judged.items()
    }
    inside = _intermediates(request, inputs, judged)
    rows: list[Row] = []
    for name in request.wrt:
        exact = exact_hi[name]
        for i, point in enumerate(points):
            for index, result in enumerate(results):
                method = result.method or backend_class(result.backend).method
                row = Row(
                    backend=result.backend,
                    method=method,
                    version=result.version,
                    dtype=result.dtype,
                    point=point,
                    wrt=name,
                    value=None,
                    derivative=None,
                    exact=float(exact[i]),
                    abs_error=None,
                    rel_error=None,
                    ulp_error=None,
                    status=result.status,
                    reason=result.reason,
                    order=request.order,
                    mode=result.mode,
                    device=result.device,
                )
                found = judged.get((index, name))
                if found is not None and result.values is not None:
                    row.value = float(result.values[i])
                    row.derivative = float(result.derivatives[name][i])
                    row.abs_error = float(found.absolute[i])
                    row.rel_error = float(found.relative[i])
                    row.ulp_error = float(found.ulps[i])
                    estimate = result.error_estimate(name)
                    row.error_estimate = None if estimate is None else float(estimate[i])
                    row.noise_floor = float(floors[name].floor[i])
                    row.status = TIER_NAMES[int(found.tier_codes()[i])]
                    if (row.status == WRONG and bool(floors[name].subnormal[i])
                            and result.backend != "finite-diff"):  # it differences in float64
                        row.reason = _FLUSHED.format(dtype=request.dtype)
                    beyond = floors[name].overflow
                    if row.status == WRONG and beyond is not None and bool(beyond[i]):
                        row.reason = BEYOND_RANGE.format(dtype=request.dtype)
                    overflow, underflow = ranges[index, name]
                    _label(row, labels.at(name, i) if labels else None, bool(overflow[i]),
                           bool(underflow[i]), inside[name][i] if name in inside else None)
                    note = labels.notes.get(i) if labels else None
                    if note is not None and row.status in (INACCURATE, WRONG) and not row.reason:
                        known = convention(*note, row.backend, row.order)
                        row.reason = (describe(note[1]) or note[1]) + (
                            f"; {row.backend}'s convention: {known}" if known else "")
                rows.append(row)
    return rows


#: A wrong row where the chain rule itself leaves the dtype's range.
BEYOND_RANGE = ("a value, derivative or chain-rule product of the expression is beyond "
                "{dtype}'s range, so its derivative cannot be evaluated as written in {dtype} "
                "(an infinity times 0, or a term lost to 1/inf)")
_FLUSHED = ("likely flushes subnormals to zero (an input, an intermediate or one of their "
            "derivatives is subnormal or within 8 binades of it in {dtype}; IEEE gradual "
            "underflow gives the exact value)")


def floor_of(request: Request, inputs: dict[str, np.ndarray], label: str) -> Floor:
    """The noise floor of one derivative at the request's points (exact, in mpmath);
    where it cannot be computed, none (0: the rounding of the result alone counts)."""
    from autograd_cli.truth.noise_floor import Floor, directions_of, noise_floor

    size = request.size
    try:
        return noise_floor(request.expr, {k: np.asarray(v, dtype=np.float64)
                                          for k, v in inputs.items()},
                           directions_of(label, request.order), request.dtype, exact=True)
    except (ArithmeticError, ValueError, TypeError):  # a judgement aid, never a crash
        return Floor(np.zeros(size), np.zeros(size, dtype=bool))


def _exact_put_in(
    result: BackendResult, exact_hi: dict[str, np.ndarray], exact_lo: dict[str, np.ndarray]
) -> BackendResult:
    """The analytic row with the exact derivatives that classify put in, rounded."""
    from autograd_cli.truth.point import round_double_double

    derivatives = {
        name: round_double_double(exact_hi[name], exact_lo[name], result.dtype)
        if name in exact_hi else values
        for name, values in result.derivatives.items()
    }
    return replace(result, derivatives=derivatives)


def _intermediates(
    request: Request, inputs: dict[str, np.ndarray], judged: dict[tuple[int, str], Errors]
) -> dict[str, list[tuple[str, str] | None]]:
    """Per label and point, a value or derivative inside the computation that left the
    dtype's range (domain.intermediate_findings): looked for only when a row is outside
    tolerance, and used only to explain such rows."""
    from autograd_cli import domain

    if all(bool(found.passed.all()) for found in judged.values()):
        return {}
    try:
        return domain.intermediate_findings(
            request.expr, {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()},
            request.dtype, request.wrt, request.text,
        )
    except (ArithmeticError, ValueError, TypeError):  # an explanation, never a crash
        return {}


def _label(
    row: Row, special: Special | None, overflow: bool, underflow: bool,
    intermediate: tuple[str, str] | None = None,
) -> None:
    """A judged row at an undefined or non-differentiable point, or whose result is the
    dtype's range speaking (the exact derivative itself, or, for a row outside
    tolerance whose exact derivative is in range, ``intermediate``: (status, what inside
    the computation left the range)): its status, and why."""
    if special is not None:
        row.status, row.reason = special.status, special.reason
        known = convention(special.func, special.kind, row.backend, row.order)
        if known:
            row.reason = f"{special.reason}; {row.backend}'s convention: {known}"
        row.left, row.right = special.left, special.right
        row.exact = row.abs_error = row.rel_error = row.ulp_error = None
        return
    exact = "?" if row.exact is None else short(row.exact)
    if row.exact is not None and math.isinf(row.exact):
        exact = "beyond float64's range too"
    if overflow:
        row.status = OVERFLOW
        row.reason = (f"the exact {_prime(row)} ({exact}) is beyond {row.dtype}'s range: "
                      f"{'-' if (row.derivative or 0) < 0 else ''}inf is the IEEE result")
    elif underflow:
        row.status = UNDERFLOW
        row.reason = (f"the exact {_prime(row)} ({exact}) is below {row.dtype}'s smallest "
                      "normal number: the result underflows")
    elif (intermediate is not None and row.status in (INACCURATE, WRONG)
          and row.exact is not None and bool(in_range(np.array([row.exact]), row.dtype)[0])):
        row.status = intermediate[0]
        lost = "overflows" if row.status == OVERFLOW else "rounds it to 0"
        row.reason = (f"{intermediate[1]} in an intermediate: every IEEE evaluation of the "
                      f"expression as written {lost}; the exact {_prime(row)} = {exact} is "
                      "in range")
    elif row.status in (INACCURATE, WRONG) and row.exact is not None and row.reason is None \
            and bool(beyond_range(np.array([row.exact]), np.zeros(1), row.dtype)[0]):
        row.reason = f"the exact {_prime(row)} ({exact}) is beyond {row.dtype}'s range"


def _prime(row: Row) -> str:
    return "f" + "'" * row.order


def _where(row: Row, several: bool) -> str:
    point = ", ".join(f"{name} = {short(value)}" for name, value in row.point.items())
    return point + (f", d/d{row.wrt}" if several else "") + f" ({row.dtype})"


def _warnings(rows: Sequence[Row], request: Request, unchecked: int = 0) -> list[str]:
    """One line per kind of special row: where, why, and what each backend gave there
    (its convention), points with the same story on one line."""
    several = len(request.wrt) > 1
    modes = request.mode == "both"
    by_place: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row.special:
            by_place.setdefault((_where(row, several), row.status), []).append(row)
    stories: dict[tuple[str, str, str], list[str]] = {}
    for (where, status), found in by_place.items():
        gave = ", ".join(f"{_name(row, modes)} {_value(row)}" for row in found)
        story = (status, found[0].reason or "", f"backends give: {gave}")
        stories.setdefault(story, []).append(where)
    lines = []
    order = {UNDEFINED: 0, NONDIFFERENTIABLE: 1, OVERFLOW: 2, UNDERFLOW: 3}
    for (status, reason, gave), places in sorted(stories.items(), key=lambda s: order[s[0][0]]):
        shown = "; ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3
                                         else "")
        lines.append(f"{status} at {shown}: {reason}; {gave}")
    if unchecked:
        lines.append(f"{unchecked} points near a kink or a domain edge were not checked "
                     "exactly (too many): they are judged as usual")
    return lines


def _name(row: Row, modes: bool) -> str:
    return row.backend if row.mode is None or not modes else f"{row.backend} ({row.mode})"


def _value(row: Row) -> str:
    return "—" if row.derivative is None else short(row.derivative)
