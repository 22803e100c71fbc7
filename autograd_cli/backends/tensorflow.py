"""TensorFlow: ``tf.Variable`` inputs recorded on a ``tf.GradientTape``.

``tape.gradient`` of a vector target is the gradient of its sum, which for
independent points is the vector of derivatives, as the tutorial computes it. Higher
orders nest tapes (each outer tape records the inner one's gradient); forward mode
uses ``tf.autodiff.ForwardAccumulator`` with a tangent of ones, nested the same way.
TensorFlow is imported inside the methods (it is slow to import and noisy), after
its C++ and absl logging have been turned down.
"""

from __future__ import annotations

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
    nested,
)
from autograd_cli.core.dtypes import ALL_DTYPES, numpy_dtype
from autograd_cli.core.model import DEVICES, MAX_ORDER, MODES, Partial, partial_of
from autograd_cli.expr.nodes import Expr
from autograd_cli.expr.walk import lower, num_as_float

#: How TensorFlow says an op has no registered gradient (SoftsignGrad: no second
#: derivative of softsign, so no forward mode either, which differentiates the
#: gradient): such rows are ``unsupported``.
_NO_RULE: tuple[tuple[type[BaseException], ...], tuple[str, ...]] = (
    (LookupError,),
    ("gradient registry has no entry", "No gradient defined"),
)

#: ``--device`` as ``tf.device`` names it.
TF_DEVICES: dict[str, str] = {"cpu": "/CPU:0", "cuda": "/GPU:0"}


def _import_tensorflow() -> Any:
    """``import tensorflow`` with its start-up chatter turned down first."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


class TensorFlowBackend(FrameworkBackend):
    no_rule = _NO_RULE
    name: ClassVar[str] = "tensorflow"
    module: ClassVar[str | None] = "tensorflow"
    distributions: ClassVar[tuple[str, ...]] = (
        "tensorflow",
        "tensorflow-cpu",
        "tensorflow-macos",
        "tf-nightly",
    )
    install_hint: ClassVar[str] = "pip install tensorflow"
    method: ClassVar[str] = "tf.GradientTape"
    dtypes: ClassVar[tuple[str, ...]] = ALL_DTYPES
    devices: ClassVar[tuple[str, ...]] = DEVICES
    modes: ClassVar[tuple[str, ...]] = MODES
    max_order: ClassVar[int] = MAX_ORDER

    @classmethod
    def unsupported(cls, expr: Expr, mode: str = "reverse", order: int = 1) -> str | None:
        return natives.unsupported(cls.name, expr)

    @classmethod
    def describe(cls, mode: str = "reverse", order: int = 1) -> str:
        api = "tf.autodiff.ForwardAccumulator" if mode == "forward" else cls.method
        return nested(api, mode, order)

    def ops(self, dtype: str) -> dict[str, Callable[..., Any]]:
        """Every op as TensorFlow spells it (functions: :data:`natives.TENSORFLOW`);
        constants are ``tf.constant`` of ``dtype``. TF has no log2/log10, so they are
        written as its users write them."""
        tf = _import_tensorflow()
        dt = getattr(tf, dtype)

        def constant(value: float) -> Any:
            return tf.constant(value, dtype=dt)

        log_2 = tf.math.log(constant(2.0))
        log_10 = tf.math.log(constant(10.0))
        return {
            "num": lambda v: constant(num_as_float(v)),
            "pi": lambda: constant(math.pi),
            "e": lambda: constant(math.e),
            "neg": tf.negative,
            "pos": lambda a: a,
            "add": tf.add,
            "sub": tf.subtract,
            "mul": tf.multiply,
            "div": tf.divide,
            "pow": tf.pow,
        } | natives.ops_for("tensorflow", {"tf": tf}, {
            "log2": lambda a: tf.math.log(a) / log_2,
            "log10": lambda a: tf.math.log(a) / log_10,
        })


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
        tf = _import_tensorflow()
        if device == "cuda" and not tf.config.list_physical_devices("GPU"):
            raise DeviceUnavailable("cuda: no GPU visible to TensorFlow")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        partials = {name: partial_of(name) for name in wrt}
        needed = {v for p in partials.values() for v in p} if mode == "reverse" else set()
        dt = getattr(tf, dtype)
        out = numpy_dtype(dtype)
        n = len(next(iter(inputs.values()))) if inputs else 1
        # Pinned even for the CPU: TensorFlow would otherwise place ops on a GPU it sees.
        with tf.device(TF_DEVICES[device]):
            ops = self.ops(dtype)
            size = lanes.size_for(n)
            leaves = {
                name: tf.Variable(lanes.pad(a, size), dtype=dt)
                if name in needed
                else tf.constant(lanes.pad(a, size), dtype=dt)
                for name, a in inputs.items()
            }
            if mode == "reverse" and all(len(p) == 1 for p in partials.values()):
                sources = [leaves[name] for name in wrt if name in leaves]
                with tf.GradientTape() as tape:
                    y = lower(expr, ops, leaves)
                grads = tape.gradient(y, sources,
                                      unconnected_gradients=tf.UnconnectedGradients.ZERO)
                by_name = dict(zip([name for name in wrt if name in leaves], grads, strict=True))
            else:
                y = lower(expr, ops, leaves)
                by_name = {name: _nested(tf, expr, ops, leaves, p, mode)
                           for name, p in partials.items()}

        def as_numpy(t: Any) -> np.ndarray:
            if t is None:
                return np.zeros(n, dtype=out)
            return np.array(lanes.first(t.numpy(), n), dtype=out)

        return Evaluation(
            values=as_numpy(y),
            derivatives={name: as_numpy(by_name.get(name)) for name in wrt},
            method=self.describe(mode, max((len(p) for p in partials.values()), default=1)),
            dtype=dtype,
        )


def _nested(
    tf: Any,
    expr: Expr,
    ops: Mapping[str, Callable[..., Any]],
    leaves: Mapping[str, Any],
    partial: Partial,
    mode: str,
) -> Any:
    """The derivative by each variable of ``partial`` in turn: a tape (or forward
    accumulator) per level, the outermost for the last variable, so each level's
    derivative is recorded by the one around it. None if a variable is not an input."""
    if any(name not in leaves for name in partial):
        return None
    zero = tf.UnconnectedGradients.ZERO

    def level(k: int) -> Any:
        if k == 0:
            return lower(expr, ops, leaves)
        source = leaves[partial[k - 1]]
        if mode == "reverse":
            with tf.GradientTape() as tape:
                inner = level(k - 1)
            return tape.gradient(inner, source, unconnected_gradients=zero)
        with tf.autodiff.ForwardAccumulator(source, tf.ones_like(source)) as accumulator:
            inner = level(k - 1)
        return accumulator.jvp(inner, unconnected_gradients=zero)

    return level(len(partial))
