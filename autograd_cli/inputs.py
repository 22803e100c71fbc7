"""Turning what a user typed (expression, --at, --wrt, --backends) into a Request.

Every problem becomes an InputError with a message fit to print as is: the CLI turns
it into exit code 2, the Python API lets it propagate as a ValueError.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence

import numpy as np

from autograd_cli.backends import REGISTRY, backend_class
from autograd_cli.expr.nodes import variables
from autograd_cli.expr.parser import ExpressionError, parse
from autograd_cli.model import DTYPES, Request

#: Most points one --at list may give (a sweep is the way to ask for more).
MAX_POINTS = 10_000

_NUMBER = re.compile(r"^[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.I)


class InputError(ValueError):
    """A bad option value; the message says what is wrong and how to fix it."""


def parse_number(text: str, what: str) -> float:
    """A decimal number as the nearest double; nan and inf are accepted."""
    cleaned = text.strip()
    if not _NUMBER.match(cleaned) or len(cleaned) > 100:
        raise InputError(f"{what}: {text!r} is not a number")
    value = float(cleaned.replace("_", ""))
    if math.isinf(value) and "inf" not in cleaned.lower():
        raise InputError(f"{what}: {text!r} is too large for a float64")
    return value


def parse_point(text: str, names: tuple[str, ...]) -> dict[str, float]:
    """``0.5`` for a one-variable expression, else ``x=1,y=2`` naming every variable."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InputError(f"--at {text!r}: give a value, e.g. --at 0.5 or --at x=1,y=2")
    if len(items) == 1 and "=" not in items[0]:
        if len(names) != 1:
            raise InputError(
                f"--at {text!r}: the expression has variables {', '.join(names)}; "
                f"name each one, e.g. --at {','.join(f'{n}=1' for n in names)}"
            )
        return {names[0]: parse_number(items[0], f"--at {text!r}")}
    point: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise InputError(f"--at {text!r}: {item!r} should be NAME=VALUE")
        if name not in names:
            raise InputError(f"--at {text!r}: {_unknown('variable', name, names)}")
        if name in point:
            raise InputError(f"--at {text!r}: {name} is given twice")
        point[name] = parse_number(value, f"--at {text!r}")
    missing = [name for name in names if name not in point]
    if missing:
        raise InputError(f"--at {text!r}: no value for {', '.join(missing)}")
    return point


def parse_backends(text: str | Sequence[str] | None) -> tuple[tuple[str, ...], list[str]]:
    """Backends to run and notes about skipped ones.

    Without a choice: every installed backend (missing ones are skipped with a note).
    Named ones are all run; a named one that is not installed becomes an
    ``unavailable`` row rather than silently disappearing.
    """
    if text is None:
        notes = []
        chosen = []
        for name in REGISTRY:
            cls = backend_class(name)
            if cls.is_installed():
                chosen.append(name)
            else:
                notes.append(f"{name} is not installed, skipped ({cls.install_hint})")
        return tuple(chosen), notes
    names = text.split(",") if isinstance(text, str) else list(text)
    chosen = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name not in REGISTRY:
            raise InputError(f"--backends: {_unknown('backend', name, tuple(REGISTRY))}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InputError(f"--backends: name at least one of {', '.join(REGISTRY)}")
    return tuple(chosen), []


def build_request(
    text: str,
    at: Iterable[str],
    wrt: Iterable[str] = (),
    dtype: str = "float32",
    backends: tuple[str, ...] = ("analytic",),
    timeout: float = 120.0,
) -> Request:
    """Parse and check everything; raises ExpressionError or InputError."""
    expr = parse(text)
    names = variables(expr)
    if not names:
        raise InputError(
            f"{text!r} has no variable to differentiate with respect to; write e.g. x*{text}"
        )
    if dtype not in DTYPES:
        raise InputError(f"--dtype: {_unknown('dtype', dtype, DTYPES)}")
    chosen_wrt: list[str] = []
    for name in wrt:
        if name not in names:
            raise InputError(f"--wrt: {_unknown('variable', name, names)}")
        if name not in chosen_wrt:
            chosen_wrt.append(name)
    points = [parse_point(item, names) for item in at]
    if not points:
        example = "0.5" if len(names) == 1 else ",".join(f"{n}=1" for n in names)
        raise InputError(f"say where to differentiate, e.g. --at {example}")
    if len(points) > MAX_POINTS:
        raise InputError(f"--at: at most {MAX_POINTS} points (use --range for sweeps)")
    arrays = {name: np.array([p[name] for p in points], dtype=np.float64) for name in names}
    return Request(
        text=text,
        expr=expr,
        variables=names,
        points=arrays,
        wrt=tuple(chosen_wrt) or names,
        dtype=dtype,
        backends=backends,
        timeout=timeout,
    )


def _unknown(kind: str, name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown {kind} {name!r}; {hint}known: {', '.join(known)}"


__all__ = ["ExpressionError", "InputError", "build_request", "parse_backends", "parse_point"]
