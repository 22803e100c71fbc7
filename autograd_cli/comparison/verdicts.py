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
    """How a derivative is judged.

    By default (``explicit`` false) a result is ``ok`` when its error is within the
    noise floor of the expression (:mod:`autograd_cli.truth.noise_floor`: what
    correctly rounded primitives evaluating the expression as written may cost) plus
    ``max_ulps`` ULPs of the exact value (libraries' functions are rarely correctly
    rounded); ``rtol`` and ``atol`` are 0. Given by the user (``explicit``), the parts
    keep their plain meaning: ok when |d - exact| <= atol + rtol*|exact|, or within
    max_ulps ULPs, with no floor; a part not given is 0 (none for max_ulps)."""

    rtol: float
    atol: float
    max_ulps: float | None = None
    explicit: bool = False

    def describe(self) -> str:
        if not self.explicit:
            return f"noise floor + {self.max_ulps:g} ULPs"
        text = f"rtol {self.rtol:g}, atol {self.atol:g}"
        return text if self.max_ulps is None else f"{text}, or {self.max_ulps:g} ULPs"


#: ULPs of the exact value allowed beyond the noise floor by default: a faithfully
#: rounded library function is within 1 ULP; 2 leaves room for one more rounding.
DEFAULT_ULPS = 2.0

#: The default judgement per dtype: noise floor + :data:`DEFAULT_ULPS`.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    dtype: Tolerance(rtol=0.0, atol=0.0, max_ulps=DEFAULT_ULPS) for dtype in _FORMATS
}


def tolerance_for(
    dtype: str,
    rtol: float | None = None,
    atol: float | None = None,
    max_ulps: float | None = None,
    names: tuple[str, str, str] = ("rtol", "atol", "max_ulps"),
) -> Tolerance:
    """The dtype's default judgement, or, when any part is given, the user's tolerance
    (the parts not given are 0, none for max_ulps). Every way in (command line,
    environment, config and suite files, the Python API) comes through here, so every
    given part is checked here: a finite number >= 0
    (:func:`autograd_cli.inputs.check_tolerance`: an InputError, a ValueError). A
    message names the value as ``names`` says: ``rtol=nan`` for the Python API's
    argument names, or a template with ``{}`` for the number ("--rtol {}",
    "GRADCHECK_RTOL={}")."""
    from autograd_cli.inputs import check_tolerance

    given = []
    for value, name in zip((rtol, atol, max_ulps), names, strict=True):
        shown = short_number(value)
        where = name.format(shown) if "{}" in name else f"{name}={shown}"
        given.append(None if value is None else check_tolerance(value, where))
    if all(value is None for value in given):
        return DEFAULT_TOLERANCES[dtype]
    rtol, atol, max_ulps = given
    return Tolerance(rtol=rtol or 0.0, atol=atol or 0.0, max_ulps=max_ulps, explicit=True)


def ulp(exact: np.ndarray, dtype: str) -> np.ndarray:
    """The spacing of ``dtype`` numbers around each exact value (Goldberg's ulp)."""
    precision, min_exponent = _FORMATS[dtype]
    magnitude = np.abs(np.asarray(exact, dtype=np.float64))
    _, exponent = np.frexp(magnitude)
    exponent = np.where(magnitude > 0, exponent.astype(np.int64) - 1, min_exponent)
    exponent = np.maximum(exponent, min_exponent)
    return np.ldexp(1.0, exponent - precision + 1)


#: Per-point tier codes: ok, inaccurate (beyond the allowance, within the bits the
#: dtype can be asked to keep), wrong (see :func:`errors`).
TIER_OK, TIER_INACCURATE, TIER_WRONG = 0, 1, 2
TIER_NAMES: tuple[str, str, str] = ("ok", "inaccurate", "wrong")


def wrong_threshold(dtype: str) -> float:
    """Relative error (against max(|exact|, floor)) from which a result is ``wrong``:
    more than half of the dtype's significant bits lost, 2**-(p/2) (float32: 2.4e-4,
    about 2,000 ULPs; float64: 1.1e-8; float16: 2.2e-2; bfloat16: 6.3e-2)."""
    precision, _ = _FORMATS[dtype]
    return math.ldexp(1.0, 0) * 2.0 ** (-precision / 2)


@dataclass(frozen=True)
class Errors:
    absolute: np.ndarray
    relative: np.ndarray
    ulps: np.ndarray
    passed: np.ndarray
    #: Per point: :data:`TIER_OK`, :data:`TIER_INACCURATE` or :data:`TIER_WRONG`.
    tiers: np.ndarray | None = None

    def tier_codes(self) -> np.ndarray:
        if self.tiers is not None:
            return self.tiers
        return np.where(self.passed, TIER_OK, TIER_INACCURATE).astype(np.int8)


def errors(
    computed: np.ndarray,
    exact_hi: np.ndarray,
    exact_lo: np.ndarray,
    dtype: str,
    tolerance: Tolerance,
    floor: np.ndarray | None = None,
    estimate: np.ndarray | None = None,
) -> Errors:
    """Absolute, relative and ULP errors of ``computed``, and each point's tier.

    Non-finite truths compare by identity: the same infinity, or NaN against NaN, is no
    error; anything else against them is an infinite error.

    ``ok``: by default within ``floor`` (the noise floor, absolute; 0 where not given
    or not finite) + max_ulps ULPs of the exact value, or, for a backend that states
    its own error ``estimate`` (finite-diff), within that estimate + floor (an estimate
    counts up to :func:`wrong_threshold` of max(|exact|, floor) only); with an
    explicit tolerance, within it. Beyond that, ``wrong`` where the result is NaN or
    ±inf against a finite truth, 0 or of the wrong sign, or off by more than
    :func:`wrong_threshold` of max(|exact|, floor); else ``inaccurate``.
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
        spacing = ulp(hi, dtype)
        ulps = np.where(absolute == 0.0, 0.0, absolute / spacing)
        noise = np.zeros_like(hi) if floor is None else np.where(
            np.isfinite(floor), np.asarray(floor, dtype=np.float64), 0.0)
        bounded = np.where(np.isfinite(magnitude), magnitude, 0.0)
        if tolerance.explicit:
            passed = absolute <= tolerance.atol + tolerance.rtol * bounded
            if tolerance.max_ulps is not None:
                passed |= ulps <= tolerance.max_ulps
        scale = np.maximum(bounded, noise)
        if not tolerance.explicit:
            allowed = noise + (tolerance.max_ulps or 0.0) * spacing
            if estimate is not None:  # an estimate that gives up half the bits excuses nothing
                own = np.where(np.isfinite(estimate), np.asarray(estimate, dtype=np.float64), 0.0)
                own = np.minimum(own, wrong_threshold(dtype) * scale)
                allowed = np.maximum(allowed, noise + own)
            passed = absolute <= allowed
        off = np.where(scale > 0, absolute / scale, np.inf)
        wrong = ~passed & (
            ~np.isfinite(d) | (d == 0) | (np.sign(d) * np.sign(hi) < 0)
            | (off > wrong_threshold(dtype))
        )
    tiers = np.where(passed, TIER_OK, np.where(wrong, TIER_WRONG, TIER_INACCURATE))
    return Errors(absolute=absolute, relative=relative, ulps=ulps, passed=passed,
                  tiers=tiers.astype(np.int8))


@dataclass(frozen=True)
class Range:
    """A dtype's range: its largest finite number, the magnitude from which values
    round to inf (inf for float64, whose own computations overflow instead), and its
    smallest normal number, and the magnitude below which values round to 0 (half the
    smallest subnormal: gradual underflow keeps everything above it)."""

    largest: float
    overflows_at: float
    smallest_normal: float
    rounds_to_zero: float = 0.0


def range_of(dtype: str) -> Range:
    precision, min_exponent = _FORMATS[dtype]
    emax = 1 - min_exponent
    largest = math.ldexp(2.0 - math.ldexp(1.0, 1 - precision), emax)
    # from (2 - 2**-precision) * 2**emax up, values round to inf (ties to even)
    at = math.inf if dtype == "float64" else math.ldexp(
        2.0 - math.ldexp(1.0, -precision), emax)
    return Range(largest, at, math.ldexp(1.0, min_exponent),
                 math.ldexp(1.0, min_exponent - precision))


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
    float32). Underflow: the exact value is non-zero but so small that it rounds to 0
    in the dtype (below half its smallest subnormal), and a result not within
    tolerance is 0 or subnormal. A subnormal exact value is a value of the dtype:
    gradual underflow reaches it, and a backend that flushes it to zero is judged
    like any other (the noise floor allows for what gradual underflow costs).
    """
    d = np.asarray(computed, dtype=np.float64)
    hi = np.asarray(exact_hi, dtype=np.float64)
    big = beyond_range(hi, exact_lo, dtype)
    with np.errstate(invalid="ignore"):
        overflow = big & np.isinf(d) & (np.sign(d) == np.sign(hi))
        limits = range_of(dtype)
        underflow = (
            (hi != 0) & (np.abs(hi) < limits.rounds_to_zero) & ~np.asarray(passed)
            & (np.abs(d) <= limits.smallest_normal)
        )
    return overflow, underflow
