"""The sweep figure's noise floor band and its wrong / inaccurate marks: real chunks
fed to a real PlotSink, drawn with matplotlib, checked on the Figure's artists."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from autograd_cli.comparison.judge import Chunk
from autograd_cli.comparison.verdicts import (
    TIER_INACCURATE,
    TIER_WRONG,
    errors,
    tolerance_for,
    ulp,
)
from autograd_cli.core.statuses import CODES, UNDEFINED
from autograd_cli.report import plot_sink
from autograd_cli.report.figure import build_figure
from autograd_cli.report.plot_sink import PlotSink
from autograd_cli.report.sweep_model import SweepReport, SweepRow


def _report(backends: Sequence[str], dtypes: Sequence[str] = ("float32",)) -> SweepReport:
    """The summary the figure's titles and labels come from (one row per backend)."""

    def one(dtype: str, parts: list[SweepReport]) -> SweepReport:
        rows = [SweepRow(name, "autograd", None, d, "x", "ok")
                for name in backends for d in ([dtype] if not parts else dtypes)]
        return SweepReport(
            expression="3*x**2", exact_expression="x**3", derivative_expressions={"x": "3*x**2"},
            variables=("x",), swept="x", fixed={}, dtype=dtype,
            tolerance=tolerance_for(dtype), sweep={}, reference={}, rows=rows, strict=False,
            parts=parts)

    if len(dtypes) == 1:
        return one(dtypes[0], [])
    return one(dtypes[0], [one(d, []) for d in dtypes])


def _chunk(start: int, x: np.ndarray, derivatives: dict[str, np.ndarray],
           floor_ulps: np.ndarray | None, dtype: str = "float32",
           labels: np.ndarray | None = None) -> Chunk:
    """A judged chunk of f = x**3 as the sweep makes it: exact f' = 3x², the floor in
    absolute terms (``floor_ulps`` ULPs of f'), errors and tiers from verdicts.errors."""
    exact = 3.0 * np.asarray(x, dtype=np.float64) ** 2
    lo = np.zeros_like(exact)
    floor = None if floor_ulps is None else floor_ulps * ulp(exact, dtype)
    judged = {name: errors(d, exact, lo, dtype, tolerance_for(dtype), floor=floor)
              for name, d in derivatives.items()}
    skipped = {} if labels is None else {name: labels > 0 for name in derivatives}
    return Chunk(start, x, None, exact, lo, dict(derivatives), judged, special=labels,
                 dtype=dtype, labels=labels, skipped=skipped, floor=floor)


def _rounded(x: np.ndarray, dtype: str = "float32") -> np.ndarray:
    """The correctly rounded derivative: ok everywhere."""
    return (3.0 * np.asarray(x, dtype=np.float64) ** 2).astype(dtype)


def _artists(ax: Any, gid: str) -> list[Any]:
    return [a for a in ax.get_children() if a.get_gid() == gid]


def _legend(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _band_top(band: Any) -> float:
    return max(float(np.max(path.vertices[:, 1])) for path in band.get_paths())


X = np.linspace(1.0, 2.0, 101).astype(np.float32)
WRONG_AT = [10, 50, 90]
INACCURATE_AT = [20, 30, 70, 80]
UNDEFINED_AT = 40


def _bad() -> np.ndarray:
    """Wrong (0, or of the wrong sign) at WRONG_AT, 10 ULPs off (inaccurate: beyond the
    floor + 2 ULPs, far within the 2,000 of wrong) at INACCURATE_AT, NaN at a point
    labelled undefined (not judged, so neither)."""
    d = _rounded(X).astype(np.float64)
    d[WRONG_AT[:2]] = 0.0
    d[WRONG_AT[2]] = -d[WRONG_AT[2]]
    exact = 3.0 * X.astype(np.float64) ** 2
    d[INACCURATE_AT] = exact[INACCURATE_AT] + 10 * ulp(exact[INACCURATE_AT], "float32")
    d[UNDEFINED_AT] = np.nan
    return d.astype(np.float32)


def _floor() -> np.ndarray:
    floor = np.full(X.size, 1.5)
    floor[60] = 7.0
    return floor


def _tiered_sink() -> PlotSink:
    labels = np.zeros(X.size, dtype=np.int8)
    labels[UNDEFINED_AT] = CODES[UNDEFINED]
    good, bad, floor = _rounded(X), _bad(), _floor()
    sink = PlotSink(X.size, ("analytic", "torch"))
    for a, b in ((0, 60), (60, X.size)):  # two chunks, as the sweep streams them
        sink.chunk(_chunk(a, X[a:b], {"analytic": good[a:b], "torch": bad[a:b]},
                          floor[a:b], labels=labels[a:b]))
    return sink


def test_the_chunks_are_what_the_figure_should_show() -> None:
    """The hand-built chunk is judged as intended: the tiers are those of its points."""
    chunk = _chunk(0, X, {"torch": _bad()}, _floor())
    tiers = chunk.errors["torch"].tier_codes()
    assert set(np.flatnonzero(tiers == TIER_WRONG)) == {*WRONG_AT, UNDEFINED_AT}
    assert list(np.flatnonzero(tiers == TIER_INACCURATE)) == INACCURATE_AT


def test_floor_band_and_tier_marks() -> None:
    sink = _tiered_sink()
    data = sink.figure_data(_report(("analytic", "torch")))
    (floor,) = data.floors
    assert floor.ulps.shape == data.x.shape and np.nanmax(floor.ulps) == 7.0
    assert np.isnan(floor.ulps[UNDEFINED_AT])  # not judged: no floor either
    analytic, torch = data.series
    assert list(analytic.tiers) == []
    wrong, inaccurate = torch.tiers
    assert (wrong.tier, wrong.total, inaccurate.tier, inaccurate.total) == (
        "wrong", 3, "inaccurate", 4)

    fig = build_figure(data)
    bottom = fig.axes[1]
    (band,) = _artists(bottom, "noise-floor")
    assert isinstance(band, PolyCollection) and band.get_label() == "noise floor"
    assert _band_top(band) == pytest.approx(7.0)
    (cross,) = _artists(bottom, "tier:wrong")
    (triangle,) = _artists(bottom, "tier:inaccurate")
    assert np.array_equal(cross.get_xdata(), X[WRONG_AT].astype(np.float64))
    assert np.array_equal(triangle.get_xdata(), X[INACCURATE_AT].astype(np.float64))
    assert cross.get_marker() != triangle.get_marker()
    assert cross.get_color() != triangle.get_color()
    # each mark sits on its point's error (the torch ULP markers under it)
    ulps = data.series[1].ulp_error
    assert np.allclose(triangle.get_ydata(), ulps[INACCURATE_AT])
    assert np.all(np.asarray(triangle.get_ydata()) > 9)  # 10 ULPs, rounded
    legend = _legend(bottom)
    assert {"noise floor", "wrong: 3 points", "inaccurate: 4 points"} <= set(legend)
    assert bottom.get_ylim()[1] > 7.0  # the band is in view


def test_no_floor_and_all_ok_draws_as_before() -> None:
    sink = PlotSink(X.size, ("analytic", "torch"))
    sink.chunk(_chunk(0, X, {"analytic": _rounded(X), "torch": _rounded(X)}, None))
    data = sink.figure_data(_report(("analytic", "torch")))
    assert list(data.floors) == [] and all(list(s.tiers) == [] for s in data.series)
    fig = build_figure(data)
    bottom = fig.axes[1]
    gids = {a.get_gid() for ax in fig.axes for a in ax.get_children()}
    assert not {g for g in gids if g and (g.startswith("tier:") or g.startswith("noise"))}
    assert not [a for a in bottom.get_children() if isinstance(a, PolyCollection)]
    legend = _legend(bottom)  # the series' summaries and the ½ ULP line, nothing new
    assert len(legend) == 3 and legend[0].startswith("analytic: max")
    assert legend[1].startswith("torch: max") and legend[2] == "½ ULP (correctly rounded)"


def test_a_floor_of_zeros_is_no_band() -> None:
    """A floor that could not be computed arrives as zeros: nothing to shade or name."""
    sink = PlotSink(X.size, ("analytic",))
    sink.chunk(_chunk(0, X, {"analytic": _rounded(X)}, np.zeros(X.size)))
    bottom = build_figure(sink.figure_data(_report(("analytic",)))).axes[1]
    assert not _artists(bottom, "noise-floor") and "noise floor" not in _legend(bottom)


def test_marks_and_floor_stay_bounded_on_a_long_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond PLOT_FULL the floor is each bin's largest; beyond TIER_MARKS a tier keeps
    the worst point of each run, counts them all, and never drops a lone spike."""
    monkeypatch.setattr(plot_sink, "PLOT_FULL", 500)
    monkeypatch.setattr(plot_sink, "PLOT_BINS", 50)
    monkeypatch.setattr(plot_sink, "TIER_MARKS", 40)
    n = 2000
    x = np.linspace(1.0, 2.0, n).astype(np.float32)
    exact = 3.0 * x.astype(np.float64) ** 2
    bad = -exact  # wrong everywhere (the wrong sign) ...
    bad[1234] = -1000 * exact[1234]  # ... and much more so at one point
    floor = np.full(n, 0.75)
    floor[777] = 30.0
    sink = PlotSink(n, ("torch",))
    for a in range(0, n, 300):
        b = min(a + 300, n)
        sink.chunk(_chunk(a, x[a:b], {"torch": bad[a:b].astype(np.float32)}, floor[a:b]))
    layer = sink.layers["float32"]
    assert layer.floor is not None and layer.floor.size == 50
    assert layer.tiers["torch", "wrong"].x.size == 40
    data = sink.figure_data(_report(("torch",)))
    (wrong,) = data.series[0].tiers
    assert wrong.total == n and wrong.x.size == 40
    assert float(x[1234]) in wrong.x.tolist()
    assert np.all(np.diff(wrong.x) > 0)  # one per run, in sweep order
    (floor_data,) = data.floors
    assert floor_data.ulps.shape == data.x.shape == (100,) and np.nanmax(floor_data.ulps) == 30
    bottom = build_figure(data).axes[1]
    (band,) = _artists(bottom, "noise-floor")
    assert _band_top(band) == pytest.approx(30.0)
    (cross,) = _artists(bottom, "tier:wrong")
    assert len(cross.get_xdata()) == 40 and "wrong: 2,000 points" in _legend(bottom)


def test_several_dtypes_each_have_their_band() -> None:
    sink = PlotSink(X.size, ("torch",), dtypes=2)
    for dtype, ulps in (("float32", 3.0), ("float64", 5.0)):
        x = X.astype(dtype)
        sink.chunk(_chunk(0, x, {"torch": _rounded(x, dtype)}, np.full(X.size, ulps),
                          dtype=dtype))
    data = sink.figure_data(_report(("torch",), ("float32", "float64")))
    assert [f.dtype for f in data.floors] == ["float32", "float64"]
    bottom = build_figure(data).axes[1]
    bands = {gid: _artists(bottom, gid) for gid in ("noise-floor:float32", "noise-floor:float64")}
    assert [len(b) for b in bands.values()] == [1, 1]
    assert _band_top(bands["noise-floor:float64"][0]) == pytest.approx(5.0)
    assert {"noise floor (float32)", "noise floor (float64)"} <= set(_legend(bottom))


@pytest.mark.skipif(importlib.util.find_spec("autograd_cli.truth.noise_floor") is None,
                    reason="the noise floor module is not there yet")
def test_sigmoid_sweep_plot_end_to_end(
    gradcheck: Callable[..., Any], tmp_path: Path
) -> None:
    """torch's float32 sigmoid' is 0 for large x while the exact one is not: wrong."""
    target = tmp_path / "out.png"
    done = gradcheck("sigmoid(x)", "--range", "15", "25", "--num", "201",
                     "--backends", "analytic,torch", "--plot", str(target))
    assert done.returncode == 1, done.stdout + done.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
