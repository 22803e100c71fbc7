"""JAX: ``jax.vmap(jax.value_and_grad(f))`` over the points.

Why vmap of grad rather than grad of a sum: ``jax.grad`` is defined for a scalar
function, and batching it with ``vmap`` is how JAX users get per-example derivatives;
it asks exactly "f'(x) at each point" and does not lean on the points being
independent, as the sum trick does (the numbers are the same for our elementwise
expressions: each point's cotangent is 1 either way). Ops run eagerly, not under
``jit``, so XLA does not fuse or reorder them and every op rounds as the user's would.
Higher orders nest ``jax.grad`` (one ``argnums`` per variable); forward mode nests
``jax.jvp`` with a tangent of one, both under the same ``vmap``.

Why x64 is switched on: JAX silently computes float64 requests in float32 unless
``jax_enable_x64`` is set before arrays are made. With it on, JAX would promote
untyped values to float64, so every array here is made with an explicit dtype and
float32 stays float32. JAX is imported inside the methods, so importing this module
is free.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from autograd_cli.backends import lanes, natives
from autograd_cli.backends.base import (
    DeviceUnavailable,
    Evaluation,
    FrameworkBackend,
)
from autograd_cli.core.dtypes import ALL_DTYPES, numpy_dtype
from autograd_cli.core.model import DEVICES, MAX_ORDER, MODES, Partial, partial_of
from autograd_cli.core.switches import OFF
from autograd_cli.expr.nodes import Expr
from autograd_cli.expr.walk import lower, num_as_float

#: How JAX says a differentiation rule is missing: such rows are ``unsupported``.
_NO_RULE: tuple[tuple[type[BaseException], ...], tuple[str, ...]] = (
    (NotImplementedError,),
    ("not implemented", "Differentiation rule"),
)

#: A private folder for JAX's persistent compilation cache, which the background
#: service (cli/daemon.py) and a Python session that compiles ahead (execution/warm.py)
#: name for their workers; one-shot runs use one only if the user names it. "0" (or
#: off, false, no): none, even there.
CACHE_VARIABLE = "GRADCHECK_JAX_CACHE"
#: The cache is trimmed (least recently used first) beyond this many bytes.
CACHE_BYTES = 256 * 1024 * 1024


def _import_jax() -> Any:
    """``import jax`` with x64 on and its "GPU present but no CUDA jaxlib" warning off.

    Where a folder is named (the service's workers, a session's that compiles ahead)
    also with the persistent compilation cache, every entry kept: eager JAX compiles
    each op for each new shape and dtype (10-50 ms each, the bulk of a new expression's
    time), and a later process (after an idle exit, a new notebook, an upgrade: the key
    holds JAX's version) reads them back in a fraction of that.
    """
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.ERROR)
    import jax
    import jax.scipy.special  # not loaded by ``import jax``; natives.JAX calls it

    jax.config.update("jax_enable_x64", True)
    cache = os.environ.get(CACHE_VARIABLE, "").strip()
    if (cache and cache.lower() not in OFF
            and jax.config.values.get("jax_compilation_cache_dir") is None):
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        if importlib.util.find_spec("filelock") is not None:  # JAX needs it for a cap
            jax.config.update("jax_compilation_cache_max_size", CACHE_BYTES)
    return jax


class JaxBackend(FrameworkBackend):
    no_rule = _NO_RULE
    name: ClassVar[str] = "jax"
    module: ClassVar[str | None] = "jax"
    distributions: ClassVar[tuple[str, ...]] = ("jax",)
    install_hint: ClassVar[str] = "pip install jax"
    method: ClassVar[str] = "jax.vmap(jax.grad)"
    dtypes: ClassVar[tuple[str, ...]] = ALL_DTYPES
    devices: ClassVar[tuple[str, ...]] = DEVICES
    modes: ClassVar[tuple[str, ...]] = MODES
    max_order: ClassVar[int] = MAX_ORDER

    @classmethod
    def unsupported(cls, expr: Expr, mode: str = "reverse", order: int = 1) -> str | None:
        return natives.unsupported(cls.name, expr)

    @classmethod
    def describe(cls, mode: str = "reverse", order: int = 1) -> str:
        if (mode, order) == ("reverse", 1):
            return cls.method
        api = "jax.jvp" if mode == "forward" else "jax.grad"
        times = "" if order == 1 else f" ×{order}"
        return f"jax.vmap({api}{times}) ({mode})"

    def ops(self, dtype: str) -> dict[str, Callable[..., Any]]:
        """Every op as JAX spells it (functions: :data:`natives.JAX`: ``jax.numpy``,
        ``jax.nn``, ``jax.scipy.special``); constants are arrays of ``dtype``."""
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
        } | natives.ops_for("jax", {"jax": jax, "jnp": jnp}, {})


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
        jax = _import_jax()
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        try:
            place = jax.devices(device)[0]
        except RuntimeError:
            raise DeviceUnavailable(f"{device}: no CUDA device visible to JAX") from None
        # Pinned even for the CPU: JAX would otherwise use a GPU it sees.
        with jax.default_device(place):
            return self._evaluate(expr, inputs, wrt, dtype, mode)

    def _evaluate(
        self,
        expr: Expr,
        inputs: Mapping[str, np.ndarray],
        wrt: tuple[str, ...],
        dtype: str,
        mode: str = "reverse",
    ) -> Evaluation:
        jax = _import_jax()
        jnp = jax.numpy
        dt = jnp.dtype(dtype)
        out = numpy_dtype(dtype)
        n = len(next(iter(inputs.values()))) if inputs else 1
        ops = self.ops(dtype)
        sources = tuple(name for name in wrt if name in inputs)
        fixed = tuple(name for name in inputs if name not in sources)

        def f(moving: tuple[Any, ...], still: tuple[Any, ...]) -> Any:
            env = dict(zip(sources, moving, strict=True)) | dict(zip(fixed, still, strict=True))
            return lower(expr, ops, env)

        size = lanes.size_for(n)

        def column(name: str) -> Any:
            return jnp.asarray(lanes.pad(inputs[name], size), dtype=dt)

        partials = {name: partial_of(name) for name in wrt}
        by_name: dict[str, Any]
        if mode == "reverse" and all(len(p) == 1 for p in partials.values()):
            moving = tuple(column(name) for name in sources)
            still = tuple(column(name) for name in fixed)
            value_and_grad = jax.value_and_grad(f)
            batched = jax.vmap(value_and_grad) if inputs else value_and_grad
            values, grads = batched(moving, still)
            by_name = dict(zip(sources, grads, strict=True))
        else:
            names = tuple(inputs)
            columns = tuple(column(name) for name in names)

            def g(*args: Any) -> Any:
                return lower(expr, ops, dict(zip(names, args, strict=True)))

            def batch(h: Callable[..., Any]) -> Callable[..., Any]:
                return jax.vmap(h) if inputs else h

            values = batch(g)(*columns)
            by_name = {
                name: batch(_nested(jax, g, names, p, mode))(*columns)
                for name, p in partials.items()
                if all(v in names for v in p)
            }
        if np.dtype(values.dtype) != out:
            raise RuntimeError(f"JAX computed in {values.dtype}, not {dtype} (is x64 off?)")

        def as_numpy(a: Any) -> np.ndarray:
            if a is None:
                return np.zeros(n, dtype=out)
            return np.array(lanes.first(a, n), dtype=out)

        return Evaluation(
            values=as_numpy(values),
            derivatives={name: as_numpy(by_name.get(name)) for name in wrt},
            method=self.describe(mode, max((len(p) for p in partials.values()), default=1)),
            dtype=dtype,
        )


def _nested(
    jax: Any, f: Callable[..., Any], names: tuple[str, ...], partial: Partial, mode: str
) -> Callable[..., Any]:
    """``f`` (one scalar per variable, positionally) differentiated by each variable of
    ``partial`` in turn: ``jax.grad`` with its ``argnums``, or ``jax.jvp`` along it."""

    def along(h: Callable[..., Any], i: int) -> Callable[..., Any]:
        def tangent(*args: Any) -> Any:
            def moving(a: Any) -> Any:
                return h(*args[:i], a, *args[i + 1 :])

            return jax.jvp(moving, (args[i],), (jax.numpy.ones_like(args[i]),))[1]

        return tangent

    g = f
    for name in partial:
        i = names.index(name)
        g = jax.grad(g, argnums=i) if mode == "reverse" else along(g, i)
    return g
