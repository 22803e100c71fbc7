"""The ``analytic`` row: the exact reference (:mod:`autograd_cli.truth`), rounded to the
compared dtype; what a perfect framework would return."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from autograd_cli.backends.base import Backend, Evaluation
from autograd_cli.core.dtypes import ALL_DTYPES
from autograd_cli.core.model import MAX_ORDER
from autograd_cli.expr.nodes import Expr
from autograd_cli.truth.params import with_rounded_parameters
from autograd_cli.truth.point import reference, round_double_double


class AnalyticBackend(Backend):
    """The truth, rounded to the compared dtype: the row every other row is judged by."""

    name: ClassVar[str] = "analytic"
    module: ClassVar[str | None] = None
    distributions: ClassVar[tuple[str, ...]] = ("sympy",)
    install_hint: ClassVar[str] = "pip install sympy mpmath"
    method: ClassVar[str] = "sympy.diff + mpmath"
    dtypes: ClassVar[tuple[str, ...]] = ALL_DTYPES
    max_order: ClassVar[int] = MAX_ORDER

    def evaluate(
        self,
        expr: Expr,
        inputs: Mapping[str, np.ndarray],
        wrt: tuple[str, ...],
        dtype: str,
    ) -> Evaluation:
        ref = reference(with_rounded_parameters(expr, dtype), inputs, wrt)
        return Evaluation(
            values=round_double_double(ref.values, ref.values_lo, dtype),
            derivatives={
                k: round_double_double(ref.derivatives[k], ref.derivatives_lo[k], dtype)
                for k in wrt
            },
            method=self.method,
            dtype=dtype,
            extra={
                "expression": ref.expression,
                "derivative_expressions": dict(ref.derivative_expressions),
                "precision_bits": ref.precision_bits,
                "reference": ref,
            },
        )
