"""The sweep figure's data, gathered chunk by chunk: every point up to PLOT_FULL,
a min/max envelope over PLOT_BINS bins beyond (single-point spikes stay visible), then
drawn and saved by :mod:`autograd_cli.report.figure`. Also the noise floor (in ULPs,
reduced like the errors: its maximum per bin) and each backend's wrong and inaccurate
points (at most TIER_MARKS of each: the worst per run of points), so the figure shows
which errors the verdict counts, in memory bounded whatever the sweep's length."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from autograd_cli.comparison.judge import Chunk
from autograd_cli.comparison.plan import series_name
from autograd_cli.comparison.verdicts import TIER_INACCURATE, TIER_WRONG, ulp
from autograd_cli.core.dtypes import finfo
from autograd_cli.core.model import Request, partial_of
from autograd_cli.core.statuses import LABEL_OF_CODE, LABELS
from autograd_cli.report.sweep_model import SweepReport, SweepRow

#: Up to this many points a plot gets every point (and decimates by itself); beyond,
#: it gets a min/max envelope over PLOT_BINS bins, built chunk by chunk.
PLOT_FULL = 1 << 21
PLOT_BINS = 2000
#: Marked (wrong, inaccurate) points kept per backend and tier: every one when the sweep
#: has no more points than this, else the worst of each of this many runs of points.
TIER_MARKS = 4000
_TIER_CODES = ((TIER_WRONG, "wrong"), (TIER_INACCURATE, "inaccurate"))


class _TierStore:
    """One backend's points of one tier, bounded: per run of points (one point per run
    up to ``bins`` points), the one of largest ULP error; and how many there were in
    all. A sweep of 10^7 points with every point wrong still keeps ``bins`` of them,
    spread over the axis, and a lone wrong point is never dropped."""

    def __init__(self, points: int, bins: int) -> None:
        self.points = points
        self.bins = bins
        self.x = np.full(bins, np.nan)
        self.ulps = np.full(bins, np.nan)
        self.total = 0

    def add(self, index: np.ndarray, x: np.ndarray, ulps: np.ndarray) -> None:
        """Points at sweep ``index`` (ascending); NaN ``ulps`` (a NaN/inf result,
        flagged elsewhere) are counted, not kept."""
        from autograd_cli.report.figure_data import worst_per_bin

        self.total += index.size
        bins, bx, by = worst_per_bin(index * self.bins // self.points, x, ulps)
        better = ~(self.ulps[bins] >= by)  # an empty bin (NaN) takes any point
        self.x[bins[better]] = bx[better]
        self.ulps[bins[better]] = by[better]

    def points_of(self, tier: str) -> Any:
        from autograd_cli.report.figure_data import TierPoints

        kept = ~np.isnan(self.ulps)
        return TierPoints(tier, self.x[kept].copy(), self.ulps[kept].copy(), self.total)


class _PlotLayer:
    """One dtype's share of a :class:`PlotSink`: its points, truth, series and labels."""

    def __init__(self, points: int, backends: Sequence[str], full: bool) -> None:
        self.points = points
        self.full = full
        keys = ["x", "exact"]
        for name in backends:
            keys += [f"{name}:d", f"{name}:u"]
        ends = ("",) if full else (":min", ":max")
        size = points if full else PLOT_BINS
        self.store = {key + end: np.full(size, np.nan) for key in keys for end in ends}
        self.seen: set[str] = set()
        #: Full: each point's label code. Binned: per code (row) and bin, how many
        #: labelled points it holds and the least and largest x among them.
        self.codes = np.zeros(size if full else 0, dtype=np.int8)
        rows = 0 if full else max(LABEL_OF_CODE) + 1
        self.count = np.zeros((rows, size), dtype=np.int64)
        self.low = np.full((rows, size), np.inf)
        self.high = np.full((rows, size), -np.inf)
        #: The noise floor in ULPs: per point, or binned the largest of each bin;
        #: made on the first chunk that has one (None: no band).
        self.floor: np.ndarray | None = None
        self.tiers: dict[tuple[str, str], _TierStore] = {}

    def add(self, data: Chunk) -> None:
        n = data.x.size
        series = {"x": data.x, "exact": data.exact}
        for name, derivative in data.derivatives.items():
            self.seen.add(name)
            series[f"{name}:d"] = derivative
            ulps = np.abs(data.errors[name].ulps)
            skipped = data.skipped.get(name)  # not judged: its band says why, no error
            series[f"{name}:u"] = ulps if skipped is None else np.where(skipped, np.nan, ulps)
            self._add_tiers(data, name, series[f"{name}:u"])
        floor = self._floor_ulps(data)
        if self.full:
            if floor is not None:
                self._floor()[data.start:data.start + n] = floor
            for key, array in series.items():
                self.store[key][data.start:data.start + n] = array
            if data.labels is not None:
                self.codes[data.start:data.start + n] = data.labels
            return
        index = np.arange(data.start, data.start + n, dtype=np.int64)
        bins = index * PLOT_BINS // self.points
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        used = bins[starts]
        if floor is not None:
            kept = self._floor()
            kept[used] = np.fmax(kept[used], np.fmax.reduceat(floor, starts))
        for key, array in series.items():
            values = np.asarray(array, dtype=np.float64)
            low, high = self.store[f"{key}:min"], self.store[f"{key}:max"]
            low[used] = np.fmin(low[used], np.fmin.reduceat(values, starts))
            high[used] = np.fmax(high[used], np.fmax.reduceat(values, starts))
        if data.labels is None:
            return
        x = np.asarray(data.x, dtype=np.float64)
        for code in np.unique(data.labels[data.labels > 0]).tolist():
            where = np.flatnonzero(data.labels == code)
            held = bins[where]
            first = np.flatnonzero(np.r_[True, held[1:] != held[:-1]])
            bin_of = held[first]
            self.count[code, bin_of] += np.diff(np.r_[first, where.size])
            self.low[code, bin_of] = np.minimum(self.low[code, bin_of],
                                                np.minimum.reduceat(x[where], first))
            self.high[code, bin_of] = np.maximum(self.high[code, bin_of],
                                                 np.maximum.reduceat(x[where], first))

    def _add_tiers(self, data: Chunk, name: str, ulps: np.ndarray) -> None:
        """Keep the backend's wrong and inaccurate points among the judged ones
        (``ulps`` is NaN where a point was not judged; a NaN/inf result is counted)."""
        tiers = data.errors[name].tier_codes()
        judged = np.ones(tiers.shape, dtype=bool)
        skipped = data.skipped.get(name)
        if skipped is not None:
            judged &= ~skipped
        if data.labels is not None:
            judged &= data.labels == 0
        for code, word in _TIER_CODES:
            where = np.flatnonzero(judged & (tiers == code))
            if where.size == 0:
                continue
            store = self.tiers.get((name, word))
            if store is None:
                store = self.tiers[name, word] = _TierStore(
                    self.points, min(self.points, TIER_MARKS))
            shown = ulps[where]
            store.add(data.start + where, np.asarray(data.x[where], dtype=np.float64),
                      np.where(np.isfinite(shown), shown, np.nan))

    @staticmethod
    def _floor_ulps(data: Chunk) -> np.ndarray | None:
        """The chunk's noise floor in ULPs of its exact derivative (the panel's unit);
        NaN where it means nothing: a labelled point, a non-finite truth or floor."""
        if data.floor is None:
            return None
        exact = np.asarray(data.exact, dtype=np.float64)
        floor = np.asarray(data.floor, dtype=np.float64)
        with np.errstate(all="ignore"):
            ulps = floor / ulp(exact, data.dtype)
        keep = np.isfinite(ulps) & np.isfinite(exact) & (floor >= 0)
        if data.labels is not None:
            keep &= data.labels == 0
        return np.where(keep, ulps, np.nan)

    def _floor(self) -> np.ndarray:
        if self.floor is None:
            self.floor = np.full(self.points if self.full else PLOT_BINS, np.nan)
        return self.floor

    def floor_column(self) -> np.ndarray | None:
        """The noise floor aligned with :meth:`column` ("x"): binned, each bin's
        largest on both its points (the band is a step over the bin)."""
        if self.floor is None:
            return None
        return self.floor if self.full else np.repeat(self.floor, 2)

    def tier_points(self, name: str) -> list[Any]:
        """The backend's kept wrong and inaccurate points, worst tier first."""
        return [self.tiers[name, word].points_of(word) for _, word in _TIER_CODES
                if (name, word) in self.tiers]

    def column(self, key: str) -> np.ndarray:
        if self.full:
            return self.store[key]
        return np.column_stack([self.store[f"{key}:min"], self.store[f"{key}:max"]]).ravel()

    def marks(self, dtype: str | None) -> list[Any]:
        """Runs of labelled points (undefined, non-differentiable, overflow,
        underflow), each from its first labelled x to its last; binned, a run of bins
        holding the label, from the least such x in them to the largest (so a single
        point is a single x however many points a bin holds)."""
        from autograd_cli.domain import runs
        from autograd_cli.report.figure_data import SpecialMark

        found = []
        if self.full:
            x = self.store["x"]
            found = [SpecialMark(LABEL_OF_CODE[code], float(x[first]), float(x[last]),
                                 last - first + 1, dtype)
                     for code, first, last in runs(self.codes)]
        for code in range(1, self.count.shape[0]):
            held = (self.count[code] > 0).astype(np.int8)
            found += [SpecialMark(LABEL_OF_CODE[code], float(self.low[code, first]),
                                  float(self.high[code, last]),
                                  int(self.count[code, first:last + 1].sum()), dtype)
                      for _, first, last in runs(held)]
        return sorted(found, key=lambda m: (m.start, LABELS[m.status]))


class PlotSink:
    """What the figure needs: every point up to PLOT_FULL points (over all dtypes),
    beyond that the min/max of each of PLOT_BINS runs of points (the figure's own
    envelope, built chunk by chunk, so a one-point spike still shows). Chunks of
    several dtypes (a dtype list) each go to their dtype's layer: one series per
    backend and dtype, labelled with the dtype.

    Per backend it keeps at most :data:`TIER_MARKS` wrong and as many inaccurate
    points (each tier's worst of every run of points; all of them in a shorter sweep)
    and counts them all; the noise floor, when chunks have one, is kept like an error
    series (its largest per bin beyond PLOT_FULL). Memory stays bounded by the bins,
    never by the sweep's length."""

    def __init__(
        self,
        points: int,
        backends: Sequence[str],
        latex: tuple[str | None, str | None] = (None, None),
        dtypes: int = 1,
    ) -> None:
        self.points = points
        self.backends = tuple(backends)
        self.latex = latex
        self.full = points * max(dtypes, 1) <= PLOT_FULL
        self.layers: dict[str, _PlotLayer] = {}

    def chunk(self, data: Chunk) -> None:
        layer = self.layers.get(data.dtype)
        if layer is None:
            layer = self.layers[data.dtype] = _PlotLayer(self.points, self.backends, self.full)
        layer.add(data)

    def figure_data(self, report: SweepReport) -> Any:
        """The figure's input (:class:`autograd_cli.report.figure.SweepFigureData`). With
        several dtypes the figure's x and exact curve are those of the most precise
        one, and each series carries its own dtype's x."""
        from autograd_cli.report.figure_data import NoiseFloor, Series, SweepFigureData

        dtypes = [d for d in report.dtypes if d in self.layers] or list(self.layers)
        several = len(dtypes) > 1
        base = min(dtypes, key=lambda d: float(finfo(d).eps))
        rows = {(row.series, row.dtype): row for row in report.rows}
        series = [
            Series(backend=name, label=_label(rows[name, dtype]),
                   derivative=layer.column(f"{name}:d"), ulp_error=layer.column(f"{name}:u"),
                   dtype=dtype, x=layer.column("x") if several else None,
                   tiers=layer.tier_points(name))
            for name in self.backends
            for dtype in dtypes
            for layer in (self.layers[dtype],)
            if name in layer.seen
        ]
        floors = [
            NoiseFloor(floor, x=layer.column("x") if several else None,
                       dtype=dtype if several else None)
            for dtype in dtypes
            for layer in (self.layers[dtype],)
            for floor in (layer.floor_column(),)
            if floor is not None
        ]
        notes: tuple[str, ...] = ()
        if not self.full:
            notes = (f"{self.points:,} points drawn as the min/max of {PLOT_BINS:,} runs",)
        special = [mark for dtype in dtypes
                   for mark in self.layers[dtype].marks(dtype if several else None)]
        if several:  # a mark every dtype has (a pole at 0) is drawn once, for all
            shared = set.intersection(*(
                {(m.status, m.start, m.stop, m.points) for m in special if m.dtype == d}
                for d in dtypes))
            special = [replace(m, dtype=None) for m in special if m.dtype == dtypes[0]
                       and (m.status, m.start, m.stop, m.points) in shared] + [
                m for m in special if (m.status, m.start, m.stop, m.points) not in shared]
            special.sort(key=lambda m: (m.start, LABELS[m.status]))
        return SweepFigureData(
            x=self.layers[base].column("x"), exact=self.layers[base].column("exact"),
            series=series, expression=report.exact_expression,
            derivative=report.derivative_expressions[report.label], dtype=base,
            wrt=report.swept, partial=partial_of(report.label), notes=notes, special=special,
            expression_latex=self.latex[0], derivative_latex=self.latex[1],
            floors=floors,
        )

    def marks(self) -> list[Any]:
        """Runs of labelled points, for the figure (every dtype's, named when several)."""
        several = len(self.layers) > 1
        return [mark for dtype, layer in self.layers.items()
                for mark in layer.marks(dtype if several else None)]


def _label(row: SweepRow) -> str:
    version = f" {row.version}" if row.version else ""
    return f"{row.backend}{version} ({row.method})"


def latex_of(expr: Any, label: str) -> tuple[str | None, str | None]:
    """f and its derivative typeset for the figure's title; plain text where SymPy can't."""
    try:
        import sympy

        from autograd_cli.truth.symbolic import derivative, to_sympy

        return sympy.latex(to_sympy(expr)), sympy.latex(derivative(expr, label))
    except Exception:
        return None, None


def draw(sink: PlotSink, report: SweepReport, path: Path) -> None:
    """Draw and save a sweep's figure (matplotlib loads here, not before)."""
    from autograd_cli.report.figure import build_figure
    from autograd_cli.report.plot_files import save_figure

    save_figure(build_figure(sink.figure_data(report)), path)


def save_plot(request: Request, report: Any, path: Path) -> None:
    """The sweep figure of a point Report over a swept Request (see
    :func:`build_sweep_request`)."""
    from autograd_cli.domain import runs
    from autograd_cli.report.figure import build_figure
    from autograd_cli.report.figure_data import Series, SpecialMark, SweepFigureData
    from autograd_cli.report.plot_files import save_figure

    label = request.wrt[0]
    swept = partial_of(label)[0]
    rows = [row for row in report.rows if row.wrt == label]
    keys = list(dict.fromkeys((row.backend, row.mode) for row in rows))

    def column(key: tuple[str, str | None], attribute: str) -> np.ndarray:
        values = [getattr(row, attribute) for row in rows if (row.backend, row.mode) == key]
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)

    def method(key: tuple[str, str | None]) -> str:
        return next(row.method for row in rows if (row.backend, row.mode) == key)

    first = [row for row in rows if (row.backend, row.mode) == keys[0]]
    # A point's label: any series' (undefined and kinks are every row's; over- and
    # underflow exclude them and each other, so the largest code is the one there).
    codes = np.zeros(len(first), dtype=np.int8)
    for key in keys:
        statuses = [row.status for row in rows if (row.backend, row.mode) == key]
        codes = np.maximum(codes, np.array([LABELS.get(s, 0) for s in statuses], dtype=np.int8))
    xs = [row.point[swept] for row in first]
    marks = [SpecialMark(LABEL_OF_CODE[code], xs[a], xs[b], b - a + 1)
             for code, a, b in runs(codes)]
    data = SweepFigureData(
        x=np.array([row.point[swept] for row in first], dtype=np.float64),
        exact=column(keys[0], "exact"),
        series=[
            Series(backend=series_name(*key, request.mode),
                   label=f"{series_name(*key, request.mode)} ({method(key)})",
                   derivative=column(key, "derivative"), ulp_error=column(key, "ulp_error"))
            for key in keys
        ],
        expression=report.exact_expression,
        derivative=report.derivative_expressions[label],
        dtype=request.dtype,
        wrt=swept,
        partial=partial_of(label),
        special=marks,
        expression_latex=latex_of(request.expr, label)[0],
        derivative_latex=latex_of(request.expr, label)[1],
    )
    save_figure(build_figure(data), path)
