"""A name the user gave that gradcheck does not know: one message, with the nearest
known name as a hint, for the command line and for configuration files alike."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

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
