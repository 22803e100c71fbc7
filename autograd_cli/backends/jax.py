"""JAX: ``jax.vmap(jax.value_and_grad(f))`` over the points.

Why vmap of grad rather than grad of a sum: ``jax.grad`` is defined for a scalar
function, and batching it with ``vmap`` is how JAX users get per-example derivatives;
it asks exactly "f'(x) at each point" and does not lean on the points being
independent, as the sum trick does (the numbers are the same for our elementwise
expressions: each point's cotangent is 1 either way). Ops run eagerly, not under
``jit``, so XLA does not fuse or reorder them and every op rounds as the user's would.

Why x64 is switched on: JAX silently computes float64 requests in float32 unless
``jax_enable_x64`` is set before arrays are made. With it on, JAX would promote
untyped values to float64, so every array here is made with an explicit dtype and
float32 stays float32. JAX is imported inside the methods, so importing this module
is free.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from autograd_cli.backends.base import Backend, Evaluation, lower, num_as_float
from autograd_cli.expr.nodes import Expr


def _import_jax() -> Any:
    """``import jax`` with x64 on and its "GPU present but no CUDA jaxlib" warning off."""
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.ERROR)
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


class JaxBackend(Backend):
    name: ClassVar[str] = "jax"
    module: ClassVar[str | None] = "jax"
    distributions: ClassVar[tuple[str, ...]] = ("jax",)
    install_hint: ClassVar[str] = "pip install jax"
    method: ClassVar[str] = "jax.vmap(jax.grad)"

    def ops(self, dtype: str) -> dict[str, Callable[..., Any]]:
        """Every op as ``jax.numpy`` spells it; constants are arrays of ``dtype``."""
        jax = _import_jax()
        jnp = jax.numpy
        dt = jnp.dtype(dtype)

        def constant(value: float) -> Any:
            return jnp.asarray(value, dtype=dt)

        return {
            "num": lambda v: constant(num_as_float(v)),
            "pi": lambda: constant(math.pi),
            "e": lambda: constant(math.e),
            "neg": jnp.negative,
            "pos": jnp.positive,
            "add": jnp.add,
            "sub": jnp.subtract,
            "mul": jnp.multiply,
            "div": jnp.divide,
            "pow": jnp.power,
            "sin": jnp.sin,
            "cos": jnp.cos,
            "tan": jnp.tan,
            "asin": jnp.arcsin,
            "acos": jnp.arccos,
            "atan": jnp.arctan,
            "sinh": jnp.sinh,
            "cosh": jnp.cosh,
            "tanh": jnp.tanh,
            "exp": jnp.exp,
            "log": jnp.log,
            "log2": jnp.log2,
            "log10": jnp.log10,
            "sqrt": jnp.sqrt,
            "abs": jnp.abs,
            "sigmoid": jax.nn.sigmoid,
        }

    def evaluate(
        self,
        expr: Expr,
        inputs: Mapping[str, np.ndarray],
        wrt: tuple[str, ...],
        dtype: str,
    ) -> Evaluation:
        jax = _import_jax()
        jnp = jax.numpy
        dt = jnp.dtype(dtype)
        n = len(next(iter(inputs.values()))) if inputs else 1
        ops = self.ops(dtype)
        sources = tuple(name for name in wrt if name in inputs)
        fixed = tuple(name for name in inputs if name not in sources)

        def f(moving: tuple[Any, ...], still: tuple[Any, ...]) -> Any:
            env = dict(zip(sources, moving, strict=True)) | dict(zip(fixed, still, strict=True))
            return lower(expr, ops, env)

        def column(name: str) -> Any:
            return jnp.asarray(np.asarray(inputs[name]), dtype=dt)

        moving = tuple(column(name) for name in sources)
        still = tuple(column(name) for name in fixed)
        value_and_grad = jax.value_and_grad(f)
        values, grads = (jax.vmap(value_and_grad) if inputs else value_and_grad)(moving, still)
        if np.dtype(values.dtype) != np.dtype(dtype):
            raise RuntimeError(f"JAX computed in {values.dtype}, not {dtype} (is x64 off?)")
        by_name = dict(zip(sources, grads, strict=True))

        def as_numpy(a: Any) -> np.ndarray:
            if a is None:
                return np.zeros(n, dtype=dtype)
            return np.array(np.broadcast_to(np.asarray(a), (n,)), dtype=dtype)

        return Evaluation(
            values=as_numpy(values),
            derivatives={name: as_numpy(by_name.get(name)) for name in wrt},
            method=self.method,
            dtype=dtype,
        )
