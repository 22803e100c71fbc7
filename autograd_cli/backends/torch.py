"""PyTorch: leaves with ``requires_grad=True`` and ``y.backward(torch.ones_like(y))``.

This is how the tutorial (and most PyTorch users) get a derivative at many points at
once: each point is independent, so the gradient of the sum is the vector of
derivatives. torch is imported inside the methods, so importing this module is free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from autograd_cli.backends.base import Backend, Evaluation, lower, num_as_float
from autograd_cli.expr.nodes import Expr


class TorchBackend(Backend):
    name: ClassVar[str] = "torch"
    module: ClassVar[str | None] = "torch"
    distributions: ClassVar[tuple[str, ...]] = ("torch",)
    install_hint: ClassVar[str] = "pip install torch"
    method: ClassVar[str] = "backward()"

    def ops(self, dtype: str) -> dict[str, Callable[..., Any]]:
        """Every op as torch spells it; constants are 0-d tensors of ``dtype`` so that
        ``9.0**400`` overflows in that dtype as it would for a torch user."""
        import torch

        dt = getattr(torch, dtype)

        def constant(value: float) -> torch.Tensor:
            return torch.tensor(value, dtype=dt)

        return {
            "num": lambda v: constant(num_as_float(v)),
            "pi": lambda: constant(math.pi),
            "e": lambda: constant(math.e),
            "neg": torch.neg,
            "pos": torch.positive,
            "add": torch.add,
            "sub": torch.sub,
            "mul": torch.mul,
            "div": torch.div,
            "pow": torch.pow,
            "sin": torch.sin,
            "cos": torch.cos,
            "tan": torch.tan,
            "asin": torch.asin,
            "acos": torch.acos,
            "atan": torch.atan,
            "sinh": torch.sinh,
            "cosh": torch.cosh,
            "tanh": torch.tanh,
            "exp": torch.exp,
            "log": torch.log,
            "log2": torch.log2,
            "log10": torch.log10,
            "sqrt": torch.sqrt,
            "abs": torch.abs,
            "sigmoid": torch.sigmoid,
        }

    def evaluate(
        self,
        expr: Expr,
        inputs: Mapping[str, np.ndarray],
        wrt: tuple[str, ...],
        dtype: str,
    ) -> Evaluation:
        import torch

        dt = getattr(torch, dtype)
        n = len(next(iter(inputs.values()))) if inputs else 1
        leaves = {
            name: torch.tensor(np.asarray(a), dtype=dt, requires_grad=name in wrt)
            for name, a in inputs.items()
        }
        y = lower(expr, self.ops(dtype), leaves)
        if y.requires_grad:
            y.backward(torch.ones_like(y))

        def as_numpy(t: torch.Tensor | None) -> np.ndarray:
            if t is None:
                return np.zeros(n, dtype=dtype)
            return np.array(np.broadcast_to(t.detach().numpy(), (n,)), dtype=dtype)

        return Evaluation(
            values=as_numpy(y),
            derivatives={
                name: as_numpy(leaves[name].grad if name in leaves else None) for name in wrt
            },
            method=self.method,
            dtype=dtype,
        )
