"""PyTorch: leaves with ``requires_grad=True`` and ``y.backward(torch.ones_like(y))``.

This is how the tutorial (and most PyTorch users) get a derivative at many points at
once: each point is independent, so the gradient of the sum is the vector of
derivatives. Higher orders in reverse mode nest ``torch.autograd.grad`` with
``create_graph=True``, the same sum trick at each level (a derivative at one point
still depends on that point only); forward mode nests ``torch.func.jvp`` with a tangent
of ones in the variable. torch is imported inside the methods, so importing this
module is free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from autograd_cli.backends import lanes, natives
from autograd_cli.backends.base import (
    DeviceUnavailable,
    Evaluation,
    FrameworkBackend,
    nested,
)
from autograd_cli.core.dtypes import ALL_DTYPES, numpy_dtype
from autograd_cli.core.model import DEVICES, MAX_ORDER, MODES, Partial, partial_of
from autograd_cli.expr.nodes import Expr
from autograd_cli.expr.walk import lower, num_as_float


def _for_torch(a: np.ndarray) -> np.ndarray:
    """torch.tensor takes no ml_dtypes array: 2-byte inputs go as float32 (exactly)."""
    source = np.asarray(a)
    return source.astype(np.float32) if source.dtype.itemsize < 4 else source



#: How torch says a derivative rule is missing (hardsigmoid_backward has no
#: derivative, nor forward AD): such rows are ``unsupported``.
_NO_RULE: tuple[tuple[type[BaseException], ...], tuple[str, ...]] = (
    (RuntimeError, NotImplementedError),
    ("is not implemented", "does not support it"),
)

class TorchBackend(FrameworkBackend):
    no_rule = _NO_RULE
    name: ClassVar[str] = "torch"
    module: ClassVar[str | None] = "torch"
    distributions: ClassVar[tuple[str, ...]] = ("torch",)
    install_hint: ClassVar[str] = "pip install torch"
    method: ClassVar[str] = "backward()"
    dtypes: ClassVar[tuple[str, ...]] = ALL_DTYPES
    devices: ClassVar[tuple[str, ...]] = DEVICES
    modes: ClassVar[tuple[str, ...]] = MODES
    max_order: ClassVar[int] = MAX_ORDER

    @classmethod
    def unsupported(cls, expr: Expr, mode: str = "reverse", order: int = 1) -> str | None:
        return natives.unsupported(cls.name, expr)

    @classmethod
    def describe(cls, mode: str = "reverse", order: int = 1) -> str:
        if mode == "forward":
            return nested("torch.func.jvp", mode, order)
        return cls.method if order == 1 else nested("torch.autograd.grad", mode, order)

    def ops(self, dtype: str, device: str = "cpu") -> dict[str, Callable[..., Any]]:
        """Every op as torch spells it (functions: :data:`natives.TORCH`); constants are
        0-d tensors of ``dtype`` so that ``9.0**400`` overflows in that dtype as it
        would for a torch user."""
        import torch

        dt = getattr(torch, dtype)

        def constant(value: float) -> torch.Tensor:
            return torch.tensor(value, dtype=dt, device=device)

        ops: dict[str, Callable[..., Any]] = {
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
        }
        return ops | natives.ops_for("torch", {"torch": torch}, {})


    def compute(
        self,
        expr: Expr,
        inputs: Mapping[str, np.ndarray],
        wrt: tuple[str, ...],
        dtype: str,
        *,
        device: str = "cpu",
        mode: str = "reverse",
    ) -> Evaluation:
        import torch

        if device == "cuda" and not torch.cuda.is_available():
            raise DeviceUnavailable("cuda: no CUDA device visible to torch")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        dt = getattr(torch, dtype)
        out = numpy_dtype(dtype)
        n = len(next(iter(inputs.values()))) if inputs else 1
        partials = {name: partial_of(name) for name in wrt}
        needed = {v for p in partials.values() for v in p} if mode == "reverse" else set()
        size = lanes.size_for(n)
        leaves = {
            name: torch.tensor(_for_torch(lanes.pad(a, size)), dtype=dt, device=device,
                               requires_grad=name in needed)
            for name, a in inputs.items()
        }
        ops = self.ops(dtype, device)
        y = lower(expr, ops, leaves)
        found: dict[str, torch.Tensor | None]
        if mode == "reverse" and all(len(p) == 1 for p in partials.values()):
            if y.requires_grad:
                y.backward(torch.ones_like(y))
            found = {name: leaves[name].grad if name in leaves else None for name in wrt}
        elif mode == "reverse":
            found = {name: _reverse(expr, ops, leaves, p) for name, p in partials.items()}
        else:
            found = {name: _forward(expr, ops, leaves, p) for name, p in partials.items()}

        def as_numpy(t: torch.Tensor | None) -> np.ndarray:
            if t is None:
                return np.zeros(n, dtype=out)
            t = t.detach().cpu()
            if t.dtype == torch.bfloat16:  # torch has no numpy bfloat16; float32 holds it exactly
                t = t.float()
            return np.array(lanes.first(t.numpy(force=True), n), dtype=out)

        return Evaluation(
            values=as_numpy(y),
            derivatives={name: as_numpy(found[name]) for name in wrt},
            method=self.describe(mode, max((len(p) for p in partials.values()), default=1)),
            dtype=dtype,
        )


def _reverse(
    expr: Expr, ops: Mapping[str, Callable[..., Any]], leaves: Mapping[str, Any], partial: Partial
) -> Any:
    """Nested ``torch.autograd.grad``, each level's graph kept for the next; None where
    the derivative is identically zero (nothing left to differentiate)."""
    import torch

    current = lower(expr, ops, leaves)
    for level, name in enumerate(partial):
        leaf = leaves.get(name)
        if leaf is None or not current.requires_grad:
            return None
        (current,) = torch.autograd.grad(
            current, leaf, torch.ones_like(current), create_graph=level + 1 < len(partial),
            allow_unused=True,
        )
        if current is None:
            return None
    return current


def _forward(
    expr: Expr, ops: Mapping[str, Callable[..., Any]], leaves: Mapping[str, Any], partial: Partial
) -> Any:
    """Nested ``torch.func.jvp``: the tangent of f along ones in the first variable, then
    the tangent of that along the next; None if a variable is not an input."""
    from torch.func import jvp

    names = list(leaves)
    if any(name not in leaves for name in partial):
        return None

    def f(*args: Any) -> Any:
        return lower(expr, ops, dict(zip(names, args, strict=True)))

    def along(g: Callable[..., Any], i: int) -> Callable[..., Any]:
        def tangent(*args: Any) -> Any:
            def moving(a: Any) -> Any:
                return g(*args[:i], a, *args[i + 1 :])

            return jvp(moving, (args[i],), (args[i].new_ones(args[i].shape),))[1]

        return tangent

    g = f
    for name in partial:
        g = along(g, names.index(name))
    return g(*(leaf.detach() for leaf in leaves.values()))
