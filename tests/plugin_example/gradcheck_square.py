"""A gradcheck backend plugin: the smallest one there is.

It computes with numpy only and knows a single function, f = x**2 (f' = 2x), whatever
the expression: a template to copy, where a real plugin would lower ``expr`` to its own
framework (see autograd_cli.expr.walk.lower and the built-in backends).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from autograd_cli.backends.base import Backend, Evaluation
from autograd_cli.expr.nodes import Expr


class SquareBackend(Backend):
    name = "square"
    method = "numpy 2*x"
    #: Where its version comes from (package metadata; nothing is imported to read it).
    distributions = ("gradcheck-square",)

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        x = np.asarray(inputs["x"], dtype=dtype)
        derivatives = {label: (2 * x if label == "x" else np.zeros_like(x)) for label in wrt}
        return Evaluation(x * x, derivatives, self.method, dtype)
