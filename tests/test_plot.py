"""The sweep figure: decimation that keeps spikes, a figure drawn from exactly the data
given, files that open, and --plot paths rejected before any work starts."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from autograd_cli.report.figure import build_figure
from autograd_cli.report.figure_data import ULP_FLOOR, Series, SweepFigureData, envelope
from autograd_cli.report.plot_files import save_figure, validate_plot_path

ROOT = Path(__file__).resolve().parent.parent


def tutorial_data(n: int | None = None, nan_at: tuple[int, ...] = (),
                  values: bool = True) -> SweepFigureData:
    """The tutorial's y = 2x³ + 4x² + 5x + 6 with two float32 'backends' that evaluate
    6x² + 8x + 5 in two orders (real rounding errors, some of them 0 ULP)."""
    x = np.arange(-4, 4, 0.001, dtype=np.float32)
    if n is not None:
        x = np.linspace(-4, 4, n).astype(np.float32)
    xd = x.astype(np.float64)
    exact = 6 * xd**2 + 8 * xd + 5
    f32 = np.float32
    torch_d = (f32(6) * x * x + f32(8) * x) + f32(5)
    tf_d = (f32(6) * x + f32(8)) * x + f32(5)
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    torch_u = np.abs(torch_d - exact) / ulp
    tf_u = np.abs(tf_d - exact) / ulp
    for i in nan_at:
        torch_d[i] = np.nan
        torch_u[i] = np.nan if i % 2 else np.inf
    return SweepFigureData(
        x=x,
        exact=exact,
        values=2 * xd**3 + 4 * xd**2 + 5 * xd + 6 if values else None,
        series=[
            Series("torch", "torch 2.5.1 backward()", torch_d, torch_u),
            Series("tensorflow", "tensorflow 2.18.0 GradientTape", tf_d, tf_u),
        ],
        expression="2*x**3 + 4*x**2 + 5*x + 6",
        derivative="6*x**2 + 8*x + 5",
        expression_latex="2 x^{3} + 4 x^{2} + 5 x + 6",
        derivative_latex="6 x^{2} + 8 x + 5",
        dtype="float32",
        wrt="x",
    )


def line(fig: Any, gid: str) -> Any:
    """The one artist of the figure with this gid."""
    found = [a for ax in fig.axes for a in ax.get_lines() if a.get_gid() == gid]
    assert len(found) == 1, f"{gid}: {len(found)} lines"
    return found[0]


def data_of(artist: Any) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(artist.get_xdata(), dtype=np.float64),
            np.asarray(artist.get_ydata(), dtype=np.float64))


def all_text(fig: Any) -> str:
    texts = [fig.get_suptitle()]
    texts += [ax.get_title() for ax in fig.axes]
    texts += [t.get_text() for ax in fig.axes if ax.get_legend()
              for t in ax.get_legend().get_texts()]
    return "\n".join(texts)


def interleaved(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    x_env, y_min, y_max = envelope(x, y, bins)
    return np.repeat(x_env, 2), np.column_stack([y_min, y_max]).ravel()


# --- envelope ---------------------------------------------------------------------------


def test_envelope_keeps_a_single_point_spike() -> None:
    y = np.zeros(10**6)
    y[654_321] = 1e6
    x = np.linspace(-4, 4, y.size)
    x_env, y_min, y_max = envelope(x, y, 2000)
    assert x_env.shape == y_min.shape == y_max.shape == (2000,)
    assert y_max.max() == y.max() == 1e6
    assert y_min.min() == y.min() == 0.0
    (spike_bin,) = np.flatnonzero(y_max == 1e6)
    assert abs(x_env[spike_bin] - x[654_321]) <= 0.5 * 8 / 2000
    # naive decimation (every 500th point) would have lost it
    assert y[::500].max() == 0.0


def test_envelope_matches_array_split_per_bin() -> None:
    rng = np.random.default_rng(7)
    x = np.sort(rng.uniform(-3, 3, 10_007))
    y = rng.standard_normal(x.size)
    x_env, y_min, y_max = envelope(x, y, 13)
    for i, (xs, ys) in enumerate(zip(np.array_split(x, 13), np.array_split(y, 13),
                                     strict=True)):
        assert y_min[i] == ys.min() and y_max[i] == ys.max()
        assert x_env[i] == pytest.approx((xs[0] + xs[-1]) / 2)


def test_envelope_ignores_nans_but_keeps_all_nan_bins_as_gaps() -> None:
    y = np.arange(12, dtype=np.float64)
    y[1] = np.nan
    y[8:12] = np.nan
    _, y_min, y_max = envelope(np.arange(12.0), y, 3)
    assert list(y_min[:2]) == [0.0, 4.0] and list(y_max[:2]) == [3.0, 7.0]
    assert np.isnan(y_min[2]) and np.isnan(y_max[2])


def test_envelope_with_more_bins_than_points_is_the_data() -> None:
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([5.0, -1.0, 2.0])
    x_env, y_min, y_max = envelope(x, y, 10)
    assert np.array_equal(x_env, x) and np.array_equal(y_min, y) and np.array_equal(y_max, y)


def test_envelope_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="bins"):
        envelope(np.arange(3.0), np.arange(3.0), 0)
    with pytest.raises(ValueError, match="one length"):
        envelope(np.arange(3.0), np.arange(4.0), 2)


# --- the figure -------------------------------------------------------------------------


def test_small_sweep_draws_exactly_the_given_arrays() -> None:
    data = tutorial_data(n=300)
    fig = build_figure(data)
    x = data.x.astype(np.float64)
    for gid, expected in [("exact", data.exact), ("values", data.values),
                          ("derivative:torch", data.series[0].derivative),
                          ("derivative:tensorflow", data.series[1].derivative)]:
        lx, ly = data_of(line(fig, gid))
        assert np.array_equal(lx, x), gid
        assert np.array_equal(ly, np.asarray(expected, dtype=np.float64)), gid
    for s in data.series:
        lx, ly = data_of(line(fig, f"ulp:{s.backend}"))
        assert np.array_equal(lx, x)
        assert np.array_equal(ly, np.maximum(s.ulp_error, ULP_FLOOR))


def test_backends_are_told_apart_by_style() -> None:
    fig = build_figure(tutorial_data(n=300))
    torch, tf = line(fig, "derivative:torch"), line(fig, "derivative:tensorflow")
    assert torch.get_color() != tf.get_color()
    assert torch.get_linestyle() != tf.get_linestyle()
    assert torch.get_marker() != tf.get_marker()
    legend = fig.axes[0].get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    assert "torch 2.5.1 backward()" in labels and "tensorflow 2.18.0 GradientTape" in labels


def test_ulp_panel_is_log_and_keeps_exact_points_visible() -> None:
    data = tutorial_data(n=300)
    assert (data.series[0].ulp_error == 0).any(), "the fixture should have exact points"
    fig = build_figure(data)
    ulp_line = line(fig, "ulp:torch")
    ax = ulp_line.axes
    assert ax.get_yscale() in ("log", "symlog")
    _, ly = data_of(ulp_line)
    low, high = ax.get_ylim()
    assert low < ly.min() and ly.max() < high
    assert "10$^{-3}$" in ax.get_ylabel()
    assert ax.get_shared_x_axes().joined(ax, fig.axes[0])


def test_nan_and_inf_errors_are_marked_and_counted() -> None:
    data = tutorial_data(n=300, nan_at=(10, 11, 250))
    fig = build_figure(data)
    marks = line(fig, "nonfinite:torch")
    mx, my = data_of(marks)
    assert np.array_equal(mx, data.x[[10, 11, 250]].astype(np.float64))
    assert marks.get_marker() != line(fig, "ulp:torch").get_marker()
    assert np.all(my > 0.9)  # along the top edge, in axes coordinates
    assert "torch: 3 NaN/inf" in all_text(fig)
    _, ly = data_of(line(fig, "ulp:torch"))
    assert np.isnan(ly[[10, 11, 250]]).all()
    assert not [a for ax in fig.axes for a in ax.get_lines()
                if a.get_gid() == "nonfinite:tensorflow"]
    fig.canvas.draw()


def test_title_has_the_expressions_dtype_and_versions() -> None:
    fig = build_figure(tutorial_data(n=300))
    text = all_text(fig)
    assert "float32" in text and "2.5.1" in text and "2.18.0" in text
    assert "$f(x) = 2 x^{3} + 4 x^{2} + 5 x + 6$" in fig.get_suptitle()
    assert "6 x^{2} + 8 x + 5$" in fig.get_suptitle()


def test_title_falls_back_to_plain_text_when_mathtext_cannot_parse() -> None:
    data = tutorial_data(n=50)
    bad = SweepFigureData(**{**data.__dict__, "expression_latex": r"\begin{cases} x",
                             "derivative_latex": r"\frac{1"})
    fig = build_figure(bad)
    title = fig.get_suptitle()
    assert "$" not in title
    assert "f(x) = 2*x**3 + 4*x**2 + 5*x + 6" in title and "6*x**2 + 8*x + 5" in title
    fig.canvas.draw()  # a mathtext failure would surface here


def test_large_sweep_draws_the_envelope_and_keeps_a_spike() -> None:
    data = tutorial_data(n=200_000, nan_at=tuple(range(1000, 60_000)), values=False)
    torch = data.series[0]
    torch.derivative[150_001] = 1e4
    torch.ulp_error[150_001] = 1e9
    fig = build_figure(data, max_points=4000)
    lx, ly = data_of(line(fig, "derivative:torch"))
    ex, ey = interleaved(data.x, np.where(np.isfinite(torch.derivative),
                                          torch.derivative, np.nan), 2000)
    assert lx.size == 4000
    assert np.array_equal(lx, ex) and np.array_equal(ly, ey, equal_nan=True)
    assert np.nanmax(ly) == 1e4
    _, uy = data_of(line(fig, "ulp:torch"))
    assert np.nanmax(uy) == 1e9
    assert uy[np.isfinite(uy)].min() == ULP_FLOOR
    assert not [a for a in fig.axes[0].get_lines() if a.get_gid() == "values"]
    mx, _ = data_of(line(fig, "nonfinite:torch"))
    assert 1 <= mx.size <= 4000
    assert np.isin(mx, data.x[1000:60_000]).all()  # every mark sits on a real NaN
    assert mx.min() == data.x[1000] and mx.max() >= data.x[59_000]
    assert "torch: 59,000 NaN/inf" in all_text(fig)


def test_degenerate_sweeps_still_draw() -> None:
    nan = np.full(5, np.nan)
    for data in [
        SweepFigureData(x=np.linspace(0, 1, 5), exact=nan, series=[], expression="log(x)",
                        derivative="1/x", dtype="float64"),
        SweepFigureData(x=np.array([0.5]), exact=np.array([10.5]), expression="e",
                        derivative="d", series=[Series("torch", "torch", np.array([10.5]),
                                                       np.array([0.0]))]),
        SweepFigureData(x=np.linspace(0, 1, 5), exact=np.ones(5), expression="e",
                        derivative="d", series=[Series("jax", "jax 0.4", nan, nan)]),
    ]:
        build_figure(data).canvas.draw()


def test_sweep_data_rejects_arrays_of_other_lengths() -> None:
    with pytest.raises(ValueError, match="torch derivative"):
        SweepFigureData(x=np.arange(3.0), exact=np.arange(3.0), expression="e",
                        derivative="d", series=[Series("torch", "t", np.arange(4.0),
                                                       np.arange(3.0))])
    with pytest.raises(ValueError, match="exact"):
        SweepFigureData(x=np.arange(3.0), exact=np.arange(2.0), series=[], expression="e",
                        derivative="d")


# --- files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_figure() -> Any:
    return build_figure(tutorial_data(n=200, nan_at=(5,)))


def test_png_is_written_and_reads_back_at_its_size(small_figure: Any, tmp_path: Path) -> None:
    from matplotlib.image import imread

    out = tmp_path / "sweep.png"
    save_figure(small_figure, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = small_figure.get_size_inches() * 150
    assert imread(out).shape[:2] == (round(h), round(w))
    assert os.listdir(tmp_path) == ["sweep.png"]


def test_svg_parses_as_xml(small_figure: Any, tmp_path: Path) -> None:
    out = tmp_path / "sweep.svg"
    save_figure(small_figure, out)
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    w, h = small_figure.get_size_inches() * 72
    assert (root.get("width"), root.get("height")) == (f"{w:g}pt", f"{h:g}pt")
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 10


def test_pdf_is_complete(small_figure: Any, tmp_path: Path) -> None:
    out = tmp_path / "Sweep.PDF"
    save_figure(small_figure, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")


def test_a_failed_save_leaves_the_old_file_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sweep.png"
    out.write_bytes(b"old plot")

    def broken_savefig(fh: Any, **kwargs: Any) -> None:
        fh.write(b"half a png")
        raise OSError("disk full")

    figure = build_figure(tutorial_data(n=20))
    monkeypatch.setattr(figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        save_figure(figure, out)
    assert out.read_bytes() == b"old plot"
    assert os.listdir(tmp_path) == ["sweep.png"]


def test_saved_file_gets_the_usual_permissions(small_figure: Any, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        save_figure(small_figure, tmp_path / "new.png")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.png").stat().st_mode) == 0o644


def test_save_rejects_an_unsupported_extension(small_figure: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.jpg"):
        save_figure(small_figure, tmp_path / "x.jpg")
    assert os.listdir(tmp_path) == []


# --- validate_plot_path -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.png", "b.svg", "c.pdf", "D.PNG"])
def test_validate_accepts_supported_paths_and_leaves_nothing(tmp_path: Path,
                                                             name: str) -> None:
    validate_plot_path(tmp_path / name)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["a.jpg", "b.txt", "noextension"])
def test_validate_rejects_unsupported_extensions(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.pdf"):
        validate_plot_path(tmp_path / name)


def test_validate_rejects_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        validate_plot_path(tmp_path / "nope" / "a.png")


def test_validate_rejects_a_directory(tmp_path: Path) -> None:
    (tmp_path / "plots.png").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        validate_plot_path(tmp_path / "plots.png")


def test_validate_rejects_an_unwritable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("permissions do not bind this user (root)")
        with pytest.raises(ValueError, match="not writable"):
            validate_plot_path(folder / "a.png")
    finally:
        folder.chmod(0o700)


def test_validate_reports_a_folder_where_no_file_can_be_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a read-only mount looks like, even to root."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ValueError, match=r"not writable.*Read-only file system"):
        validate_plot_path(tmp_path / "a.png")


def test_validate_imports_no_matplotlib(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from autograd_cli.report.plot_files import validate_plot_path\n"
        f"validate_plot_path({str(tmp_path / 'a.png')!r})\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert done.returncode == 0, done.stderr


def test_many_series_put_the_legends_beside_the_panels() -> None:
    """Past LEGEND_INSIDE series (backends x modes x dtypes) the legends move right of
    the panels, which they no longer cover; a few series keep them inside."""
    from dataclasses import replace

    from autograd_cli.report.figure import LEGEND_INSIDE

    data = tutorial_data(n=300)
    many = [replace(s, backend=f"{s.backend}{k}", label=f"{s.label} #{k}")
            for k in range(LEGEND_INSIDE) for s in data.series]
    for series, outside in ((data.series, False), (many, True)):
        fig = build_figure(replace(data, series=series))
        fig.canvas.draw()
        for ax in fig.axes[:2]:
            legend = ax.get_legend()
            assert legend is not None
            box = legend.get_window_extent()
            panel = ax.get_window_extent()
            assert bool(box.x0 >= panel.x1) is outside
            assert len(legend.get_texts()) >= len(series)
