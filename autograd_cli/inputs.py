"""Turning what a user typed (expression, --at, --wrt, --backends) into a Request.

Every problem becomes an InputError with a message fit to print as is: the CLI turns
it into exit code 2, the Python API lets it propagate as a ValueError.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from autograd_cli.backends import REGISTRY, backend_class
from autograd_cli.core import dtypes
from autograd_cli.core.dtypes import ALL_DTYPES
from autograd_cli.core.model import (
    DEVICES,
    MAX_ORDER,
    MODE_CHOICES,
    Partial,
    Request,
    label,
    partial_of,
)
from autograd_cli.core.names import short_number, shown, unknown
from autograd_cli.expr.nodes import Expr, variables
from autograd_cli.expr.parser import ExpressionError, parse

#: Most points one --at list may give (a sweep is the way to ask for more).
MAX_POINTS = 10_000
#: Longest number accepted, in characters (checked before any pattern runs on it).
MAX_NUMBER_LENGTH = 100
#: Longest --timeout, in seconds: larger values overflow the OS's timers.
MAX_TIMEOUT = 86_400.0
#: Largest exact derivative, in SymPy nodes as :mod:`autograd_cli.expr.cost` estimates
#: them (f and every intermediate derivative). sympy.diff, compiling and printing took
#: up to ~1.4e-4 s a node when calibrated, so what passes takes seconds: the 3rd
#: derivative of 8 nested sigmoids (~4e4) 5.5 s, the 2nd of 40 nested sin (~4.7e4)
#: 3.6 s; the 4th of 10 nested sin (~7.6e4, 2.6 s) and of 40 (~5.6e7, hours) are
#: refused, and no first derivative the parser admits comes near (at most ~2e4).
MAX_DERIVATIVE_SIZE = 50_000
#: Largest estimated size x points of a point check: mpmath evaluates each point alone
#: (~1 ms plus ~0.35 µs a node per point, a few µs in deep nests), so this is seconds
#: to tens of seconds; the deadline (--timeout) stops what it misjudges.
MAX_POINT_WORK = 20_000_000
#: Largest estimated size x points per chunk of a sweep (2**20 points at most,
#: vectorized double-double, ~1-2 ns a node per point): a chunk takes well under a
#: minute, however many chunks a sweep has.
MAX_SWEEP_WORK = 10_000_000_000

_NUMBER = re.compile(
    r"^[+-]?(\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.I
)


class InputError(ValueError):
    """A bad option value; the message says what is wrong and how to fix it."""


def parse_number(text: str, what: str) -> float:
    """A decimal number as the nearest double; nan and inf are accepted. The length is
    checked first so that no pattern ever runs over megabytes of argument."""
    cleaned = text.strip()
    if len(cleaned) > MAX_NUMBER_LENGTH:
        raise InputError(
            f"{what}: {shown(cleaned)} is not a number (at most {MAX_NUMBER_LENGTH} characters)"
        )
    if not _NUMBER.match(cleaned):
        raise InputError(f"{what}: {text!r} is not a number")
    value = float(cleaned.replace("_", ""))
    if math.isinf(value) and "inf" not in cleaned.lower():
        raise InputError(f"{what}: {text!r} is too large for a float64")
    return value


def check_timeout(timeout: float) -> float:
    """A finite number of seconds in (0, MAX_TIMEOUT]: NaN would never time out and
    huge values overflow the timers (a traceback deep in the runner)."""
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not 0 < timeout <= MAX_TIMEOUT):
        raise InputError(
            f"--timeout {short_number(timeout)}: give a number of seconds above 0 and at most "
            f"{MAX_TIMEOUT:g} (a day)"
        )
    return float(timeout)


def check_tolerance(value: Any, where: str) -> float:
    """A tolerance (rtol, atol, max-ulps) as a finite number >= 0, the one rule for the
    command line, the environment, config and suite files and the Python API: NaN would
    fail every row (even the exact one), infinity pass every row, and a negative
    tolerance fail them all. ``where`` names the value in the message ("--rtol nan",
    "GRADCHECK_RTOL=nan", "rtol=-1")."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{where}: a tolerance is a number (finite, >= 0), not "
                         f"{type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if math.isnan(number) or number < 0:
        raise InputError(f"{where}: give a finite number >= 0 (a tolerance that is "
                         f"{'NaN' if math.isnan(number) else 'negative'} fails every row, "
                         "even the exact one)")
    if math.isinf(number):
        raise InputError(f"{where}: give a finite number >= 0 (an infinite tolerance "
                         "passes every row, however wrong)")
    return number


def named_value(
    item: str, names: Sequence[str], given: Mapping[str, float], where: str
) -> tuple[str, float]:
    """One ``NAME=VALUE`` of --at (points, or a sweep's fixed variables): a variable of
    the expression, not given yet, and a number."""
    name, _, value = item.partition("=")
    name = name.strip()
    if name not in names:
        raise InputError(f"{where}: {unknown('variable', name, names)}")
    if name in given:
        raise InputError(f"{where}: {name} is given twice")
    return name, parse_number(value, where)


def parse_point(text: str, names: tuple[str, ...]) -> dict[str, float]:
    """``0.5`` for a one-variable expression, else ``x=1,y=2`` naming every variable."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InputError(f"--at {shown(text)}: give a value, e.g. --at 0.5 or --at x=1,y=2")
    if len(items) == 1 and "=" not in items[0]:
        if len(names) != 1:
            raise InputError(
                f"--at {shown(text)}: the expression has variables {', '.join(names)}; "
                f"name each one, e.g. --at {','.join(f'{n}=1' for n in names)}"
            )
        return {names[0]: parse_number(items[0], f"--at {shown(text)}")}
    point: dict[str, float] = {}
    where = f"--at {shown(text)}"
    for item in items:
        if "=" not in item:
            raise InputError(f"{where}: {shown(item)} should be NAME=VALUE")
        name, value = named_value(item, names, point, where)
        point[name] = value
    missing = [name for name in names if name not in point]
    if missing:
        raise InputError(f"--at {shown(text)}: no value for {', '.join(missing)}")
    return point


#: A point as the Python API and suites give it: a number (one-variable expressions),
#: a mapping {"x": 1, "y": 2}, or ``--at`` text ("0.5", "x=1,y=2").
Point = str | float | Mapping[str, float]


def as_number(value: Any, where: str) -> float:
    """A real number given as a number (int, float, numpy's, Fraction, Decimal) or as
    text read as ``--at`` reads it, as a double. Everything else (None, complex, bytes,
    booleans) and ints beyond float64 are InputErrors, never TypeError or
    OverflowError."""
    if isinstance(value, str):
        return parse_number(value, where)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, Decimal)):
        kind = "a boolean" if isinstance(value, (bool, np.bool_)) else (
            "a complex number" if isinstance(value, numbers.Complex) else type(value).__name__)
        raise InputError(f"{where}: {short_number(value)} is not a real number ({kind})")
    try:
        number = float(value)
    except OverflowError:
        raise InputError(f"{where}: {short_number(value)} is too large for a float64") from None
    if math.isinf(number) and (isinstance(value, numbers.Rational)
                               or (isinstance(value, Decimal) and value.is_finite())):
        raise InputError(f"{where}: {short_number(value)} is too large for a float64")
    return number


def point_of(item: Point, names: tuple[str, ...]) -> dict[str, float]:
    """One point as numbers. Text is parsed as ``--at``; numbers are taken as they are,
    never printed and parsed again. Messages read as for the same ``--at``."""
    if isinstance(item, str):
        return parse_point(item, names)
    given: Mapping[str, Any] = item if isinstance(item, Mapping) else {"": item}
    where = "--at " + shown(",".join(f"{k}={short_number(v)}" if k else short_number(v)
                                     for k, v in given.items()))
    if "" in given:
        if len(names) != 1:
            raise InputError(
                f"{where}: the expression has variables {', '.join(names)}; "
                f"name each one, e.g. --at {','.join(f'{n}=1' for n in names)}"
            )
        given = {names[0]: given[""]}
    point: dict[str, float] = {}
    for name, value in given.items():
        if not isinstance(name, str):
            raise InputError(f"{where}: variable names are strings, not {short_number(name)}")
        if name not in names:
            raise InputError(f"{where}: {unknown('variable', name, names)}")
        point[name] = as_number(value, where)
    missing = [name for name in names if name not in point]
    if missing:
        raise InputError(f"{where}: no value for {', '.join(missing)}")
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
    names = text.split(",") if isinstance(text, str) else list(strings(text, "--backends"))
    chosen = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name not in REGISTRY:
            raise InputError(f"--backends: {unknown('backend', name, tuple(REGISTRY))}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InputError(f"--backends: name at least one of {', '.join(REGISTRY)}")
    return tuple(chosen), []


def strings(value: Any, what: str) -> tuple[str, ...]:
    """A list or tuple of strings (the Python API's ``backends``, ``wrt``, ``dtype``);
    anything else is an InputError naming ``what``."""
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    if isinstance(value, (list, tuple)):
        bad = next(item for item in value if not isinstance(item, str))
        raise InputError(f"{what}: expected names (strings), got {short_number(bad)} in the list")
    raise InputError(f"{what}: expected a name or a list of names, got {short_number(value)}")


def check_flag(value: Any, what: str) -> bool:
    """A yes/no argument of the Python API: True or False, not 1 or "no"."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{what}: expected True or False, got {short_number(value)}")
    return bool(value)


def check_name(value: Any, what: str) -> str:
    """One option value that must be a string (``--mode``, ``--device``, ``--dtype``)."""
    if not isinstance(value, str):
        raise InputError(f"{what}: expected a name (a string), got {short_number(value)}")
    return value


def check_order(order: int) -> int:
    """``--order`` as a whole number from 1 to MAX_ORDER."""
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise InputError(
            f"--order {order!r}: give a whole number from 1 to {MAX_ORDER} (each order "
            "nests one more differentiation: the cost grows quickly and beyond "
            f"{MAX_ORDER} float32 and float64 answers say little)"
        )
    return order


def check_mode(mode: str) -> str:
    if check_name(mode, "--mode") not in MODE_CHOICES:
        raise InputError(f"--mode: {unknown('mode', mode, MODE_CHOICES)}")
    return mode


def resolve_partials(names: tuple[str, ...], wrt: Sequence[str], order: int) -> list[Partial]:
    """Which derivatives ``--wrt`` and ``--order`` ask for.

    Order 1: df/dv for each --wrt (each variable without one). Order N: with one --wrt
    v (or none and one variable) the Nth derivative in v; with none and several
    variables each one's Nth derivative; with exactly N --wrt the mixed partial,
    differentiated in that order. Anything else is refused.
    """
    check_order(order)
    for name in strings(wrt, "--wrt"):
        if name not in names:
            raise InputError(f"--wrt: {unknown('variable', name, names)}")
    if order == 1:
        return [(name,) for name in dict.fromkeys(wrt or names)]
    if len(set(wrt)) == 1 and len(wrt) in (1, order):
        return [(wrt[0],) * order]
    if not wrt:
        return [(name,) * order for name in names]
    if len(wrt) == order:
        return [tuple(wrt)]
    given = " ".join(f"--wrt {name}" for name in wrt)
    mixed = " ".join(f"--wrt {name}" for name in (list(wrt) * order)[:order])
    raise InputError(
        f"--order {order} with {given}: give one --wrt (its derivative of order {order}), "
        f"exactly {order} (a mixed partial, in that order, e.g. {mixed}), or none (each "
        f"variable's derivative of order {order})"
    )


def checked_expression(
    text: str, *, dtype: str, device: str, order: int, mode: str, timeout: float
) -> tuple[Expr, tuple[str, ...]]:
    """The expression and its variables, with every option that points and sweeps share
    checked in one place, before any work; raises ExpressionError or InputError."""
    expr = parse(text)
    names = variables(expr)
    if not names:
        raise InputError(
            f"{text!r} has no variable to differentiate with respect to; write e.g. x*{text}"
        )
    check_dtype(dtype)
    check_device(device)
    check_order(order)
    check_mode(mode)
    check_timeout(timeout)
    return expr, names


def build_request(
    text: str,
    at: Iterable[Point],
    wrt: Iterable[str] = (),
    dtype: str = "float32",
    backends: tuple[str, ...] = ("analytic",),
    timeout: float = 120.0,
    *,
    order: int = 1,
    mode: str = "reverse",
    device: str = "cpu",
) -> Request:
    """Parse and check everything; raises ExpressionError or InputError."""
    expr, names = checked_expression(text, dtype=dtype, device=device, order=order,
                                     mode=mode, timeout=timeout)
    chosen_wrt = [label(p) for p in resolve_partials(names, list(wrt), order)]
    size = check_cost(expr, [partial_of(name) for name in chosen_wrt], order)
    at = list(at)
    if len(at) > MAX_POINTS:
        raise InputError(
            f"--at: {len(at):,} points is too many (at most {MAX_POINTS:,}; use --range for "
            "sweeps)"
        )
    points = [point_of(item, names) for item in at]
    if not points:
        example = "0.5" if len(names) == 1 else ",".join(f"{n}=1" for n in names)
        raise InputError(f"say where to differentiate, e.g. --at {example}")
    check_work(size, len(points), order)
    arrays = {name: np.array([p[name] for p in points], dtype=np.float64) for name in names}
    return Request(
        text=text,
        expr=expr,
        variables=names,
        points=arrays,
        wrt=tuple(chosen_wrt),
        dtype=dtype,
        backends=backends,
        timeout=timeout,
        order=order,
        mode=mode,
        device=device,
    )


def check_cost(expr: Expr, partials: Sequence[Partial], order: int) -> int:
    """The estimated size of the exact derivatives (:mod:`autograd_cli.expr.cost`,
    pure Python: SymPy is not even imported), refused beyond MAX_DERIVATIVE_SIZE before
    sympy.diff could run for minutes; returns it for :func:`check_work`."""
    from autograd_cli.expr.cost import derivative_cost

    size = derivative_cost(expr, partials)
    if size > MAX_DERIVATIVE_SIZE:
        what = f"--order {order} of this expression" if order > 1 else "this expression"
        fix = "lower --order or split the expression" if order > 1 else "split the expression"
        raise InputError(
            f"{what}: its exact derivative would have ~{size:.1e} terms (limit "
            f"{MAX_DERIVATIVE_SIZE:.0e}); {fix}"
        )
    return size


def check_work(
    size: int, points: int, order: int, *, chunk: int | None = None, where: str = "--at"
) -> None:
    """Refuse more points than the exact reference can take within --timeout for a
    derivative of ``size`` (from :func:`check_cost`). Point checks evaluate each point
    alone in mpmath (MAX_POINT_WORK); a sweep evaluates ``chunk`` points at a time,
    vectorized (MAX_SWEEP_WORK per chunk: a long sweep is fine, a heavy chunk is not)."""
    limit = MAX_POINT_WORK if chunk is None else MAX_SWEEP_WORK
    if size * (points if chunk is None else min(points, chunk)) <= limit:
        return
    per = "" if chunk is None else f" per chunk of {chunk:,}"
    lower = " or lower --order" if order > 1 else ""
    raise InputError(
        f"{where}: {points:,} points of a derivative of ~{size:.1e} terms is too much for "
        f"the exact reference (limit {limit:.0e} terms x points{per}); use at most "
        f"{max(limit // size, 1):,} points{lower}"
    )


def check_dtype(dtype: str) -> str:
    """One dtype gradcheck knows, and numpy can hold here (bfloat16 needs ml_dtypes)."""
    if check_name(dtype, "--dtype") not in ALL_DTYPES:
        raise InputError(f"--dtype: {unknown('dtype', dtype, ALL_DTYPES)}")
    problem = dtypes.missing(dtype)
    if problem:
        raise InputError(f"--dtype {dtype}: {problem}")
    return dtype


def parse_dtypes(text: str | Sequence[str]) -> tuple[str, ...]:
    """``float32``, or a comma list (``float16,bfloat16,float32``): a comparison each."""
    items = text.split(",") if isinstance(text, str) else list(strings(text, "--dtype"))
    chosen = tuple(dict.fromkeys(check_dtype(item.strip()) for item in items if item.strip()))
    if not chosen:
        raise InputError(f"--dtype: name at least one of {', '.join(ALL_DTYPES)}")
    return chosen


def check_device(device: str) -> str:
    if check_name(device, "--device") not in DEVICES:
        raise InputError(f"--device: {unknown('device', device, DEVICES)}")
    return device


__all__ = [
    "ExpressionError",
    "InputError",
    "build_request",
    "check_cost",
    "check_device",
    "check_dtype",
    "check_flag",
    "check_mode",
    "check_order",
    "check_tolerance",
    "check_work",
    "named_value",
    "parse_backends",
    "parse_dtypes",
    "parse_point",
    "resolve_partials",
]
