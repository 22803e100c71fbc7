"""One comparison from Request to Report: start the workers, compute the truth while
they run, then judge every row against it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from autograd_cli import runner
from autograd_cli.backends import backend_class
from autograd_cli.compare import Tolerance, errors
from autograd_cli.model import BackendResult, Request
from autograd_cli.report import Report, Row

ANALYTIC = "analytic"


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
) -> Report:
    """Run every requested backend and compare each with the exact derivative.

    With a ``pool`` its workers (frameworks already loaded) take the request, so a
    suite of many checks imports each framework once; ``jobs``/``isolate``/``verbose``
    are then the pool's.
    """
    from autograd_cli.backends import analytic

    frameworks = [name for name in request.backends if name != ANALYTIC]
    if pool is not None:
        run = pool.submit(request, frameworks)
    else:
        run = runner.start(request, frameworks, jobs=jobs, isolate=isolate, verbose=verbose)
    try:
        started = time.perf_counter()
        inputs = request.inputs()
        reference = analytic.reference(request.expr, inputs, request.wrt)
        reference_seconds = time.perf_counter() - started
    except BaseException:
        run.cancel()
        raise
    by_name = {result.backend: result for result in run.results(on_result)}
    if ANALYTIC in request.backends:
        by_name[ANALYTIC] = _analytic_result(request, reference, reference_seconds)
    results = [by_name[name] for name in request.backends]
    rows = _rows(request, inputs, reference, results, tolerance)
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
        timings={result.backend: result.seconds for result in results},
    )


def _analytic_result(request: Request, reference: object, seconds: float) -> BackendResult:
    """The analytic row is the truth rounded to the dtype: what a perfect backend returns."""
    from autograd_cli.backends.analytic import AnalyticBackend, Reference, round_double_double

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
) -> list[Row]:
    from autograd_cli.backends.analytic import Reference

    assert isinstance(reference, Reference)
    points = [
        {name: float(inputs[name][i]) for name in request.variables} for i in range(request.size)
    ]
    judged = {
        (result.backend, name): errors(
            result.derivatives[name],
            reference.derivatives[name],
            reference.derivatives_lo[name],
            request.dtype,
            tolerance,
        )
        for result in results
        if result.status == "ok"
        for name in request.wrt
    }
    rows: list[Row] = []
    for name in request.wrt:
        exact = reference.derivatives[name]
        for i, point in enumerate(points):
            for result in results:
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
                )
                found = judged.get((result.backend, name))
                if found is not None and result.values is not None:
                    row.value = float(result.values[i])
                    row.derivative = float(result.derivatives[name][i])
                    row.abs_error = float(found.absolute[i])
                    row.rel_error = float(found.relative[i])
                    row.ulp_error = float(found.ulps[i])
                    row.status = "ok" if found.passed[i] else "mismatch"
                rows.append(row)
    return rows
