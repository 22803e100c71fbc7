"""The sweep figure's data, gathered chunk by chunk: every point up to PLOT_FULL,
a min/max envelope over PLOT_BINS bins beyond (single-point spikes stay visible), then
drawn and saved by :mod:`autograd_cli.report.figure`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from autograd_cli.comparison.judge import Chunk
from autograd_cli.comparison.plan import series_name
from autograd_cli.core.dtypes import finfo
from autograd_cli.core.model import Request, partial_of
from autograd_cli.core.statuses import LABEL_OF_CODE, LABELS
from autograd_cli.report.sweep_model import SweepReport, SweepRow

#: Up to this many points a plot gets every point (and decimates by itself); beyond,
#: it gets a min/max envelope over PLOT_BINS bins, built chunk by chunk.
PLOT_FULL = 1 << 21
PLOT_BINS = 2000


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

    def add(self, data: Chunk) -> None:
        n = data.x.size
        series = {"x": data.x, "exact": data.exact}
        for name, derivative in data.derivatives.items():
            self.seen.add(name)
            series[f"{name}:d"] = derivative
            ulps = np.abs(data.errors[name].ulps)
            skipped = data.skipped.get(name)  # not judged: its band says why, no error
            series[f"{name}:u"] = ulps if skipped is None else np.where(skipped, np.nan, ulps)
        if self.full:
            for key, array in series.items():
                self.store[key][data.start:data.start + n] = array
            if data.labels is not None:
                self.codes[data.start:data.start + n] = data.labels
            return
        index = np.arange(data.start, data.start + n, dtype=np.int64)
        bins = index * PLOT_BINS // self.points
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        used = bins[starts]
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
    backend and dtype, labelled with the dtype."""

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
        from autograd_cli.report.figure_data import Series, SweepFigureData

        dtypes = [d for d in report.dtypes if d in self.layers] or list(self.layers)
        several = len(dtypes) > 1
        base = min(dtypes, key=lambda d: float(finfo(d).eps))
        rows = {(row.series, row.dtype): row for row in report.rows}
        series = [
            Series(backend=name, label=_label(rows[name, dtype]),
                   derivative=layer.column(f"{name}:d"), ulp_error=layer.column(f"{name}:u"),
                   dtype=dtype, x=layer.column("x") if several else None)
            for name in self.backends
            for dtype in dtypes
            for layer in (self.layers[dtype],)
            if name in layer.seen
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
