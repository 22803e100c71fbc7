"""Result assembly: what a backend did, as its BackendResult row.

Why its own module: a row is built the same way whether the backend ran here, answered
from a worker, or failed (crash, timeout, error); one place fills in method, version,
device and the fields the model has.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from autograd_cli.core.model import BackendResult, Request
from autograd_cli.execution import worker
from autograd_cli.execution.plans import Plan

_RESULT_FIELDS = frozenset(f.name for f in fields(BackendResult))


def run_here(plan: Plan, request: Request, verbose: bool) -> BackendResult:
    outcome = worker.evaluate(
        plan.target, request.expr, request.inputs(), tuple(request.wrt), request.dtype,
        request.size, verbose=verbose, mode=request.mode, device=plan.device(request),
    )
    return result(
        backend=plan.name,
        status=outcome.status,
        dtype=outcome.dtype or request.dtype,
        method=outcome.method or plan.method,
        version=plan.version,
        values=outcome.values,
        derivatives=outcome.derivatives,
        reason=outcome.reason,
        seconds=outcome.seconds,
        extra=outcome.extra,
        device=plan.device(request),
    )


def failed(
    plan: Plan, request: Request, status: str, reason: str, seconds: float = 0.0
) -> BackendResult:
    return result(
        backend=plan.name,
        status=status,
        dtype=request.dtype,
        method=plan.method,
        version=plan.version,
        reason=reason,
        seconds=seconds,
        device=plan.device(request),
    )


def result(**values: Any) -> BackendResult:
    """A BackendResult, passing ``extra`` along once the model has a field for it."""
    if "extra" not in _RESULT_FIELDS:
        values.pop("extra", None)
    return BackendResult(**values)
