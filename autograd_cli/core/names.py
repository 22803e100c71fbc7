"""A name the user gave that gradcheck does not know: one message, with the nearest
known name as a hint, for the command line and for configuration files alike."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable
from decimal import Decimal

#: Longest user text quoted whole in a message; longer text is shortened in the middle.
SHOWN_LENGTH = 60


def shown(text: str, limit: int = SHOWN_LENGTH) -> str:
    """``repr(text)``, shortened in the middle when long: messages stay one screen line."""
    if len(text) <= limit:
        return repr(text)
    half = (limit - 3) // 2
    return repr(f"{text[:half]}...{text[-half:]}")


def nearest(name: str, known: Iterable[str], cutoff: float = 0.5) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return close[0] if close else None


def unknown(kind: str, name: str, known: Iterable[str], *, in_file: bool = False) -> str:
    """'unknown KIND NAME; did you mean X? known: ...'. In a file (TOML) the hint is
    quoted as the value would be written there; on the command line it is bare."""
    known = list(known)
    if in_file:
        close = nearest(name, known)
        hint = f"did you mean {close!r}? " if close else ""
        return f"unknown {kind} {name!r}; {hint}known: {', '.join(known)}"
    close = nearest(name, known, cutoff=0.6)
    hint = f"did you mean {close}? " if close else ""
    return f"unknown {kind} {shown(name)}; {hint}known: {', '.join(known)}"


#: Longest number quoted as typed in a message; longer ones are shown in %g form.
NUMBER_LENGTH = 40


def short_number(value: object, typed: str | None = None, limit: int = NUMBER_LENGTH) -> str:
    """A number for a message: as typed when that is short, else in ``%g`` form (a
    count of 10**300 points is ``1e+300``, not 400 characters of digits). Takes ints of
    any size, floats, Fractions and Decimals without converting huge ones to float."""
    if typed is not None and len(typed.strip()) <= limit:
        return typed.strip()
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
        text = repr(value) if typed is None else typed.strip()
        return text if len(text) <= limit else text[: limit - 3] + "..."
    if isinstance(value, int):
        return f"{value:,}" if abs(value) < 10**15 else _scientific(value)
    if isinstance(value, Decimal):
        return f"{value:g}" if len(f"{value:g}") <= limit else f"{value:.6g}"
    try:
        as_float = float(value)
    except OverflowError:
        return _scientific(int(value.__trunc__()))
    return f"{as_float:g}"


def _scientific(value: int) -> str:
    """A huge whole number as ``1.23e+300`` (exact digits are never built)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    exponent = max(int((value.bit_length() - 1) * math.log10(2)) - 1, 0)
    mantissa = value / 10**exponent
    while mantissa >= 10:
        mantissa /= 10
        exponent += 1
    return f"{sign}{mantissa:.3g}e+{exponent:02d}"
