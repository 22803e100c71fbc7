"""What classify hands back: per point a code and a reason (:class:`Labels`), one
point's view of it (:class:`Special`), and how a number reads in a reason (:func:`short`).

Why a module of its own: the comparison, the sweeps and the one-sided limits all read
these, and none of them needs the machinery that fills them in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from autograd_cli.core.statuses import STATUS_OF_CODE


@dataclass(frozen=True)
class Special:
    """Why one derivative at one point is not judged, and its one-sided values."""

    status: str
    reason: str
    left: float | None = None
    right: float | None = None
    #: The function whose place it is ("maximum") and the kind of place ("tie"; see
    #: :mod:`autograd_cli.domain.places`), for :func:`autograd_cli.domain.convention`;
    #: None where the point is special for another reason (a division by zero).
    func: str | None = None
    kind: str | None = None


@dataclass
class Labels:
    """Per derivative label: a code per point (0, or :data:`CODES`) and its reason."""

    size: int
    codes: dict[str, np.ndarray]
    reasons: dict[str, np.ndarray]  # index into texts, -1 where the code is 0
    texts: list[str] = field(default_factory=list)
    sides: dict[tuple[str, int], tuple[float | None, float | None]] = field(
        default_factory=dict
    )
    unchecked: int = 0
    checked: int = 0  # points given the exact look
    #: label -> {point: (hi, lo)}: the exact derivative where SymPy's formula has no
    #: value but the point is ordinary along the label (x**y by y at x = 0 is 0).
    exact: dict[str, dict[int, tuple[float, float]]] = field(default_factory=dict)
    #: (label, point) -> (function, kind of place) where a labelled point is a place of
    #: one function (a kink of relu, a tie of maximum, a pole of digamma).
    places: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    #: point -> (function, kind) at ordinary points where a framework has a convention
    #: of its own (xlogy at x = 0 with y > 0: TensorFlow gives d/dx = 0, the exact
    #: value is log(y)): not labelled, the row is judged, the convention explains it.
    notes: dict[int, tuple[str, str]] = field(default_factory=dict)

    def at(self, wrt: str, i: int) -> Special | None:
        code = int(self.codes[wrt][i])
        if not code:
            return None
        left, right = self.sides.get((wrt, i), (None, None))
        func, kind = self.places.get((wrt, i), (None, None))
        return Special(STATUS_OF_CODE[code], self.texts[int(self.reasons[wrt][i])], left, right,
                       func, kind)

    def any(self) -> bool:
        return any(bool(c.any()) for c in self.codes.values())

    def exact_for(
        self, wrt: str, hi: np.ndarray, lo: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The exact derivatives (double-double) with :attr:`exact` put in: copies where
        there is something to put in, else ``hi`` and ``lo`` themselves."""
        fixes = self.exact.get(wrt)
        if not fixes:
            return hi, lo
        hi, lo = np.array(hi, dtype=np.float64), np.array(lo, dtype=np.float64)
        for i, (h, low) in fixes.items():
            hi[i], lo[i] = h, low
        return hi, lo


def short(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isinf(value) or math.isnan(value):
        return repr(value)
    text = f"{value:.7g}"
    return "0" if text in ("0", "-0") else text
