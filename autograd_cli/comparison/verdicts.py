"""Errors against the exact reference, tolerances and per-row verdicts.

The reference arrives as a double-double (hi + lo, both float64), so the error of a
float32 or float64 result is computed with no rounding worth the name: ``(d - hi) - lo``
where ``d - hi`` is exact whenever ``d`` is close to the truth (Sterbenz).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from autograd_cli.core.names import short_number

#: Mantissa bits (with the hidden bit) and minimum normal exponent per dtype.
_FORMATS: dict[str, tuple[int, int]] = {
    "float16": (11, -14),
    "bfloat16": (8, -126),
    "float32": (24, -126),
    "float64": (53, -1022),
}


@dataclass(frozen=True)
class Tolerance:
    """A derivative passes when |d - exact| <= atol + rtol*|exact|, or within max_ulps."""

    rtol: float
    atol: float
    max_ulps: float | None = None

    def describe(self) -> str:
        text = f"rtol {self.rtol:g}, atol {self.atol:g}"
        return text if self.max_ulps is None else f"{text}, or {self.max_ulps:g} ULPs"


#: The defaults of torch.testing.assert_close, so a verdict here matches what a PyTorch
#: test suite would conclude about the same numbers.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "float16": Tolerance(rtol=1e-3, atol=1e-5),
    "bfloat16": Tolerance(rtol=1.6e-2, atol=1e-5),
    "float32": Tolerance(rtol=1.3e-6, atol=1e-5),
    "float64": Tolerance(rtol=1e-7, atol=1e-7),
}


def tolerance_for(
    dtype: str,
    rtol: float | None = None,
    atol: float | None = None,
    max_ulps: float | None = None,
    names: tuple[str, str, str] = ("rtol", "atol", "max_ulps"),
) -> Tolerance:
    """The dtype's default tolerance with any of its parts overridden. Every way in
    (command line, environment, config and suite files, the Python API) comes through
    here, so every given part is checked here: a finite number >= 0
    (:func:`autograd_cli.inputs.check_tolerance`: an InputError, a ValueError). A
    message names the value as ``names`` says: ``rtol=nan`` for the Python API's
    argument names, or a template with ``{}`` for the number ("--rtol {}",
    "GRADCHECK_RTOL={}")."""
    from autograd_cli.inputs import check_tolerance

    base = DEFAULT_TOLERANCES[dtype]
    given = []
    for value, name in zip((rtol, atol, max_ulps), names, strict=True):
        shown = short_number(value)
        where = name.format(shown) if "{}" in name else f"{name}={shown}"
        given.append(None if value is None else check_tolerance(value, where))
    rtol, atol, max_ulps = given
    return Tolerance(
        rtol=base.rtol if rtol is None else rtol,
        atol=base.atol if atol is None else atol,
        max_ulps=base.max_ulps if max_ulps is None else max_ulps,
    )


def ulp(exact: np.ndarray, dtype: str) -> np.ndarray:
    """The spacing of ``dtype`` numbers around each exact value (Goldberg's ulp)."""
    precision, min_exponent = _FORMATS[dtype]
    magnitude = np.abs(np.asarray(exact, dtype=np.float64))
    _, exponent = np.frexp(magnitude)
    exponent = np.where(magnitude > 0, exponent.astype(np.int64) - 1, min_exponent)
    exponent = np.maximum(exponent, min_exponent)
    return np.ldexp(1.0, exponent - precision + 1)


@dataclass(frozen=True)
class Errors:
    absolute: np.ndarray
    relative: np.ndarray
    ulps: np.ndarray
    passed: np.ndarray


def errors(
    computed: np.ndarray,
    exact_hi: np.ndarray,
    exact_lo: np.ndarray,
    dtype: str,
    tolerance: Tolerance,
) -> Errors:
    """Absolute, relative and ULP errors of ``computed`` and whether each passes.

    Non-finite truths compare by identity: the same infinity, or NaN against NaN, is no
    error; anything else against them is an infinite error.
    """
    d = np.asarray(computed, dtype=np.float64)
    hi = np.asarray(exact_hi, dtype=np.float64)
    lo = np.asarray(exact_lo, dtype=np.float64)
    with np.errstate(all="ignore"):
        absolute = np.abs((d - hi) - lo)
        finite = np.isfinite(hi) & np.isfinite(d)
        same = (d == hi) | (np.isnan(d) & np.isnan(hi))
        absolute = np.where(finite, absolute, np.where(same, 0.0, np.inf))
        magnitude = np.abs(hi)
        relative = np.where(
            absolute == 0.0, 0.0, np.where(magnitude > 0, absolute / magnitude, np.inf)
        )
        ulps = np.where(absolute == 0.0, 0.0, absolute / ulp(hi, dtype))
        passed = absolute <= tolerance.atol + tolerance.rtol * np.where(
            np.isfinite(magnitude), magnitude, 0.0
        )
        if tolerance.max_ulps is not None:
            passed |= ulps <= tolerance.max_ulps
    return Errors(absolute=absolute, relative=relative, ulps=ulps, passed=passed)


@dataclass(frozen=True)
class Range:
    """A dtype's range: its largest finite number, the magnitude from which values
    round to inf (inf for float64, whose own computations overflow instead), and its
    smallest normal number."""

    largest: float
    overflows_at: float
    smallest_normal: float


def range_of(dtype: str) -> Range:
    precision, min_exponent = _FORMATS[dtype]
    emax = 1 - min_exponent
    largest = math.ldexp(2.0 - math.ldexp(1.0, 1 - precision), emax)
    # from (2 - 2**-precision) * 2**emax up, values round to inf (ties to even)
    at = math.inf if dtype == "float64" else math.ldexp(
        2.0 - math.ldexp(1.0, -precision), emax)
    return Range(largest, at, math.ldexp(1.0, min_exponent))


def beyond_range(exact_hi: np.ndarray, exact_lo: np.ndarray, dtype: str) -> np.ndarray:
    """Where the exact value rounds to ±inf in ``dtype`` (it is beyond its largest)."""
    limit = range_of(dtype).overflows_at  # float64: inf (hi is then itself ±inf)
    hi = np.asarray(exact_hi, dtype=np.float64)
    lo = np.asarray(exact_lo, dtype=np.float64)
    magnitude = np.abs(hi)
    with np.errstate(invalid="ignore"):
        return (magnitude > limit) | ((magnitude == limit) & (lo * np.sign(hi) >= 0))


def range_statuses(
    computed: np.ndarray,
    exact_hi: np.ndarray,
    exact_lo: np.ndarray,
    dtype: str,
    passed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(overflow, underflow): where a result is the dtype's range speaking, not an error.

    Overflow: the exact value is beyond the dtype's largest and the result is the
    infinity of its sign, what IEEE arithmetic must give (inf against an exact 1e40 in
    float32). Underflow: the exact value is non-zero but below the smallest normal
    number, and a result that is not within tolerance is 0 or subnormal (flushed or
    rounded away); a result within tolerance stays ``ok``.
    """
    d = np.asarray(computed, dtype=np.float64)
    hi = np.asarray(exact_hi, dtype=np.float64)
    big = beyond_range(hi, exact_lo, dtype)
    with np.errstate(invalid="ignore"):
        overflow = big & np.isinf(d) & (np.sign(d) == np.sign(hi))
        tiny = range_of(dtype).smallest_normal
        underflow = (
            (hi != 0) & (np.abs(hi) < tiny) & ~np.asarray(passed) & (np.abs(d) <= tiny)
        )
    return overflow, underflow
