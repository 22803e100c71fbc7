"""What every backend is: a small class with lazy framework imports and an ops table.

A backend builds its computation with the one tree-walker,
:func:`autograd_cli.expr.walk.lower`, over its own ops table, so backends supply
operations, not walks. Nothing here imports a framework.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from autograd_cli.core.model import partial_of
from autograd_cli.expr.nodes import Expr


@contextmanager
def derivatives_not_implemented(
    framework: str, method: str, kinds: tuple[type[BaseException], ...], markers: tuple[str, ...]
) -> Iterator[None]:
    """Turn the framework's "no derivative rule for this op" into :class:`Unsupported`:
    a missing higher-order or forward-mode rule (torch's hardsigmoid_backward,
    TensorFlow's SoftsignGrad) is the framework's limit, said in the row, not a crash.
    ``markers``: words of those messages; any other exception passes unchanged."""
    try:
        yield
    except kinds as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        text = lines[0] if lines else type(exc).__name__
        if not any(marker in text for marker in markers):
            raise
        raise Unsupported(f"{framework} does not implement this derivative "
                          f"({method}): {text}") from exc


def nested(api: str, mode: str, order: int) -> str:
    """A framework's method for a row: "torch.func.jvp ×2 (forward)"; the mode is said
    unless it is the default (reverse, first order), whose text stays as it always was."""
    text = api if order == 1 else f"{api} ×{order}"
    return text if (mode, order) == ("reverse", 1) else f"{text} ({mode})"


class DeviceUnavailable(RuntimeError):
    """The asked device is not there (no GPU, a CPU-only build): an ``unavailable`` row."""


class Unsupported(RuntimeError):
    """The framework cannot compute this with its own ops (no native op for a function,
    a parameter its op does not take, a derivative order or mode it does not implement):
    an ``unsupported`` row, which says why and is not a failure."""


@dataclass
class Evaluation:
    """What a backend computed, as numpy arrays of the dtype it computed in."""

    values: np.ndarray
    derivatives: dict[str, np.ndarray]
    method: str
    dtype: str
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """One way of computing derivatives. Subclasses import their framework lazily."""

    name: ClassVar[str]
    #: Import name of the framework, for ``find_spec``; None when always present.
    module: ClassVar[str | None] = None
    #: Distributions that may provide it, first found is reported (read from
    #: package metadata, so asking costs no import).
    distributions: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = ""
    method: ClassVar[str] = ""
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64")
    #: Devices it can compute on. With only "cpu", ``--device`` does not apply: the
    #: backend runs on the CPU and its row says so. Others get ``device=`` in evaluate.
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    #: Autodiff modes it implements ("reverse", "forward"); those with any get
    #: ``mode=`` in evaluate and a row per mode asked. Empty: no modes (analytic,
    #: finite-diff, plugins), one row whatever the mode.
    modes: ClassVar[tuple[str, ...]] = ()
    #: Highest derivative order it computes; a request beyond it gives an error row.
    max_order: ClassVar[int] = 1

    @classmethod
    def describe(cls, mode: str = "reverse", order: int = 1) -> str:
        """The method a row names for this mode and order (``method`` by default)."""
        return cls.method

    @classmethod
    def unsupported(cls, expr: Expr, mode: str = "reverse", order: int = 1) -> str | None:
        """Why this backend cannot compute ``expr`` with its own ops (an ``unsupported``
        row, checked before it runs); None when it can. Asks no framework."""
        return None

    @classmethod
    def is_installed(cls) -> bool:
        return cls.module is None or importlib.util.find_spec(cls.module) is not None

    @classmethod
    def version(cls) -> str | None:
        for distribution in cls.distributions:
            try:
                return importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None

    @abstractmethod
    def evaluate(
        self,
        expr: Expr,
        inputs: Mapping[str, np.ndarray],
        wrt: tuple[str, ...],
        dtype: str,
    ) -> Evaluation:
        """f and each derivative in ``wrt`` at every point; inputs are 1-D arrays of
        ``dtype``. ``wrt`` holds labels (:func:`autograd_cli.core.model.label`): a variable
        for a first derivative, "x,x" or "x,y" for higher ones (only up to
        ``max_order``); ``derivatives`` is keyed by them."""


class FrameworkBackend(Backend):
    """A framework's backend: ``compute`` walks the tree with the framework's own ops;
    ``evaluate`` turns the framework's "no derivative rule" errors (``no_rule``: its
    exception types and words of their messages) into :class:`Unsupported`, once for
    every framework."""

    no_rule: ClassVar[tuple[tuple[type[BaseException], ...], tuple[str, ...]]] = ((), ())

    def evaluate(
        self,
        expr: Expr,
        inputs: Mapping[str, np.ndarray],
        wrt: tuple[str, ...],
        dtype: str,
        *,
        device: str = "cpu",
        mode: str = "reverse",
    ) -> Evaluation:
        order = max((len(partial_of(name)) for name in wrt), default=1)
        with derivatives_not_implemented(self.name, self.describe(mode, order), *self.no_rule):
            return self.compute(expr, inputs, wrt, dtype, device=device, mode=mode)

    @abstractmethod
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
        """:meth:`evaluate`'s work, in the framework's own idiom."""
