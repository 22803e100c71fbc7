"""TensorFlow: ``tf.Variable`` inputs recorded on a ``tf.GradientTape``.

``tape.gradient`` of a vector target is the gradient of its sum, which for
independent points is the vector of derivatives, as the tutorial computes it.
TensorFlow is imported inside the methods (it is slow to import and noisy), after
its C++ and absl logging have been turned down.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from autograd_cli.backends.base import Backend, Evaluation, lower, num_as_float
from autograd_cli.expr.nodes import Expr


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


class TensorFlowBackend(Backend):
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

    def ops(self, dtype: str) -> dict[str, Callable[..., Any]]:
        """Every op as TensorFlow spells it; constants are ``tf.constant`` of ``dtype``.
        TF has no log2/log10, so they are written as its users write them."""
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
            "sin": tf.sin,
            "cos": tf.cos,
            "tan": tf.tan,
            "asin": tf.asin,
            "acos": tf.acos,
            "atan": tf.atan,
            "sinh": tf.sinh,
            "cosh": tf.cosh,
            "tanh": tf.tanh,
            "exp": tf.exp,
            "log": tf.math.log,
            "log2": lambda a: tf.math.log(a) / log_2,
            "log10": lambda a: tf.math.log(a) / log_10,
            "sqrt": tf.sqrt,
            "abs": tf.abs,
            "sigmoid": tf.sigmoid,
        }

    def evaluate(
        self,
        expr: Expr,
        inputs: Mapping[str, np.ndarray],
        wrt: tuple[str, ...],
        dtype: str,
    ) -> Evaluation:
        tf = _import_tensorflow()
        dt = getattr(tf, dtype)
        n = len(next(iter(inputs.values()))) if inputs else 1
        ops = self.ops(dtype)
        leaves = {
            name: tf.Variable(np.asarray(a), dtype=dt)
            if name in wrt
            else tf.constant(np.asarray(a), dtype=dt)
            for name, a in inputs.items()
        }
        sources = [leaves[name] for name in wrt if name in leaves]
        with tf.GradientTape() as tape:
            y = lower(expr, ops, leaves)
        grads = tape.gradient(y, sources, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        by_name = dict(zip([name for name in wrt if name in leaves], grads, strict=True))

        def as_numpy(t: Any) -> np.ndarray:
            if t is None:
                return np.zeros(n, dtype=dtype)
            return np.array(np.broadcast_to(t.numpy(), (n,)), dtype=dtype)

        return Evaluation(
            values=as_numpy(y),
            derivatives={name: as_numpy(by_name.get(name)) for name in wrt},
            method=self.method,
            dtype=dtype,
        )
