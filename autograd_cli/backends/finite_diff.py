"""Finite differences in numpy: the complex step where the expression allows it, else
central differences with Richardson extrapolation; each with an error estimate.

Why two methods: the complex step ``Im f(x + ih) / h`` subtracts nothing, so its step
can be tiny and it is exact to rounding, like forward-mode AD; but it needs every op
to be complex-analytic, and ``abs`` is not. Central differences work for any
expression but trade truncation against cancellation; Richardson extrapolation over
a ladder of steps and choosing, per point, the step whose estimate is smallest (as
numdifftools does) gives a derivative good to about eps**(6/7) and an estimate that
bounds its error.

f is always evaluated in the compared dtype (that is where information is lost);
the difference quotients and the extrapolation are done in float64 so that our own
bookkeeping adds no error to the float32 rows. Pure numpy: no framework, so the
runner calls it in-process (``isolated = False``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from autograd_cli.backends.base import Backend, Evaluation
from autograd_cli.backends.differences import (
    COMPLEX_STEPS,
    NOT_ANALYTIC,
    central_differences,
    complex_step,
    numpy_ops,
    uses,
)
from autograd_cli.core.dtypes import ALL_DTYPES, numpy_dtype, round_to
from autograd_cli.core.model import MAX_ORDER, partial_of
from autograd_cli.expr.nodes import Expr, variables
from autograd_cli.expr.walk import lower


class FiniteDiffBackend(Backend):
    """Numerical derivatives, the baseline that needs no autodiff at all."""

    name: ClassVar[str] = "finite-diff"
    module: ClassVar[str | None] = None
    distributions: ClassVar[tuple[str, ...]] = ("numpy",)
    install_hint: ClassVar[str] = "pip install numpy"
    method: ClassVar[str] = "complex step / central differences"
    #: numpy only: nothing to keep apart, so the runner calls it in this process.
    isolated: ClassVar[bool] = False
    #: float16 in numpy, bfloat16 in ml_dtypes; both by central differences, as numpy
    #: has no complex type that narrow.
    dtypes: ClassVar[tuple[str, ...]] = ALL_DTYPES
    #: Higher orders by central differences on a grid (2**N evaluations per step).
    max_order: ClassVar[int] = MAX_ORDER

    @classmethod
    def describe(cls, mode: str = "reverse", order: int = 1) -> str:
        return cls.method if order == 1 else "central differences + Richardson"

    def ops(self, dtype: str) -> dict[str, Callable[..., Any]]:
        return numpy_ops(dtype)

    def evaluate(
        self,
        expr: Expr,
        inputs: Mapping[str, np.ndarray],
        wrt: tuple[str, ...],
        dtype: str,
    ) -> Evaluation:
        n = len(next(iter(inputs.values()))) if inputs else 1
        out = numpy_dtype(dtype)
        arrays = {name: np.asarray(a, dtype=out) for name, a in inputs.items()}
        with np.errstate(all="ignore"):
            values = np.broadcast_to(lower(expr, numpy_ops(dtype), arrays), (n,))
        first = all(len(partial_of(name)) == 1 for name in wrt)
        analytic = first and dtype in COMPLEX_STEPS and not uses(expr, NOT_ANALYTIC)
        differentiate = complex_step if analytic else central_differences
        present = set(variables(expr))
        derivatives: dict[str, np.ndarray] = {}
        errors: dict[str, np.ndarray] = {}
        steps: dict[str, np.ndarray] = {}
        for name in wrt:
            if all(v in present and v in arrays for v in partial_of(name)):
                found = differentiate(expr, arrays, name, dtype)
                derivative = np.where(np.isnan(values), np.nan, found.derivative)
                derivatives[name] = round_to(derivative, dtype)
                errors[name] = np.where(np.isnan(values), np.nan, found.error)
                steps[name] = found.step
            else:
                derivatives[name] = np.zeros(n, dtype=out)
                errors[name] = np.zeros(n)
                steps[name] = np.zeros(n)
        return Evaluation(
            values=np.array(values, dtype=out),
            derivatives=derivatives,
            method=(
                f"complex step (h=2**{COMPLEX_STEPS[dtype]})"
                if analytic
                else "central differences + Richardson"
            ),
            dtype=dtype,
            extra={"error_estimate": errors, "step": steps},
        )
