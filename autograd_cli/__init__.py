"""gradcheck: compare derivatives across autodiff frameworks against the exact truth.

The public API is small and imports nothing heavy until it is used::

    from autograd_cli import compare, sweep
    report = compare("2*x**3+4*x**2+5*x+6", at=0.5)
    report.ok, report.rows[1].derivative, report.to_dict()
    result = sweep("tanh(x)", range=(-5, 5), num=1001)   # .report, .arrays, .figure
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from autograd_cli.execution.warm import Session
    from autograd_cli.expr.nodes import Expr
    from autograd_cli.report.model import Report

__all__ = ["Session", "__version__", "compare", "parse", "sweep"]


def __getattr__(name: str) -> Any:
    """``autograd_cli.Session`` and ``autograd_cli.sweep`` without importing the
    worker and sweep machinery up front."""
    if name == "Session":
        from autograd_cli.execution.warm import Session

        return Session
    if name == "sweep":  # autograd_cli.sweep(...): see comparison/api.py
        from autograd_cli.comparison.api import sweep

        return sweep
    raise AttributeError(f"module 'autograd_cli' has no attribute {name!r}")


def parse(text: str) -> Expr:
    """The expression tree for ``text``; raises ExpressionError (a ValueError)."""
    from autograd_cli.expr.parser import parse as parse_text

    return parse_text(text)


def compare(
    expression: str,
    at: Any,
    *,
    wrt: str | list[str] | tuple[str, ...] = (),
    dtype: str | list[str] | tuple[str, ...] = "float32",
    backends: str | list[str] | tuple[str, ...] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_ulps: float | None = None,
    timeout: float = 120.0,
    isolate: bool = True,
    strict: bool = False,
    order: int = 1,
    mode: str = "reverse",
    device: str = "cpu",
    show_code: bool = False,
    session: Session | None = None,
) -> Report:
    """The same comparison as the ``gradcheck`` command, as a Report object.

    ``at`` is a number (one-variable expressions), a mapping ``{"x": 1, "y": 2}``, or a
    list of either for several points. Bad input raises ValueError with the message the
    command line would print. ``strict`` fails inaccurate rows, and counts undefined,
    non-differentiable, overflow and underflow rows as failures (``report.ok`` is then
    False); by default only wrong rows fail. ``order`` and
    ``mode`` are ``--order`` and ``--mode`` (``wrt=["x", "y"], order=2``: d2f/dxdy).
    ``dtype`` may name several (``"float16,float32"`` or a list): rows for each, grouped
    by dtype. ``show_code`` fills ``report.code`` with the ``--show-code`` scripts.

    The frameworks' workers stay warm between calls (one pool per process, closed at
    exit; ``session=`` a :class:`Session` of your own for explicit control), so the
    second call answers in a fraction of a second; ``isolate=False`` runs the backends
    in this process instead.
    """
    from dataclasses import replace

    from autograd_cli.comparison.points import run_checks
    from autograd_cli.comparison.verdicts import tolerance_for
    from autograd_cli.inputs import (
        InputError,
        build_request,
        check_flag,
        parse_backends,
        parse_dtypes,
        strings,
    )

    # Every argument is checked here, before any framework or SymPy work: a wrong kind
    # of value is a ValueError (InputError) naming the argument, never a TypeError.
    if not isinstance(expression, str):
        raise InputError(f"expression: expected a string, got {type(expression).__name__}")
    for name, value in (("isolate", isolate), ("strict", strict), ("show_code", show_code)):
        check_flag(value, name)
    if at is None:
        raise InputError("at: say where to differentiate, e.g. at=0.5 or at={'x': 1, 'y': 2}")
    points = list(at) if isinstance(at, (list, tuple)) else [at]
    wanted = (wrt,) if isinstance(wrt, str) else strings(wrt, "wrt")
    if backends is not None and not isinstance(backends, str):
        backends = strings(backends, "backends")
    dtypes = parse_dtypes(dtype if isinstance(dtype, str) else strings(dtype, "dtype"))
    tolerances = [tolerance_for(d, rtol, atol, max_ulps) for d in dtypes]
    chosen, notes = parse_backends(backends)
    request = build_request(
        expression, points, wanted, dtypes[0], chosen,
        timeout, order=order, mode=mode, device=device,
    )
    requests = [replace(request, dtype=d) for d in dtypes]
    if not isolate:  # backends in this process: nothing to keep warm
        return run_checks(requests, tolerances, isolate=False, notes=notes, strict=strict,
                          show_code=show_code)
    from autograd_cli.execution.warm import Session, default_session

    if session is not None and not isinstance(session, Session):
        raise InputError(f"session: expected a Session, got {type(session).__name__}")
    with (session or default_session()).pool() as pool:
        return run_checks(requests, tolerances, notes=notes, strict=strict,
                          show_code=show_code, pool=pool)
