"""On/off switches in the environment, spelt one way for every variable.

Why its own module: the background service (``GRADCHECK_SERVICE``), the background
compiling (``GRADCHECK_WARMUP``) and JAX's cache (``GRADCHECK_JAX_CACHE=0``) read their
variables alike, and the first two share one default: on, unless ``CI`` is set (CI jobs
are one-shot).
"""

from __future__ import annotations

from collections.abc import Mapping

OFF = frozenset({"0", "off", "false", "no"})
ON = frozenset({"1", "on", "true", "yes"})


def setting(env: Mapping[str, str], name: str) -> bool | None:
    """What the variable ``name`` says: on, off, or nothing (unset or not understood)."""
    value = env.get(name, "").strip().lower()
    if value in OFF:
        return False
    if value in ON:
        return True
    return None


def on_unless_ci(env: Mapping[str, str], name: str) -> bool:
    """The variable's setting; unset, on unless ``CI`` is set."""
    value = setting(env, name)
    if value is not None:
        return value
    return env.get("CI", "").strip().lower() in ("", "0", "false", "no")
