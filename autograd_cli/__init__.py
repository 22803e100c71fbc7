"""gradcheck: compare derivatives across autodiff frameworks against the exact truth.

The public API is small and imports nothing heavy until it is used::

    from autograd_cli import compare
    report = compare("2*x**3+4*x**2+5*x+6", at=0.5)
    report.ok, report.rows[1].derivative, report.to_dict()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from autograd_cli.expr.nodes import Expr
    from autograd_cli.report import Report

__all__ = ["__version__", "compare", "parse"]


def parse(text: str) -> Expr:
    """The expression tree for ``text``; raises ExpressionError (a ValueError)."""
    from autograd_cli.expr.parser import parse as parse_text

    return parse_text(text)


def compare(
    expression: str,
    at: Any,
    *,
    wrt: str | list[str] | tuple[str, ...] = (),
    dtype: str = "float32",
    backends: str | list[str] | tuple[str, ...] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_ulps: float | None = None,
    timeout: float = 120.0,
    isolate: bool = True,
) -> Report:
    """The same comparison as the ``gradcheck`` command, as a Report object.

    ``at`` is a number (one-variable expressions), a mapping ``{"x": 1, "y": 2}``, or a
    list of either for several points. Bad input raises ValueError with the message the
    command line would print.
    """
    from autograd_cli.check import run_check
    from autograd_cli.compare import tolerance_for
    from autograd_cli.inputs import build_request, parse_backends

    points = at if isinstance(at, (list, tuple)) else [at]
    texts = [
        ",".join(f"{k}={float(v)!r}" for k, v in p.items()) if isinstance(p, dict)
        else repr(float(p))
        for p in points
    ]
    chosen, notes = parse_backends(backends)
    request = build_request(
        expression, texts, (wrt,) if isinstance(wrt, str) else wrt, dtype, chosen, timeout
    )
    return run_check(
        request, tolerance_for(dtype, rtol, atol, max_ulps), isolate=isolate, notes=notes
    )
