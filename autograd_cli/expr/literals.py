"""Decimal literals read exactly, sized from their digits before anything is built.

Why its own module: ``1e400`` must be refused before a 400-digit Fraction exists, and
``1e-400`` must be refused rather than read as a number float64 rounds to zero; that
is a job apart from walking the tree.
"""

from __future__ import annotations

import re
from fractions import Fraction

from autograd_cli.expr.errors import ExpressionError, short
from autograd_cli.expr.nodes import Span

#: Nonzero literals must lie within [10**MIN_LITERAL_EXPONENT, 10**MAX_LITERAL_EXPONENT]
#: in magnitude: beyond that float64 overflows or rounds them to zero.
MAX_LITERAL_EXPONENT = 308
MIN_LITERAL_EXPONENT = -324

_DECIMAL = re.compile(r"([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?)([0-9]+))?")


def literal(text: str, span: Span, src: str) -> Fraction:
    """The exact value of a decimal literal, sized from its digits before it is built."""
    match = _DECIMAL.fullmatch(src.replace("_", ""))
    if match is None:
        raise ExpressionError(text, span, f"unsupported number {short(src)!r}")
    whole, frac = match.group(1), match.group(2) or ""
    sign, exp_digits = match.group(3) or "", match.group(4) or "0"
    digits = (whole + frac).lstrip("0")
    if not digits:
        return Fraction(0)
    exp_digits = exp_digits.lstrip("0") or "0"
    if len(exp_digits) > 6:
        order = 10**7 if sign != "-" else -(10**7)
    else:
        order = (-1 if sign == "-" else 1) * int(exp_digits) + len(digits) - 1 - len(frac)
    scale = order - (len(digits) - 1)
    too_big = order > MAX_LITERAL_EXPONENT
    if not too_big and order >= MIN_LITERAL_EXPONENT:
        mantissa = int(digits)
        value = Fraction(mantissa * 10**scale) if scale >= 0 else Fraction(mantissa, 10**-scale)
        if value <= 10**MAX_LITERAL_EXPONENT:
            return value
        too_big = True
    if too_big:
        raise ExpressionError(
            text,
            span,
            f"number {short(src)} is too large (the limit is 1e{MAX_LITERAL_EXPONENT})",
            "numbers must fit in a float64",
        )
    raise ExpressionError(
        text,
        span,
        f"number {short(src)} is too small: it would round to 0 in float64",
        f"nonzero numbers must be at least 1e{MIN_LITERAL_EXPONENT}; write 0 for zero",
    )
