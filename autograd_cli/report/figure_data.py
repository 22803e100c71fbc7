"""What the sweep figure draws, as plain numpy arrays: one :class:`Series` per backend
(with its wrong and inaccurate points, :class:`TierPoints`), the special marks, the
noise floor (:class:`NoiseFloor`), and :class:`SweepFigureData` holding them; and how a
long sweep is thinned for drawing without losing a spike (:func:`envelope`, a min/max
per bin; :func:`worst_per_bin` for marked points)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: ULP errors below this (exact results included) are drawn at it, so a log axis keeps them.
ULP_FLOOR = 1e-3


@dataclass(frozen=True, eq=False)
class Series:
    """One backend's curve over the sweep.

    ``derivative`` is f'(x) as the backend computed it (any float dtype; drawn as
    float64, which is exact). ``ulp_error`` is its error against the exact derivative
    in ULPs of the compared dtype: 0 means exact, NaN or inf means the backend (or the
    truth) was not finite there; the sign, if any, is ignored.

    ``dtype`` is the dtype it computed in; when the figure's series have several, each
    is named "<backend> <dtype>" and its errors are ULPs of its own dtype. ``x``, when
    given, is where its points are (its dtype rounds them its own way); else the
    figure's ``x``.
    """

    backend: str
    label: str
    derivative: np.ndarray
    ulp_error: np.ndarray
    dtype: str | None = None
    x: np.ndarray | None = None
    #: Its points judged wrong and inaccurate (none: every point ok, or not known).
    tiers: Sequence[TierPoints] = ()

    def name(self, several: bool) -> str:
        """Its name in legends and gids: the backend, with the dtype if ``several``."""
        return f"{self.backend} {self.dtype}" if several and self.dtype else self.backend


#: The tiers marked on the error panel, worst first (ok points are not marked).
MARKED_TIERS = ("wrong", "inaccurate")


@dataclass(frozen=True, eq=False)
class TierPoints:
    """A series' points of one tier ("wrong" or "inaccurate"), marked over its ULP
    errors so a reader sees which errors the verdict counts, not only how large.

    ``x`` and ``ulps`` (|error| in ULPs, finite) are the points drawn: a bounded
    selection (see :class:`autograd_cli.report.plot_sink.PlotSink`), while ``total``
    counts every point of the tier, those with a NaN/inf result (flagged along the
    panel's top, not here) and those left out of the selection included.
    """

    tier: str
    x: np.ndarray
    ulps: np.ndarray
    total: int

    def __post_init__(self) -> None:
        if self.tier not in MARKED_TIERS:
            raise ValueError(f"tier must be one of {MARKED_TIERS}, got {self.tier!r}")
        if np.shape(self.x) != np.shape(self.ulps) or np.ndim(self.x) != 1:
            raise ValueError(f"{self.tier} x and ulps must be 1-D of one length, got "
                             f"{np.shape(self.x)} and {np.shape(self.ulps)}")


@dataclass(frozen=True, eq=False)
class NoiseFloor:
    """The noise floor (what rounding alone may cost the expression as written) in
    ULPs of ``dtype`` of the exact derivative: errors under it are not the backend's
    fault, so the figure shades the error panel up to it. NaN where there is none
    (a labelled point, a non-finite truth). ``x``: where, when not the figure's x
    (several dtypes: each its own, named in the legend)."""

    ulps: np.ndarray
    x: np.ndarray | None = None
    dtype: str | None = None


@dataclass(frozen=True)
class SpecialMark:
    """Where the derivative is not judged: ``status`` ("undefined", "nondifferentiable",
    "overflow", "underflow") from x = ``start`` to ``stop`` (equal for a single point),
    ``points`` of them; ``dtype``: only that dtype's series (None: every series).
    Drawn as a shaded band, or a dashed vertical line for a single x."""

    status: str
    start: float
    stop: float
    points: int = 1
    dtype: str | None = None


@dataclass(frozen=True, eq=False)
class SweepFigureData:
    """Everything the sweep figure shows, as plain arrays of one length N.

    ``x`` holds the points as the backends saw them (already rounded to ``dtype``),
    ``exact`` the exact derivative there (float64). ``expression``/``derivative`` are
    plain text (SymPy's ``str``); the ``*_latex`` forms, when given and parseable by
    matplotlib's mathtext, are typeset in the title instead.
    """

    x: np.ndarray
    exact: np.ndarray
    series: Sequence[Series]
    expression: str
    derivative: str
    dtype: str = "float32"
    wrt: str = "x"
    values: np.ndarray | None = None
    expression_latex: str | None = None
    derivative_latex: str | None = None
    notes: tuple[str, ...] = field(default=())
    special: Sequence[SpecialMark] = field(default=())
    #: The derivative drawn, as the variables it differentiates by in order:
    #: ("x", "x") is f'' (titles then say d²f/dx²); empty means df/d(wrt).
    partial: tuple[str, ...] = ()
    #: The noise floor, one per dtype (empty: not known, no band drawn).
    floors: Sequence[NoiseFloor] = field(default=())

    def __post_init__(self) -> None:
        x = np.asarray(self.x)
        if x.ndim != 1 or x.size == 0:
            raise ValueError(f"x must be a non-empty 1-D array, got shape {x.shape}")
        arrays: list[tuple[str, Any]] = [("exact", self.exact), ("values", self.values)]
        for s in self.series:
            arrays += [(f"{s.backend} derivative", s.derivative),
                       (f"{s.backend} ulp_error", s.ulp_error), (f"{s.backend} x", s.x)]
        for floor in self.floors:
            if floor.x is not None:
                if np.shape(floor.x) != np.shape(floor.ulps) or np.ndim(floor.x) != 1:
                    raise ValueError(f"noise floor x has shape {np.shape(floor.x)}, its "
                                     f"ulps {np.shape(floor.ulps)}")
            else:
                arrays.append(("noise floor", floor.ulps))
        for name, array in arrays:
            if array is not None and np.shape(array) != x.shape:
                raise ValueError(f"{name} has shape {np.shape(array)}, x has {x.shape}")


def envelope(
    x: np.ndarray, y: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min/max of ``y`` over ``bins`` contiguous runs of points: (bin centre, min, max).

    The runs are those of ``np.array_split(y, bins)``; a bin's centre is halfway between
    its first and last x (sweeps are sorted).

    Every bin keeps its extremes, so a one-point spike survives any decimation (skipping
    points would drop it). NaNs are ignored unless a whole bin is NaN, which stays NaN
    and so shows as a gap. With ``bins >= len(y)`` each point is its own bin.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise ValueError(f"x and y must be 1-D of one length, got {xs.shape} and {ys.shape}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    n = ys.size
    if n <= bins:
        return xs.copy(), ys.copy(), ys.copy()
    # np.array_split's partition: the first n % bins runs hold one point more.
    size, extra = divmod(n, bins)
    index = np.arange(bins, dtype=np.int64)
    starts = index * size + np.minimum(index, extra)
    last = np.append(starts[1:], n) - 1
    return 0.5 * (xs[starts] + xs[last]), np.fmin.reduceat(ys, starts), np.fmax.reduceat(
        ys, starts
    )


def decimated(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw points up to ``max_points``; above, the envelope as (min, max) pairs per bin."""
    if x.size <= max_points:
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    x_env, y_min, y_max = envelope(x, y, max_points // 2)
    return np.repeat(x_env, 2), np.column_stack([y_min, y_max]).ravel()


def flagged(x: np.ndarray, mask: np.ndarray, max_points: int) -> np.ndarray:
    """x of the flagged points; above ``max_points``, the first flagged x in each bin."""
    index = np.flatnonzero(mask)
    if index.size <= max_points:
        return np.asarray(x[index], dtype=np.float64)
    _, first = np.unique(index * max_points // mask.size, return_index=True)
    return np.asarray(x[index[first]], dtype=np.float64)


def worst_per_bin(
    bins: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The point of largest ``y`` in each bin: (bin, its x, its y), by bin.

    ``bins`` is each point's bin, non-decreasing (points in sweep order); NaN ``y``
    are never chosen (a bin of only NaNs is left out). How marked points are thinned:
    every bin keeps its worst, so a lone wrong point survives any thinning.
    """
    keep = ~np.isnan(y)
    bins, x, y = bins[keep], x[keep], y[keep]
    if bins.size == 0:
        return bins, x, y
    order = np.lexsort((y, bins))  # within each bin by y: the last is its worst
    bins, x, y = bins[order], x[order], y[order]
    last = np.flatnonzero(np.r_[bins[1:] != bins[:-1], True])
    return bins[last], x[last], y[last]
