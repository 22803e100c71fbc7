"""Which rows of a report are findings, and of what kind.

Why the report's own verdict: a row is ``wrong`` only beyond what rounding may cost
(the noise floor) and by more than half the dtype's bits, or as NaN, infinity, 0 or the
wrong sign where the truth is a normal number; rows at kinks and undefined points, and
expressions that over- or underflow as written, carry their own labels and are not
findings. A backend that lacks an op gives an error row, not a finding either. With
``ulps``, ``inaccurate`` rows beyond that many ULPs count too.

The *kind* of a wrong row is what shrinking must keep (a NaN that became a mere
inaccuracy at a simpler point is another bug).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from autograd_cli.core.statuses import INACCURATE, WRONG
from autograd_cli.report.model import Report, Row

#: Kinds of failure, most specific first.
KINDS: tuple[str, ...] = ("nan", "inf", "zero", "sign", "magnitude", "inaccurate")
#: The failure class of each kind, which shrinking keeps and signatures name: a result
#: that is not a number, a wrong number (0, the wrong sign or far off: one bug often
#: shows as all three around a point), or an inaccurate one.
FAMILY: dict[str, str] = {"nan": "non-finite", "inf": "non-finite", "zero": "wrong value",
                          "sign": "wrong value", "magnitude": "wrong value",
                          "inaccurate": "inaccurate"}


@dataclass(frozen=True)
class Hit:
    """One failing row: who, where, how."""

    backend: str
    mode: str | None
    order: int
    dtype: str
    wrt: str
    kind: str
    point: float
    derivative: float | None
    exact: float | None
    ulps: float | None

    @property
    def family(self) -> str:
        return FAMILY[self.kind]

    @property
    def key(self) -> tuple[str, str | None, int, str, str]:
        """The failure class shrinking keeps: backend, mode, order, dtype, and the
        family of the kind."""
        return (self.backend, self.mode, self.order, self.dtype, self.family)


def kind_of(row: Row) -> str:
    """How a failing row is off: NaN, infinite, zero, the wrong sign, far off
    (magnitude), or merely inaccurate."""
    if row.status == INACCURATE:
        return "inaccurate"
    d, exact = row.derivative, row.exact
    if d is None or math.isnan(d):
        return "nan"
    if math.isinf(d):
        return "inf"
    if exact is None or not math.isfinite(exact):
        return "magnitude"
    if d == 0 and exact != 0:
        return "zero"
    if d * exact < 0:
        return "sign"
    return "magnitude"


def counts(row: Row, ulps: float | None) -> bool:
    """Whether ``row`` is a finding: wrong, or inaccurate beyond ``ulps`` when given."""
    if row.status == WRONG:
        return True
    return (row.status == INACCURATE and ulps is not None and row.ulp_error is not None
            and row.ulp_error > ulps)


def explained(row: Row) -> str | None:
    """Why a wrong row is no framework bug, or None: the truth itself is not a number
    of the dtype (NaN where the reference has no value, beyond the dtype's range: the
    expression overflows as written), or a subnormal truth (its intermediates are
    subnormal too: softsign'(-1e154) is 1e-308, and JAX, whose 1/(1+|x|)**2 is flushed,
    answers 1e-154), or the comparison layer's note that the backend flushes
    subnormals to zero: flush-to-zero is TensorFlow's and XLA's documented CPU
    behaviour (the verdict still calls such rows wrong; the hunt leaves them out of its
    findings). Also a NaN or infinity where the chain rule leaves the dtype's range:
    an intermediate's derivative beyond it (the comparison's note), or an input whose
    square is (the fourth derivative of erfc at -1e154 is exp(-x**2) times 8x**3: 0
    times inf). And a kink, corner or tie whose one-sided derivatives agree (abs(x)*sign(x)
    at 0 is x, and every framework gives 0): automatic differentiation applies each op's
    own rule there by design, so a user reads it in the verdict, not as a hunt's find."""
    from autograd_cli.comparison.points import BEYOND_RANGE
    from autograd_cli.comparison.verdicts import range_of
    from autograd_cli.domain.conventions import describe
    from autograd_cli.domain.places import SMOOTH

    exact = row.exact
    if exact is None or not math.isfinite(exact):
        return "no finite exact value"
    limits = range_of(row.dtype)
    if abs(exact) > limits.largest:
        return "exact value beyond the dtype's range"
    if 0 < abs(exact) < limits.rounds_to_zero:
        return "exact value rounds to 0 in the dtype"
    if 0 < abs(exact) < limits.smallest_normal:
        return "subnormal exact value (flush-to-zero range)"
    if row.reason and "flushes subnormals" in row.reason:
        return "subnormals flushed to zero"
    if row.reason and row.reason == BEYOND_RANGE.format(dtype=row.dtype):
        return "an intermediate's derivative beyond the dtype's range"
    if row.reason and row.reason.startswith(describe(SMOOTH) or SMOOTH):
        return "a kink whose sides agree (each op's rule at the place, by design)"
    if (row.derivative is not None and not math.isfinite(row.derivative)
            and any(abs(v) >= math.sqrt(limits.largest) / 4 for v in row.point.values())):
        return "NaN or inf at an input whose square leaves the dtype's range"
    return None


def hits(report: Report, ulps: float | None = None, backends: tuple[str, ...] = (),
         aside: dict[str, int] | None = None) -> list[Hit]:
    """Every finding row of ``report`` (of ``backends`` when given; the analytic row, the
    truth itself, never). Failing rows that :func:`explained` accounts for are counted
    in ``aside`` by reason instead."""
    found = []
    for row in report.rows:
        if row.backend == "analytic" or (backends and row.backend not in backends):
            continue
        if not counts(row, ulps):
            continue
        why = explained(row)
        if why is not None:
            if aside is not None:
                aside[why] = aside.get(why, 0) + 1
            continue
        point = next(iter(row.point.values())) if row.point else math.nan
        found.append(Hit(row.backend, row.mode, row.order, row.dtype, row.wrt, kind_of(row),
                         point, row.derivative, row.exact, row.ulp_error))
    return found
