"""The words a row or a point can carry besides ``ok``, in one place: how a backend
failed to run, and what is special about a point (the same for every backend there)."""

from __future__ import annotations

from typing import Literal

#: ok: computed. The rest are ways a backend can fail to compute; each becomes a row.
RunStatus = Literal["ok", "error", "unavailable", "crashed", "timeout", "unsupported"]
FAILURE_STATUSES: tuple[str, ...] = ("error", "unavailable", "crashed", "timeout")
#: The framework has no native op for a function of the expression (TensorFlow's
#: hypot), or does not implement the asked derivative order or mode for it: the row
#: says why and is not judged. Not a failure: the backend ran as it should, and a
#: stand-in formula would judge our code, not the framework's.
UNSUPPORTED = "unsupported"
NOT_RUN_STATUSES: tuple[str, ...] = (UNSUPPORTED,)

#: The tiers of a judged result (see :func:`autograd_cli.comparison.verdicts.errors`):
#: ok, inaccurate (beyond rounding, shown with its ULPs; fails with --strict or an
#: explicit tolerance), wrong (fails).
INACCURATE = "inaccurate"
WRONG = "wrong"
TIERS: tuple[str, ...] = ("ok", INACCURATE, WRONG)

UNDEFINED = "undefined"
NONDIFFERENTIABLE = "nondifferentiable"
OVERFLOW = "overflow"
UNDERFLOW = "underflow"
#: Properties of a point (the same for every backend there).
POINT_STATUSES: tuple[str, ...] = (UNDEFINED, NONDIFFERENTIABLE)
#: Row statuses that are explained, not counted as mismatches unless --strict.
SPECIAL_STATUSES: tuple[str, ...] = (UNDEFINED, NONDIFFERENTIABLE, OVERFLOW, UNDERFLOW)
#: Per-point codes in :class:`autograd_cli.domain.Labels`: 0 is an ordinary point.
CODES: dict[str, int] = {UNDEFINED: 1, NONDIFFERENTIABLE: 2}
STATUS_OF_CODE: dict[int, str] = {code: status for status, code in CODES.items()}
#: Codes of :func:`autograd_cli.domain.intermediate_range`: disjoint from :data:`CODES`,
#: and the numbers a sweep's point labels give overflow and underflow.
RANGE_CODES: dict[str, int] = {OVERFLOW: 3, UNDERFLOW: 4}
#: A sweep point's label in CSV, --arrays and plots: one code for all four, 0 for an
#: ordinary point (a point has at most one).
LABELS: dict[str, int] = {**CODES, **RANGE_CODES}
LABEL_OF_CODE: dict[int, str] = {code: status for status, code in LABELS.items()}
