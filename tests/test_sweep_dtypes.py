"""Sweeps in several dtypes (--dtype float32,float64 --range ...), the device of each
row, per-point labels (CSV ``label``, ``--arrays`` ``labels``) and the marks a figure
draws for undefined, overflowing and underflowing points."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograd_cli.backends.base import Backend, Evaluation
from autograd_cli.comparison import sweep
from autograd_cli.comparison.verdicts import tolerance_for
from autograd_cli.core.statuses import OVERFLOW, UNDEFINED, UNDERFLOW
from autograd_cli.expr.nodes import Expr
from autograd_cli.report import plot_sink
from autograd_cli.report.common import EXIT_BACKEND_FAILED, EXIT_MISMATCH, EXIT_OK
from autograd_cli.report.figure import build_figure

TUTORIAL = "2*x**3+4*x**2+5*x+6"
BOTH = "float32,float64"


class Square(Backend):
    """f = x**2 whatever the expression, f' = 2x, in the dtype asked (numpy only: a
    sweep about dtypes need not wait for a framework)."""

    name = "square"
    method = "numpy"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        x = np.asarray(inputs["x"], dtype=dtype)
        return Evaluation(x * x, {"x": 2 * x}, self.method, dtype)


class OffInFloat64(Square):
    """Right for x**2 in every dtype but float64, where it is 1e-6 too large."""

    name = "off64"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        found = super().evaluate(expr, inputs, wrt, dtype)
        if dtype == "float64":
            found.derivatives["x"] = found.derivatives["x"] * (1 + 1e-6)
        return found


class FailsInFloat64(Square):
    """Right for x**2 in every dtype but float64, where it raises."""

    name = "fails64"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        if dtype == "float64":
            raise RuntimeError("no float64 today")
        return super().evaluate(expr, inputs, wrt, dtype)


HERE = "tests.test_sweep_dtypes"  # as the workers import it (the command's PYTHONPATH)
PLUGINS = {"GRADCHECK_PLUGINS": f"off64={HERE}:OffInFloat64,fails64={HERE}:FailsInFloat64,"
                                f"square={HERE}:Square"}


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --------------------------------------------------------------------------- dtype lists


def test_table_has_a_section_per_dtype_and_one_verdict(gradcheck) -> None:
    done = gradcheck(TUTORIAL, "--range", "-4", "4", "--num", "201", "--dtype", BOTH,
                     "--backends", "analytic,torch")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[2] == "x from -4.0 to 4.0: 201 points (both ends, float32, float64)"
    header = next(i for i, line in enumerate(lines) if line.startswith("dtype"))
    body = [line for line in lines[header + 2:] if "│" in line or "┼" in line]
    cells = [line.split("│")[:2] for line in body if "│" in line]
    assert [(d.strip(), b.strip()) for d, b in cells if b.strip()] == [
        ("float32", "analytic"), ("float32", "torch"), ("float64", "analytic"),
        ("float64", "torch")]
    separator = next(i for i, line in enumerate(body) if "┼" in line)  # between sections
    assert "float32" in body[separator - 1] and "float64" in body[separator + 1]
    verdict = "\n".join(lines[lines.index("", header) + 1:])
    assert verdict.startswith("OK: all 2 backends agree with the exact derivative at all 201 "
                              "points in each of 2 dtypes")
    assert "float32: noise floor + 2 ULPs; float64: noise floor + 2 ULPs" in \
        verdict.replace("\n", " ")


def test_json_of_several_dtypes_and_of_one(gradcheck) -> None:
    done = gradcheck(TUTORIAL, "--range", "-1", "1", "--num", "11", "--dtype", BOTH,
                     "--backends", "analytic,torch", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["schema_version"] == 2 and data["kind"] == "sweep" and data["ok"]
    assert data["dtype"] is None and data["tolerance"] is None and data["reference"] is None
    assert data["dtypes"] == ["float32", "float64"]
    assert data["tolerances"] == {
        "float32": {"rtol": 0.0, "atol": 0.0, "max_ulps": 2.0, "noise_floor": True},
        "float64": {"rtol": 0.0, "atol": 0.0, "max_ulps": 2.0, "noise_floor": True}}
    assert {d: r["bits"] for d, r in data["references"].items()} == {"float32": 48,
                                                                     "float64": 58}
    assert [(r["dtype"], r["backend"], r["device"], r["points"]) for r in data["results"]] == [
        ("float32", "analytic", "cpu", 11), ("float32", "torch", "cpu", 11),
        ("float64", "analytic", "cpu", 11), ("float64", "torch", "cpu", 11)]
    assert data["device"] == "cpu" and data["points"] == 11

    one = json.loads(gradcheck(TUTORIAL, "--range", "-1", "1", "--num", "11", "--backends",
                               "analytic", "--format", "json").stdout)
    assert one["dtype"] == "float32" and one["dtypes"] == ["float32"]
    assert one["tolerance"] == {"rtol": 0.0, "atol": 0.0, "max_ulps": 2.0, "noise_floor": True}
    assert one["reference"]["bits"] == 48 and one["references"] == {"float32": one["reference"]}
    assert one["results"][0]["device"] == "cpu" and one["device"] == "cpu"


def test_csv_is_one_block_per_dtype_with_a_dtype_column(gradcheck, tmp_path: Path) -> None:
    target = tmp_path / "both.csv"
    done = gradcheck(TUTORIAL, "--range", "-1", "1", "--num", "5", "--dtype", BOTH,
                     "--backends", "analytic,torch", "--format", "csv", "-o", str(target))
    assert done.returncode == 0, done.stderr
    text = target.read_text()
    assert text.count("\nx,") == 0 and text.startswith("dtype,x,f,exact,noise_floor,analytic,")
    rows = csv_rows(text)
    assert list(rows[0])[-1] == "label"
    assert [r["dtype"] for r in rows] == ["float32"] * 5 + ["float64"] * 5
    assert [r["x"] for r in rows[:5]] == [r["x"] for r in rows[5:]] == [
        "-1.0", "-0.5", "0.0", "0.5", "1.0"]
    assert all(float(r["torch"]) == float(r["exact"]) for r in rows)


def test_arrays_are_kept_per_dtype(gradcheck) -> None:
    done = gradcheck("exp(1000*x)", "--range", "0", "1", "--num", "5", "--dtype", BOTH,
                     "--backends", "analytic", "--format", "json", "--arrays")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data["arrays"]) == ["float32", "float64"]
    # 1000*exp(250) is beyond float32's range, not float64's; 1000*exp(750) beyond both
    assert data["arrays"]["float32"]["labels"] == [None] + ["overflow"] * 4
    assert data["arrays"]["float64"]["labels"] == [None, None, None, "overflow", "overflow"]
    derivative = data["arrays"]["float32"]["backends"]["analytic"]["derivative"]
    assert derivative == [1000.0, "inf", "inf", "inf", "inf"]
    assert [r["overflow"] for r in data["results"]] == [4, 2]
    assert data["ok"] and "4 overflow points in float32, 2 overflow points in float64" in \
        data["verdict"]


def test_exit_code_is_the_worst_over_the_dtypes(gradcheck) -> None:
    ok = gradcheck("x**2", "--range", "0", "1", "--num", "5", "--dtype", BOTH, "--backends",
                   "analytic,square", env=PLUGINS)
    assert ok.returncode == EXIT_OK, ok.stderr
    off = gradcheck("x**2", "--range", "0", "1", "--num", "5", "--dtype", BOTH, "--backends",
                    "analytic,off64", "--format", "json", env=PLUGINS)
    assert off.returncode == EXIT_MISMATCH, off.stderr
    data = json.loads(off.stdout)
    assert [(r["dtype"], r["status"]) for r in data["results"]] == [
        ("float32", "ok"), ("float32", "ok"), ("float64", "ok"), ("float64", "wrong")]
    assert data["exit_code"] == 1 and "off64 float64 wrong at 4 of 5 points" in \
        data["verdict"]
    assert "float32: noise" not in data["verdict"]  # only the failing dtype's rule
    failed = gradcheck("x**2", "--range", "0", "1", "--num", "5", "--dtype", BOTH,
                       "--backends", "analytic,off64,fails64", env=PLUGINS)
    assert failed.returncode == EXIT_BACKEND_FAILED, failed.stderr
    assert "FAIL: could not run: fails64 float64; off64 float64 wrong at 4 of 5" in \
        failed.stdout.replace("\n", " ")


def test_one_pool_serves_every_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each framework's worker starts once for all dtypes, not once per dtype."""
    from autograd_cli.execution import runner

    pools: list[Any] = []
    real = runner.Pool

    class Counted(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(runner, "Pool", Counted)
    plans = [sweep.build_sweep(TUTORIAL, ("-1", "1"), num="5", dtype=d,
                               backends=("analytic", "torch"))[0] for d in ("float32", "float64")]
    report = sweep.run_sweeps(plans, [tolerance_for(d) for d in ("float32", "float64")])
    assert report.ok and report.dtypes == ["float32", "float64"]
    assert len(pools) == 1 and pools[0].spawns == {"torch": 1}


def test_plot_of_several_dtypes(gradcheck, tmp_path: Path) -> None:
    target = tmp_path / "both.png"
    done = gradcheck(TUTORIAL, "--range", "-4", "4", "--step", "0.01", "--dtype", BOTH,
                     "--backends", "analytic,torch", "--plot", str(target))
    assert done.returncode == 0, done.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    dtypes = ("float32", "float64")
    plans = [sweep.build_sweep(TUTORIAL, ("-4", "4"), step="0.01", dtype=d,
                               backends=("analytic", "torch"))[0] for d in dtypes]
    figure = sweep.PlotSink(plans[0].size, plans[0].backends, dtypes=2)
    report = sweep.run_sweeps(plans, [tolerance_for(d) for d in dtypes], sinks=[figure])
    data = figure.figure_data(report)
    assert [(s.backend, s.dtype) for s in data.series] == [
        ("analytic", "float32"), ("analytic", "float64"), ("torch", "float32"),
        ("torch", "float64")]
    assert data.dtype == "float64"  # the figure's x and exact curve: the finer dtype's
    x32 = data.series[0].x  # each series at its own dtype's points
    assert x32 is not None and np.array_equal(x32, x32.astype(np.float32))
    assert data.x[1] == -3.99 != x32[1] == np.float32(-3.99)
    fig = build_figure(data)
    top, bottom = fig.axes[:2]
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert {"torch float32", "torch float64", "analytic float32", "analytic float64"} <= \
        set(legend)
    lines = {line.get_gid(): line for line in top.get_lines()}
    f32, f64 = lines["derivative:torch float32"], lines["derivative:torch float64"]
    assert f32.get_color() == f64.get_color() and f32.get_linestyle() != f64.get_linestyle()
    assert "ULPs of each series' own dtype" in bottom.get_ylabel()
    ulp_legend = [t.get_text() for t in bottom.get_legend().get_texts()]
    assert any(t.startswith("torch float64: max") for t in ulp_legend)
    assert "float32, float64" in top.get_title()


# --------------------------------------------------------------------------- devices


def test_sweep_rows_say_where_they_computed(gradcheck) -> None:
    done = gradcheck("sin(x)", "--range", "0", "1", "--num", "5", "--device", "cuda",
                     "--backends", "analytic,torch", "--format", "json")
    data = json.loads(done.stdout)
    assert data["device"] == "cuda"
    rows = {r["backend"]: r for r in data["results"]}
    assert rows["analytic"]["device"] == "cpu" and rows["analytic"]["status"] == "ok"
    assert rows["torch"]["device"] == "cuda"
    if rows["torch"]["status"] != "ok":  # no GPU here: its row says why, exit 3
        assert rows["torch"]["status"] == "unavailable" and "cuda" in rows["torch"]["reason"]
        assert done.returncode == EXIT_BACKEND_FAILED
    table = gradcheck("sin(x)", "--range", "0", "1", "--num", "5", "--device", "cuda",
                      "--backends", "analytic", "--format", "markdown")
    assert table.returncode == 0, table.stderr
    assert "(both ends, float32, cuda)" in table.stdout
    assert "| backend | method | version | device |" in table.stdout
    assert "| analytic | sympy.diff + double-double | " in table.stdout
    assert "| cpu |" in table.stdout


# --------------------------------------------------------------------------- labels


def test_csv_label_column_marks_the_pole(gradcheck) -> None:
    done = gradcheck("1/x", "--range", "-1", "1", "--num", "5", "--backends", "analytic",
                     "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert [r["label"] for r in csv_rows(done.stdout)] == ["", "", "undefined", "", ""]
    arrays = json.loads(gradcheck("1/x", "--range", "-1", "1", "--num", "5", "--backends",
                                  "analytic", "--format", "json", "--arrays").stdout)
    assert arrays["arrays"]["labels"] == [None, None, "undefined", None, None]


def test_csv_label_column_marks_overflow_and_underflow(gradcheck) -> None:
    done = gradcheck("exp(1000*x)", "--range", "0", "1", "--num", "5", "--backends",
                     "analytic,torch", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = csv_rows(done.stdout)
    assert [r["label"] for r in rows] == ["", "overflow", "overflow", "overflow", "overflow"]
    assert [r["torch"] for r in rows][1:] == ["inf"] * 4
    # exp(-110*x) rounds to 0 in float32 from x = 0.945 on (below 2**-150), and log(0)
    # makes f' NaN; before that, exp(-99) is a subnormal whose 1/u overflows
    under = gradcheck("log(exp(-110*x))", "--range", "0.9", "1", "--num", "5",
                      "--backends", "analytic,torch", "--format", "csv")
    labels = [r["label"] for r in csv_rows(under.stdout)]
    assert labels == ["overflow", "overflow", "underflow", "underflow", "underflow"]
    assert "warning: underflow at some points (torch 3)" in under.stderr


def test_labels_in_the_sinks_across_chunks() -> None:
    plan, _ = sweep.build_sweep("exp(1000*x) + 1/x", ("-1", "1"), num="41",
                                backends=("analytic",))
    kept = sweep.ArraySink(plan.size, plan.backends)
    stream = io.StringIO()
    report = sweep.run_sweep(plan, tolerance_for("float32"), isolate=False, chunk=7,
                             sinks=[kept, sweep.CsvSink(stream, "x", plan.backends)])
    labels = sweep.label_texts(kept.labels, "")
    assert labels[20] == UNDEFINED  # x = 0
    overflowing = [i for i, label in enumerate(labels) if label == OVERFLOW]
    assert overflowing == list(range(22, 41))  # from x = 0.1: 1000*exp(100) > 3.4e38
    assert report.rows[0].overflow == 19 and report.rows[0].undefined == 1
    assert [r["label"] for r in csv_rows(stream.getvalue())] == labels


# --------------------------------------------------------------------------- plot marks


def overflow_figure(num: str) -> Any:
    plan, _ = sweep.build_sweep("exp(1000*x) + 1/x", ("-1", "1"), num=num,
                                backends=("analytic", "torch"))
    figure = sweep.PlotSink(plan.size, sweep.series_names(plan.backends, plan.mode))
    report = sweep.run_sweep(plan, tolerance_for("float32"), sinks=[figure], chunk=1000)
    return report, figure.figure_data(report)


def test_figure_marks_overflow_runs_and_counts_them() -> None:
    report, data = overflow_figure("201")
    torch = report.rows[1]
    assert torch.overflow == 92  # x from 0.09 (1000*exp(90) > float32's max) to 1
    marks = [(m.status, m.start, m.stop, m.points) for m in data.special]
    assert marks == [(UNDEFINED, 0.0, 0.0, 1), (OVERFLOW, pytest.approx(0.09), 1.0, 92)]
    torch_ulps = data.series[1].ulp_error  # not judged: no error drawn, the band says why
    assert np.isnan(torch_ulps[-92:]).all() and np.isfinite(torch_ulps[:100]).all()
    fig = build_figure(data)
    top, bottom = fig.axes[:2]
    bands = [p for p in top.patches if p.get_gid() == f"special:{OVERFLOW}"]
    assert len(bands) == 1 and bands[0].get_hatch()
    assert bands[0].get_x() == pytest.approx(0.09)
    assert bands[0].get_x() + bands[0].get_width() == 1
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert "overflow: 92 points (not judged)" in legend
    assert "undefined: 1 point (not judged)" in legend
    assert not [line for line in bottom.get_lines() if line.get_gid() == "nonfinite:torch"]


def test_binned_figure_keeps_a_single_special_point_a_single_x(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond PLOT_FULL each mark spans the labelled points of its bins, not the bins:
    the pole at 0 stays one line, and every overflowing point is counted."""
    monkeypatch.setattr(plot_sink, "PLOT_FULL", 1000)
    monkeypatch.setattr(plot_sink, "PLOT_BINS", 300)
    report, data = overflow_figure("4001")
    assert data.x.shape == (600,)
    marks = [(m.status, m.start, m.stop, m.points) for m in data.special]
    assert marks[0] == (UNDEFINED, 0.0, 0.0, 1)
    assert marks[1][0] == OVERFLOW and marks[1][2] == 1.0
    assert marks[1][3] == report.rows[1].overflow == 1837  # x from 0.082 to 1
    assert marks[1][1] == pytest.approx(0.082)  # the first overflowing x, not its bin's
    fig = build_figure(data)
    lines = [a for a in fig.axes[0].get_lines() if a.get_gid() == f"special:{UNDEFINED}"]
    assert [float(line.get_xdata()[0]) for line in lines] == [0.0]


def test_underflow_marks_are_their_own() -> None:
    plan, _ = sweep.build_sweep("log(exp(-110*x))", ("0.95", "1"), num="5",
                                backends=("analytic", "torch"))
    figure = sweep.PlotSink(plan.size, plan.backends)
    report = sweep.run_sweep(plan, tolerance_for("float32"), isolate=False, sinks=[figure])
    data = figure.figure_data(report)
    statuses = {m.status for m in data.special}
    assert statuses == {UNDERFLOW} and sum(m.points for m in data.special) == \
        report.rows[1].underflow == 5
    legend = [t.get_text() for t in build_figure(data).axes[0].get_legend().get_texts()]
    assert any(t.startswith("underflow: ") for t in legend)


def test_marks_of_several_dtypes_name_theirs_and_share_the_same() -> None:
    dtypes = ("float32", "float64")
    plans = [sweep.build_sweep("exp(1000*x) + 1/x", ("-1", "1"), num="9", dtype=d)[0]
             for d in dtypes]
    figure = sweep.PlotSink(plans[0].size, plans[0].backends, dtypes=2)
    report = sweep.run_sweeps(plans, [tolerance_for(d) for d in dtypes], sinks=[figure])
    data = figure.figure_data(report)
    # x = 0 is a pole in both (one mark for all); 1000*exp(250) overflows float32 only
    assert [(m.status, m.start, m.stop, m.points, m.dtype) for m in data.special] == [
        (UNDEFINED, 0.0, 0.0, 1, None), (OVERFLOW, 0.25, 1.0, 4, "float32"),
        (OVERFLOW, 0.75, 1.0, 2, "float64")]
    legend = [t.get_text() for t in build_figure(data).axes[0].get_legend().get_texts()]
    assert "undefined: 1 point (not judged)" in legend
    assert "overflow (float32): 4 points (not judged)" in legend
    assert "overflow (float64): 2 points (not judged)" in legend


def test_suite_figure_marks_overflow(tmp_path: Path) -> None:
    from autograd_cli.comparison.points import run_check

    request = sweep.build_sweep_request("exp(1000*x)", "0", "1", num=5,
                                        backends=("analytic", "torch"))
    report = run_check(request, tolerance_for("float32"))
    assert [row.status for row in report.rows if row.backend == "torch"] == [
        "ok", OVERFLOW, OVERFLOW, OVERFLOW, OVERFLOW]
    target = tmp_path / "suite.svg"
    sweep.save_plot(request, report, target)
    text = target.read_text()
    assert 'id="special:overflow' in text and "overflow: 4 points" in text
