"""The backends, by name. Each class is imported only when asked for, and each
framework only when its backend runs, so listing backends costs no framework import.

Besides the built-in ones, backends come from plugins: installed packages that declare an
entry point in the ``gradcheck.backends`` group (``name = "module:Class"``), and, for
tests and quick experiments, the ``GRADCHECK_PLUGINS`` environment variable. Only their
names and targets are read here (package metadata, no import); a plugin's module is
imported when it is used, and one that cannot be imported stands in as a backend that is
not installed, with the reason, rather than a traceback.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from autograd_cli.backends.base import Backend, Evaluation

if TYPE_CHECKING:
    import numpy as np

    from autograd_cli.expr.nodes import Expr

#: name -> "module:Class"; the order is the order of rows in every report.
REGISTRY: dict[str, str] = {
    "analytic": "autograd_cli.backends.analytic:AnalyticBackend",
    "torch": "autograd_cli.backends.torch:TorchBackend",
    "tensorflow": "autograd_cli.backends.tensorflow:TensorFlowBackend",
    "jax": "autograd_cli.backends.jax:JaxBackend",
    "finite-diff": "autograd_cli.backends.finite_diff:FiniteDiffBackend",
}

#: The entry-point group a plugin package declares its backends in.
ENTRY_POINT_GROUP = "gradcheck.backends"

#: Extra backends from the environment, "name=module:Class" separated by commas: for the
#: tests (which inject crashing or hanging backends into the installed command this way)
#: and quick experiments; a backend meant to be shared is a package with an entry point.
PLUGINS_VARIABLE = "GRADCHECK_PLUGINS"

BUILT_IN = "built-in"


@dataclass(frozen=True)
class Source:
    """Where a backend comes from: ``built-in``, the distribution (package) that declares
    it as an entry point and its version, or the ``GRADCHECK_PLUGINS`` variable."""

    name: str
    version: str | None = None
    target: str = ""

    @property
    def plugin(self) -> bool:
        return self.name != BUILT_IN

    def __str__(self) -> str:
        return f"{self.name} {self.version}" if self.version else self.name


#: name -> where it comes from, for every name REGISTRY had when it was built.
SOURCES: dict[str, Source] = {name: Source(BUILT_IN, None, target)
                              for name, target in REGISTRY.items()}

#: Plugins that were not registered (their name was taken), said by ``gradcheck backends``.
NOTES: list[str] = []


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _entry_point_plugins() -> list[tuple[str, Source]]:
    """(name, source) per entry point of the group, in sys.path order; no plugin import."""
    try:
        points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as exc:  # broken metadata somewhere on sys.path: say it, go on
        NOTES.append(f"could not read the {ENTRY_POINT_GROUP!r} entry points: {_one_line(exc)}")
        return []
    found = []
    for point in points:
        dist = point.dist
        try:
            dist_name = dist.name if dist is not None else "unknown package"
            version = dist.version if dist is not None else None
        except Exception:
            dist_name, version = "unknown package", None
        target = f"{point.module}:{point.attr}" if point.attr else point.value
        found.append((point.name.strip(), Source(dist_name, version, target)))
    return found


def _variable_plugins() -> list[tuple[str, Source]]:
    found = []
    for item in os.environ.get(PLUGINS_VARIABLE, "").split(","):
        name, sep, target = item.strip().partition("=")
        if sep and name.strip() and ":" in target:
            found.append((name.strip(), Source(PLUGINS_VARIABLE, None, target.strip())))
    return found


def _register_plugins() -> None:
    """Built-in names win over any plugin; GRADCHECK_PLUGINS (asked for in this very run)
    wins over an installed plugin; between installed plugins the first on sys.path wins.
    A plugin that loses is never silently dropped: NOTES says so."""
    chosen: dict[str, Source] = {}
    for name, source in _entry_point_plugins() + _variable_plugins():
        taken = SOURCES.get(name) or chosen.get(name)
        if taken is None or (taken.plugin and taken.name != PLUGINS_VARIABLE
                             and source.name == PLUGINS_VARIABLE):
            if taken is not None:
                NOTES.append(f"plugin {name!r} from {taken} is not used: "
                             f"{PLUGINS_VARIABLE} names {name!r} too")
            chosen[name] = source
            continue
        holder = ("a built-in backend has that name" if not taken.plugin
                  else f"the one from {taken} is used")
        NOTES.append(f"plugin {name!r} from {source} ({source.target}) is not used: {holder}")
    for name, source in chosen.items():
        REGISTRY[name] = source.target
        SOURCES[name] = source


_register_plugins()


class Unloadable(Backend):
    """Stands in for a plugin whose class cannot be imported: not installed, with the
    reason as its hint, so it is an ``unavailable`` row and a line of ``gradcheck
    backends``, never a traceback."""

    name = "unloadable"
    problem: ClassVar[str] = ""

    @classmethod
    def is_installed(cls) -> bool:
        return False

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        raise ImportError(self.problem)


def _import(target: str) -> type[Backend]:
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"{target} is not a subclass of autograd_cli.backends.base.Backend")
    return cls


@functools.cache
def _plugin_class(name: str, target: str, source: Source) -> type[Backend]:
    try:
        return _import(target)
    except Exception as exc:  # a plugin may fail to import any way at all
        problem = _one_line(exc)
    return type(f"Unloadable_{name}", (Unloadable,), {
        "name": name,
        "module": target.partition(":")[0],
        "install_hint": f"plugin from {source}: {problem}",
        "problem": problem,
    })


def backend_class(name: str) -> type[Backend]:
    """The class registered under ``name`` (KeyError for an unknown name). A plugin that
    cannot be imported gives an :class:`Unloadable` stand-in; a built-in one raises."""
    target = REGISTRY[name]
    source = SOURCES.get(name)
    if source is not None and source.plugin and source.target == target:
        return _plugin_class(name, target, source)
    return _import(target)


def load_problem(name: str) -> str | None:
    """Why the plugin ``name`` cannot be loaded; None when it can (or is built in)."""
    cls = backend_class(name)
    return cls.problem if issubclass(cls, Unloadable) else None


def installed_backends() -> list[str]:
    return [name for name in REGISTRY if backend_class(name).is_installed()]
