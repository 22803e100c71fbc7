"""The backends, by name. Each class is imported only when asked for, and each
framework only when its backend runs, so listing backends costs no framework import.
"""

from __future__ import annotations

import importlib
import os

from autograd_cli.backends.base import Backend

#: name -> "module:Class"; the order is the order of rows in every report.
REGISTRY: dict[str, str] = {
    "analytic": "autograd_cli.backends.analytic:AnalyticBackend",
    "torch": "autograd_cli.backends.torch:TorchBackend",
    "tensorflow": "autograd_cli.backends.tensorflow:TensorFlowBackend",
    "jax": "autograd_cli.backends.jax:JaxBackend",
    "finite-diff": "autograd_cli.backends.finite_diff:FiniteDiffBackend",
}


#: Extra backends from the environment, "name=module:Class" separated by commas: how a
#: team plugs in its own backend, and how the tests inject crashing or hanging ones
#: into the installed command.
PLUGINS_VARIABLE = "GRADCHECK_PLUGINS"


def _plugins() -> dict[str, str]:
    found: dict[str, str] = {}
    for item in os.environ.get(PLUGINS_VARIABLE, "").split(","):
        name, sep, target = item.strip().partition("=")
        if sep and name and ":" in target:
            found[name.strip()] = target.strip()
    return found


REGISTRY.update(_plugins())


def backend_class(name: str) -> type[Backend]:
    """The class registered under ``name`` (KeyError for an unknown name)."""
    module_name, _, class_name = REGISTRY[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, Backend)
    return cls


def installed_backends() -> list[str]:
    return [name for name in REGISTRY if backend_class(name).is_installed()]
