"""Where each ML or special function is undefined, kinked or jumps: the screen's
numpy test (:func:`screen_places`) and the exact look's decision
(:func:`exact_places`), one entry per function.

A finding is a string ``"kind|words"``: the kind (``pole``, ``below``, ``kink``,
``corner``, ``tie``, ``jump``, ``cut``, ``edge``, ``origin``, ``line``, and ``zero``:
an ordinary point where a framework has a convention of its own) says what the
point is, and so how the one-sided derivatives decide it (:mod:`.classify`) and which
framework conventions apply (:mod:`.conventions`); the words explain it, with
``{arg}``/``{arg2}`` standing for the source of the function's first/second input
(:func:`.tree.place_text`). Texts of regions (``below``) name no point, so one text
serves a whole sweep; a place names where it is ("jump of floor at 3").

Why a module of its own: the elementary functions' rules live inline in the screen
and the exact look; thirty more would drown them. Parameters are the last arguments
(``clip(x, lo, hi)``), already rounded to the dtype by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd_cli.domain.labels import short

#: The precisions of the exact look (bits): a quantity that shrinks with them is 0.
PRECISIONS = (192, 384, 768)
#: The screen's error bound is first order: a point within this many bounds of a
#: critical value gets the exact look.
SAFETY = 64.0
_U = 2.0**-52

#: Functions whose points may be undefined, kinked or discontinuous.
PLACED = frozenset(
    {
        "log1p",
        "acosh",
        "atanh",
        "erfinv",
        "lgamma",
        "digamma",
        "rsqrt",
        "xlogy",
        "atan2",
        "hypot",
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "selu",
        "softsign",
        "hard_sigmoid",
        "clip",
        "minimum",
        "maximum",
        "sign",
        "floor",
    }
)
#: Kinks at an argument of 0, by function.
_KINK_AT_ZERO = frozenset({"relu", "relu6", "leaky_relu", "elu", "selu", "softsign"})
#: Kinds whose f itself may jump (the one-sided values of f decide first).
JUMPS = frozenset({"jump", "cut"})
#: The kind of an ordinary point worth a note: no label, a framework convention.
NOTE = "zero"
#: The note at a kink whose one-sided derivatives agree (the derivative exists there).
SMOOTH = "smooth"

# Region texts (no point named), for hard_text.
BELOW_MINUS_ONE = "below|its argument {arg} is below -1"
BELOW_ONE = "below|its argument {arg} is below 1"
Y_NEGATIVE = "below|{arg2} is negative: log({arg2}) is not real"


def kind_of(finding: str) -> str:
    """``"corner|corner of clip at hi = 1"`` -> ``"corner"``."""
    return finding.split("|", 1)[0]


def words_of(finding: str) -> str:
    return finding.split("|", 1)[1] if "|" in finding else finding


def near(value: Any, err: Any) -> Any:
    """Within the error bound of 0 (by :data:`SAFETY`), or NaN (an overflow on the way)."""
    return ~(np.abs(value) > SAFETY * err) | np.isnan(value)


def screen_places(op: str, a: Sequence[tuple[Any, Any]]) -> tuple[list[tuple[str, Any]], Any]:
    """(hard findings that hold for sure: (kind, mask), points that need the exact
    look) of one step, from its arguments' float64 values and error bounds."""
    u, eu = a[0]
    hard: list[tuple[str, Any]] = []
    if op in ("log1p", "acosh"):
        bound = -1.0 if op == "log1p" else 1.0
        q, eq = u - bound, eu + _U * (np.abs(u) + 1)
        hard.append((BELOW_MINUS_ONE if op == "log1p" else BELOW_ONE, (q < 0) & ~near(q, eq)))
        return hard, near(q, eq)
    if op in ("atanh", "erfinv"):
        q, eq = np.abs(u) - 1.0, eu + _U
        return [("out", (q > 0) & ~near(q, eq))], near(q, eq)
    if op == "rsqrt":
        return [("neg", (u < 0) & ~near(u, eu))], near(u, eu)
    if op in ("lgamma", "digamma"):
        q = u - np.round(u)
        return hard, near(q, eu + _U * np.abs(u)) & (u < 0.5)
    if op in _KINK_AT_ZERO or op == "sign":
        suspect = near(u, eu)
        if op == "relu6":
            suspect = suspect | near(u - 6, eu + 6 * _U)
        return hard, suspect
    if op == "hard_sigmoid":
        return hard, near(u + 3, eu + 3 * _U) | near(u - 3, eu + 3 * _U)
    if op == "floor":
        return hard, near(u - np.round(u), eu + _U * np.abs(u))
    if op == "clip":
        (lo, elo), (hi, ehi) = a[1], a[2]
        return hard, near(u - lo, eu + elo + _U * np.abs(lo)) | near(
            u - hi, eu + ehi + _U * np.abs(hi)
        )
    v, ev = a[1]
    if op in ("minimum", "maximum"):
        return hard, near(u - v, eu + ev + _U * np.abs(u - v))
    if op == "atan2":  # (y, x): the origin, and the cut along the negative x axis
        return hard, near(u, eu) & ((v < 0) | near(v, ev))
    if op == "hypot":
        return hard, near(u, eu) & near(v, ev)
    if op == "xlogy":
        hard.append((Y_NEGATIVE, (v < 0) & ~near(v, ev) & ~near(u, eu)))
        return hard, near(u, eu) | near(v, ev)
    raise ValueError(f"no places for {op!r}")  # pragma: no cover - PLACED is the list


def is_zero(values: Sequence[Any]) -> bool:
    """A quantity at rising precisions: exactly zero when it is 0 at the highest, or it
    shrinks with the precision (rounding noise), rather than staying put."""
    last = values[-1]
    if last == 0:
        return True
    before = max(abs(v) for v in values[:-1])
    return bool(abs(last) <= before * 2.0**-64)


def _per(function: Callable[..., Any], *columns: Sequence[Any]) -> list[Any]:
    """``function`` of the arguments at each precision of the exact look."""
    import mpmath

    out = []
    for bits, args in zip(PRECISIONS, zip(*columns, strict=True), strict=True):
        with mpmath.workprec(bits):
            out.append(function(*args))
    return out


def _at(value: Any) -> str:
    return short(float(value))


def exact_places(op: str, args: Sequence[Sequence[Any]]) -> tuple[str | None, list[str]]:
    """(why the step is undefined at the point, or None; the places it is at), from its
    arguments' values at each precision of the exact look (``args[i][p]``)."""
    import mpmath

    u = args[0]
    top = u[-1]
    found: list[str] = []

    def at_value(c: Any, kind: str, name: str) -> None:
        if is_zero(_per(lambda a: a - c, u)):
            found.append(f"{kind}|{kind} of {op} at {name} ({{arg}} = {name})")

    if op in ("log1p", "rsqrt"):
        edge = -1 if op == "log1p" else 0
        if is_zero(_per(lambda a: a - edge, u)):
            return f"pole|pole of {op} at {edge} ({{arg}} = {edge})", found
        return (None if top > edge else BELOW_MINUS_ONE if op == "log1p" else "neg"), found
    if op == "acosh":
        if is_zero(_per(lambda a: a - 1, u)):
            return None, ["edge|edge of acosh's domain at 1 ({arg} = 1)"]
        return (None if top > 1 else BELOW_ONE), found
    if op in ("atanh", "erfinv"):
        if is_zero(_per(lambda a: abs(a) - 1, u)):
            side = "1" if top > 0 else "-1"
            inf = "inf" if top > 0 else "-inf"
            return f"pole|pole of {op} at {side} ({{arg}} = {side}: {op}({side}) = {inf})", found
        return (None if abs(top) < 1 else "out"), found
    if op in ("lgamma", "digamma"):
        n = mpmath.nint(top)
        if n <= 0 and is_zero(_per(lambda a: a - mpmath.nint(a), u)):
            return f"pole|pole of {op} at {_at(n)} ({{arg}} = {_at(n)})", found
        return None, found
    if op in _KINK_AT_ZERO:
        at_value(0, "kink", "0")
        if op == "relu6":
            at_value(6, "corner", "6")
    elif op == "hard_sigmoid":
        at_value(-3, "corner", "-3")
        at_value(3, "corner", "3")
    elif op == "sign":
        at_value(0, "jump", "0")
    elif op == "floor":
        n = mpmath.nint(top)
        if is_zero(_per(lambda a: a - mpmath.nint(a), u)):
            found.append(f"jump|jump of floor at {_at(n)} ({{arg}} = {_at(n)})")
    elif op == "clip":
        for name, bound in (("lo", args[1]), ("hi", args[2])):
            if is_zero(_per(lambda a, b: a - b, u, bound)):
                value = _at(bound[-1])
                found.append(f"corner|corner of clip at {name} = {value} ({{arg}} = {value})")
                break
    elif op in ("minimum", "maximum"):
        if is_zero(_per(lambda a, b: a - b, u, args[1])):
            found.append(f"tie|tie of {op}: {{arg}} = {{arg2}}")
    elif op in ("atan2", "hypot", "xlogy"):
        return _two(op, u, args[1], found)
    return None, found


def _two(
    op: str, u: Sequence[Any], v: Sequence[Any], found: list[str]
) -> tuple[str | None, list[str]]:
    zero_u, zero_v = is_zero(u), is_zero(v)
    if op == "atan2":  # atan2(y, x): u is y
        if zero_u and zero_v:
            return "origin|the angle of the origin is undefined ({arg} = {arg2} = 0)", found
        if zero_u and v[-1] < 0:
            found.append("cut|jump of atan2 across the negative x axis ({arg} = 0, {arg2} < 0)")
    elif op == "hypot":
        if zero_u and zero_v:
            found.append("origin|corner of hypot at the origin ({arg} = {arg2} = 0)")
    elif zero_u:  # xlogy(x, y) at x = 0: 0, and smooth along x only where y > 0
        if not zero_v and v[-1] > 0:  # ordinary, but some framework gives d/dx = 0
            found.append("zero|xlogy at {arg} = 0 with {arg2} > 0: d/d{arg} = log({arg2})")
        else:
            found.append(
                "line|edge of xlogy at {arg} = 0 with {arg2} <= 0: "
                "{arg}*log({arg2}) is undefined beside it"
            )
    elif zero_v:
        return "pole|{arg2} = 0 while {arg} is not: {arg}*log(0) is infinite", found
    elif v[-1] < 0:
        return Y_NEGATIVE, found
    return None, found
