"""What a suite file may say: its keys, how each value is checked, and the limits.

Its own module because the key tables are the file format itself: :mod:`.load` reads
files against them, and the validators are :mod:`.config`'s, so a key means the same
in a suite file as in a project configuration.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd_cli.core.dtypes import ALL_DTYPES
from autograd_cli.core.model import DEVICES, MODE_CHOICES
from autograd_cli.suite import config
from autograd_cli.suite.config import Invalid, describe

if TYPE_CHECKING:
    from autograd_cli.inputs import Point

#: Limits that keep a suite file from exhausting time or memory, all checked while it
#: loads, before any framework starts. Cases count once per dtype; a case's sweep is
#: judged point by point, so it is capped (``gradcheck --range`` streams larger ones);
#: rows (points x derivatives x backends) are what every report keeps, a few KB each.
MAX_CASES = 1000
MAX_CASE_POINTS = 10_001
MAX_SUITE_ROWS = 200_000


# ------------------------------------------------------------------------- validators


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a non-empty string, got {describe(value)}")
    return value


def _dtypes(value: Any) -> tuple[str, ...]:
    """One dtype, or a list: the case then runs once per dtype."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise Invalid(f"name at least one of {', '.join(ALL_DTYPES)}")
    check = config.choice(ALL_DTYPES, "dtype")
    return tuple(dict.fromkeys(check(item) for item in items))


def _wrt(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item.strip() for item in items):
        raise Invalid(f"expected a variable name or a list of them, got {describe(value)}",
                      'for example wrt = "x" or wrt = ["x", "y"]')
    # Not deduplicated: with order = 3, wrt = ["x", "x", "y"] is a mixed partial.
    return tuple(item.strip() for item in items)


def _point(value: Any) -> Point:
    """A point: a number, "x=1,y=2" (read as ``--at``), or a table {x = 1, y = 2}; numbers
    stay numbers."""
    if config.is_number(value):
        return float(value)
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, dict) and value:
        for name, number in value.items():
            if not config.is_number(number):
                raise Invalid(f"{name} should be a number, got {describe(number)}",
                              config.unquote_hint(number))
        return {name: float(number) for name, number in value.items()}
    raise Invalid(f"expected a number, a string like \"x=1,y=2\" or a table, got "
                  f"{describe(value)}", "for example at = [0.5, 1.0] or at = [{x = 1, y = 2}]")


def _points(value: Any) -> tuple[Point, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise Invalid("expected at least one point", "for example at = [0.5, 1.0]")
    return tuple(_point(item) for item in items)


def _range(value: Any) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(config.is_number(v) for v in value)):
        raise Invalid(f"expected two numbers [start, stop], got {describe(value)}",
                      "for example range = [-4, 4]")
    start, stop = float(value[0]), float(value[1])
    if not (math.isfinite(start) and math.isfinite(stop)) or start >= stop:
        raise Invalid(f"expected finite start < stop, got {value!r}")
    return start, stop


def _expect(value: Any) -> Any:
    """Checked for shape here; against the expression once the case is built."""
    def one(item: Any) -> Any:
        if config.is_number(item):
            return float(item)
        if isinstance(item, str) and item.strip():
            return item
        if isinstance(item, list) and item and all(config.is_number(v) for v in item):
            return tuple(float(v) for v in item)
        raise Invalid(
            f"expected a number, a list of numbers (one per point) or a formula string, "
            f"got {describe(item)}", 'for example expect = 10.5 or expect = "6*x**2 + 8*x + 5"'
        )

    if isinstance(value, dict):
        if not value:
            raise Invalid("expected a value per variable, got an empty table")
        return {name: one(item) for name, item in value.items()}
    return one(value)


def _path(value: Any) -> Path:
    return Path(_text(value))


#: Options a case shares with a single run (and with [defaults]).
OPTION_KEYS: dict[str, config.Validator] = {
    "at": _points,
    "range": _range,
    "num": config.integer(2),
    "step": config.number(open_minimum=True),
    "wrt": _wrt,
    "dtype": _dtypes,
    "backends": config.backends,
    "rtol": config.number(),
    "atol": config.number(),
    "max-ulps": config.number(),
    "strict": config.flag,
    "timeout": config.number(open_minimum=True, maximum=config.MAX_TIMEOUT),
    "order": config.integer(1),
    "mode": config.choice(MODE_CHOICES, "mode"),
    "device": config.choice(DEVICES, "device"),
}
def _known(value: Any) -> dict[tuple[str, str | None], str]:
    """Known failures: ``{ tensorflow = "why" }`` or ``{ "tensorflow float64" = "why" }``
    (one dtype only): that backend's wrong rows are expected, so they do not fail the
    case, and the case says so (and says when they are gone)."""
    from autograd_cli.backends import REGISTRY

    if not isinstance(value, dict) or not value:
        raise Invalid(f"expected a table of backend = \"reason\", got {describe(value)}",
                      'for example known = { tensorflow = "float32-accurate gelu in float64" }')
    found: dict[tuple[str, str | None], str] = {}
    for key, reason in value.items():
        backend, _, dtype = str(key).partition(" ")
        if backend not in REGISTRY:
            raise Invalid(config.unknown("backend", backend, tuple(REGISTRY), in_file=True))
        if dtype and dtype not in ALL_DTYPES:
            raise Invalid(config.unknown("dtype", dtype, ALL_DTYPES, in_file=True))
        found[backend, dtype or None] = _text(reason)
    return found


CASE_KEYS: dict[str, config.Validator] = {
    "name": _text,
    "expression": _text,
    **OPTION_KEYS,
    "expect": _expect,
    "known": _known,
    "known-strict": config.flag,
    "plot": _path,
}
TOP_KEYS = ("name", "description", "defaults", "case")
#: Project settings that reach cases (the rest are run-wide: format, jobs, ...).
INHERITED = ("dtype", "backends", "rtol", "atol", "max-ulps", "strict", "timeout", "mode",
             "device")
