"""Sweeps (--range): points, chunked runs and their summaries, outputs, refusals."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograd_cli import backends as registry
from autograd_cli.backends.base import Backend, Evaluation
from autograd_cli.comparison import sweep
from autograd_cli.comparison.verdicts import tolerance_for
from autograd_cli.expr.nodes import Expr
from autograd_cli.inputs import InputError
from autograd_cli.report import plot_sink, sinks

TUTORIAL = "2*x**3+4*x**2+5*x+6"
SPIKE_AT = 1.5


class Spike(Backend):
    """The tutorial's derivative computed right (float64, then rounded), except 100
    ULPs off at x = 1.5: a backend whose worst point is known."""

    name: ClassVar[str] = "spike"
    method: ClassVar[str] = "numpy, one bad point"

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        x = np.asarray(inputs["x"], dtype=np.float64)
        d = (6 * x**2 + 8 * x + 5).astype(dtype)
        bad = x == SPIKE_AT
        d[bad] += 100 * np.spacing(d[bad])
        return Evaluation((2 * x**3 + 4 * x**2 + 5 * x + 6).astype(dtype), {"x": d},
                          self.method, dtype)


@pytest.fixture
def spike(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(registry.REGISTRY, "spike", f"{__name__}:Spike")
    return "spike"


# --------------------------------------------------------------------------- points


def test_num_gives_both_ends_like_linspace() -> None:
    grid = sweep.parse_range("-4", "4", num="1001")
    x = grid.points(0, grid.num)
    assert grid.num == 1001 and grid.endpoint
    assert x[0] == -4.0 and x[-1] == 4.0
    assert np.max(np.abs(x - np.linspace(-4, 4, 1001))) <= np.spacing(4.0)
    assert x[500] == 0.0 and x[1] == -3.992


def test_step_is_the_tutorials_arange_end_excluded() -> None:
    grid = sweep.parse_range("-4", "4", step="0.001")
    x = grid.points(0, grid.num)
    assert grid.num == 8000 == len(np.arange(-4, 4, 0.001))
    assert x[0] == -4.0 and x[-1] == 3.999 and not grid.endpoint


def test_points_are_the_typed_decimals_rounded_once() -> None:
    grid = sweep.parse_range("0", "1", step="0.1")
    x = grid.points(0, grid.num)
    assert grid.num == 10  # not 11: 1.0 is excluded although 10 * 0.1 rounds below it
    assert x.tolist() == [i / 10 for i in range(10)]  # 0.3, not 0.1 + 0.1 + 0.1
    assert len(np.arange(1, 1.3, 0.1)) == 4  # numpy's arange would include the end here
    assert sweep.parse_range("1", "1.3", step="0.1").num == 3


def test_chunks_join_up_exactly() -> None:
    grid = sweep.parse_range("-1.5", "2", num="100001")
    whole = grid.points(0, grid.num)
    pieces = np.concatenate([grid.points(lo, min(lo + 30_000, grid.num))
                             for lo in range(0, grid.num, 30_000)])
    assert np.array_equal(whole, pieces)
    exact = [Fraction(-3, 2) + Fraction(7, 2) * i / 100_000 for i in (1, 33_333, 99_999)]
    assert [whole[i] for i in (1, 33_333, 99_999)] == [float(v) for v in exact]


def test_default_and_large_counts() -> None:
    assert sweep.parse_range("0", "1").num == sweep.DEFAULT_NUM
    assert sweep.parse_range("0", "1", num="1e6").num == 10**6
    assert sweep.parse_range("0", "1", num="1_000").num == 1000


@pytest.mark.parametrize(("args", "message"), [
    (("1", "1", None, None), "empty"),
    (("4", "-4", None, None), "--range -4 4"),
    (("0", "1", None, "0"), "positive"),
    (("0", "1", None, "-0.1"), "positive"),
    (("0", "1", "5", "0.1"), "not both"),
    (("0", "1", "1", None), "at least 2"),
    (("0", "1", "2.5", None), "whole number"),
    (("0", "1", "1e12", None), "too many"),
    (("0", "1", None, "1e-12"), "too many"),
    (("0", "1", None, "2"), "at least 2"),
    (("0", "inf", None, None), "finite"),
    (("zero", "1", None, None), "not a number"),
])
def test_bad_ranges_are_refused(args: tuple[str, str, str | None, str | None],
                                message: str) -> None:
    start, stop, num, step = args
    with pytest.raises(InputError, match=message):
        sweep.parse_range(start, stop, num=num, step=step)


def test_several_variables_need_the_swept_one_and_the_others_fixed() -> None:
    request, notes = sweep.build_sweep("x*y + sin(x*y)", ("0", "2"), num="11", at=["y=2"],
                                       wrt=["x"])
    assert request.swept == "x" and request.fixed == {"y": 2.0} and notes == []
    chunk = request.request(0, 11)
    assert chunk.wrt == ("x",) and chunk.points["y"].tolist() == [2.0] * 11
    for at, wrt, message in (
        ([], [], "--wrt x --at y=1"),
        ([], ["x"], "add --at y=1"),
        (["x=1,y=2"], ["x"], "swept"),
        (["2"], ["x"], "NAME=VALUE"),
        (["z=1"], ["x"], "unknown variable"),
        (["y=2"], ["x", "y"], "one variable"),
    ):
        with pytest.raises(InputError, match=message):
            sweep.build_sweep("x*y + sin(x*y)", ("0", "2"), num="11", at=at, wrt=wrt)


def test_points_closer_than_the_dtype_can_tell_are_noted() -> None:
    _, notes = sweep.build_sweep("x**2", ("1000", "1000.001"), num="1000")
    assert notes and "repeat" in notes[0]
    with pytest.raises(InputError, match="beyond float32"):
        sweep.build_sweep("x**2", ("0", "1e39"), num="3")


# --------------------------------------------------------------------------- summaries


def test_known_worst_point_across_chunks(spike: str) -> None:
    request, _ = sweep.build_sweep(TUTORIAL, ("-4", "4"), step="0.001",
                                   backends=("analytic", spike))
    kept = sweep.ArraySink(request.size, request.backends)
    report = sweep.run_sweep(request, tolerance_for("float32"), isolate=False, sinks=[kept],
                             chunk=3000)
    analytic, bad = report.rows
    assert analytic.status == "ok" and analytic.points == 8000
    assert 0.49 < analytic.max_ulp_error <= 0.5 and 0.2 < analytic.mean_ulp_error < 0.3
    assert bad.status == "inaccurate" and bad.points == 8000 and bad.mismatches == 1
    assert (bad.inaccurate, bad.wrong) == (1, 0)  # 100 ULPs: beyond rounding, bits kept
    assert bad.worst_at == SPIKE_AT == bad.max_abs_at  # in the second of three chunks
    assert 99.5 < bad.max_ulp_error < 100.5
    assert report.exit_code == 0  # inaccurate fails with --strict or a tolerance given
    assert ("inaccurate (fails with --strict): spike at 1 of 8,000 points (up to 100 ULPs)"
            in report.verdict())
    strict = sweep.run_sweep(request, tolerance_for("float32", max_ulps=4), isolate=False)
    assert strict.exit_code == 1
    assert "spike inaccurate at 1 of 8,000 points, worst at x = 1.5" in strict.verdict()
    spike_ulps = kept.columns["spike"]["ulp_error"]
    assert int(np.argmax(spike_ulps)) == 5500 and kept.x[5500] == SPIKE_AT
    assert np.count_nonzero(spike_ulps > 1) == 1


def test_nan_counts_and_analytic_only_sweep() -> None:
    request, _ = sweep.build_sweep("sqrt(x)", ("-1", "1"), num="201")
    report = sweep.run_sweep(request, tolerance_for("float32"))
    (row,) = report.rows
    assert row.nonfinite == 101  # x < 0 and sqrt'(0): NaN, as the exact reference says
    assert row.status == "ok" and report.ok and report.exit_code == 0
    assert report.to_dict()["results"][0]["nonfinite"] == 101


def test_plot_data_keeps_spikes_when_decimated(spike: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plot_sink, "PLOT_FULL", 1000)
    request, _ = sweep.build_sweep(TUTORIAL, ("-4", "4"), step="0.001",
                                   backends=("analytic", spike))
    figure = sweep.PlotSink(request.size, request.backends)
    report = sweep.run_sweep(request, tolerance_for("float32"), isolate=False, sinks=[figure],
                             chunk=3000)
    data = figure.figure_data(report)
    assert data.x.shape == (2 * plot_sink.PLOT_BINS,)
    assert [s.backend for s in data.series] == ["analytic", "spike"]
    ulps = data.series[1].ulp_error
    assert np.nanmax(ulps) > 99 and np.count_nonzero(ulps > 1) == 1
    assert data.x[0] < -3.99 and data.x[-1] > 3.99 and np.all(np.diff(data.x) >= 0)
    assert data.notes and "8,000 points" in data.notes[0]


def test_csv_sink_streams_every_chunk(spike: str) -> None:
    request, _ = sweep.build_sweep(TUTORIAL, ("0", "1"), num="25", backends=("analytic", spike))
    stream = io.StringIO()
    sweep.run_sweep(request, tolerance_for("float32"), isolate=False, values=True, chunk=10,
                    sinks=[sweep.CsvSink(stream, "x", request.backends)])
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert len(rows) == 25
    assert rows[0]["x"] == "0.0" and rows[-1]["x"] == "1.0" and rows[6]["x"] == "0.25"
    assert float(rows[6]["f"]) == 2 / 64 + 4 / 16 + 5 / 4 + 6
    assert float(rows[6]["exact"]) == 6 / 16 + 8 / 4 + 5 == float(rows[6]["spike"])


class FailsLater(Spike):
    """Right on the first chunk, then raises: its row keeps what it did and says why."""

    name: ClassVar[str] = "fails_later"
    calls: ClassVar[int] = 0

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        FailsLater.calls += 1
        if FailsLater.calls > 1:
            raise RuntimeError("out of luck")
        return super().evaluate(expr, inputs, wrt, dtype)


def test_a_backend_failing_midway_is_a_row_and_exit_code_3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(registry.REGISTRY, "fails_later", f"{__name__}:FailsLater")
    monkeypatch.setattr(FailsLater, "calls", 0)
    request, _ = sweep.build_sweep(TUTORIAL, ("0", "1"), num="100",
                                   backends=("analytic", "fails_later"))
    report = sweep.run_sweep(request, tolerance_for("float32"), isolate=False, chunk=40)
    analytic, failed = report.rows
    assert analytic.points == 100 and analytic.status == "ok"
    assert failed.status == "error" and failed.points == 40 and "out of luck" in failed.reason
    assert FailsLater.calls == 2  # not asked again after it failed
    assert report.exit_code == 3 and report.verdict().startswith("FAIL: could not run")


def test_arrays_are_refused_when_they_would_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sinks, "available_memory", lambda: 2**30)
    sweep.check_arrays_fit(10**6, 3)  # 97 MB of 1 GiB
    with pytest.raises(InputError, match=r"--arrays: 100,000,000 points need about 9\.0 GiB"):
        sweep.check_arrays_fit(10**8, 3)
    sweep.check_arrays_fit(2 * 10**6, 3)
    with pytest.raises(InputError, match=r"2,000,000 points in each of 4 dtypes need about 0\.7"):
        sweep.check_arrays_fit(2 * 10**6, 3, dtypes=4)  # each dtype keeps its own arrays


def test_suite_helpers_build_a_point_request_and_plot_it(tmp_path: Path) -> None:
    from autograd_cli.comparison.points import run_check

    request = sweep.build_sweep_request(TUTORIAL, "-4", "4", num=9)
    assert request.size == 9 and request.points["x"].tolist() == list(range(-4, 5))
    report = run_check(request, tolerance_for("float32"))
    target = tmp_path / "suite.svg"
    sweep.save_plot(request, report, target)
    assert target.read_text().lstrip().startswith("<?xml")


# --------------------------------------------------------------------------- command


def test_tutorial_sweep_every_backend_matches_at_every_point(gradcheck) -> None:
    result = gradcheck(TUTORIAL, "--range", "-4", "4", "--step", "0.001", "--format", "json",
                       "--arrays", "--backends", "analytic,torch,tensorflow")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    data = json.loads(result.stdout)
    assert data["kind"] == "sweep" and data["ok"] is True and data["points"] == 8000
    assert data["range"] == {"start": -4.0, "stop": 4.0, "num": 8000, "step": 0.001,
                             "endpoint": False}
    assert data["derivative_expression"] == "6*x**2 + 8*x + 5"
    assert [r["backend"] for r in data["results"]] == ["analytic", "torch", "tensorflow"]
    for row in data["results"]:
        assert row["status"] == "ok" and row["points"] == 8000 and row["mismatches"] == 0
        assert row["nonfinite"] == 0 and 0 < row["max_ulp_error"] < 11
        assert -4 <= row["worst_at"] < 4 and row["max_abs_error"] < 1e-4
    arrays = data["arrays"]
    x, exact = np.array(arrays["x"]), np.array(arrays["exact"])
    assert len(x) == 8000 and x[0] == -4.0 and x[-1] == np.float32(3.999)
    assert np.allclose(exact, 6 * x**2 + 8 * x + 5, rtol=1e-14)
    for name in ("torch", "tensorflow"):
        derivative = np.array(arrays["backends"][name]["derivative"])
        assert np.all(np.abs(derivative - exact) <= 1e-5 + 1.3e-6 * np.abs(exact))
        assert np.max(arrays["backends"][name]["ulp_error"]) == next(
            r["max_ulp_error"] for r in data["results"] if r["backend"] == name)


def test_table_and_csv_shapes(gradcheck, tmp_path: Path) -> None:
    table = gradcheck(TUTORIAL, "--range", "-4", "4", "--num", "101", "--backends", "analytic")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[2] == "x from -4.0 to 4.0: 101 points (both ends, float32)"
    header = next(line for line in lines if line.startswith("backend"))
    for column in ("points", "max abs err", "max rel err", "max ULP err", "worst at",
                   "mean ULP", "NaN/inf", "verdict"):
        assert column in header
    assert lines[-1].startswith("OK: all 1 backends agree") and "101 points" in lines[-1]

    target = tmp_path / "sweep.csv"
    result = gradcheck(TUTORIAL, "--range", "-1", "1", "--num", "5", "--backends",
                       "analytic,torch", "--format", "csv", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert list(rows[0]) == ["x", "f", "exact", "noise_floor", "analytic",
                             "analytic_abs_error", "analytic_ulp_error", "analytic_tier",
                             "torch", "torch_abs_error", "torch_ulp_error", "torch_tier",
                             "label"]
    assert [r["torch_tier"] for r in rows] == ["ok"] * 5
    assert all(0 < float(r["noise_floor"]) < 1e-4 for r in rows)
    assert [r["x"] for r in rows] == ["-1.0", "-0.5", "0.0", "0.5", "1.0"]
    assert [r["label"] for r in rows] == [""] * 5
    assert [float(r["exact"]) for r in rows] == [3.0, 2.5, 5.0, 10.5, 19.0]
    assert [float(r["f"]) for r in rows] == [3.0, 4.25, 6.0, 9.75, 17.0]
    assert all(float(r["torch_ulp_error"]) == 0 for r in rows)


def test_markdown_summary(gradcheck) -> None:
    result = gradcheck("abs(x)", "--range", "-1", "1", "--num", "3", "--backends", "analytic",
                       "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert "| analytic |" in result.stdout and "**OK:" in result.stdout


def test_several_variables_from_the_command_line(gradcheck) -> None:
    result = gradcheck("x*y + sin(x*y)", "--range", "0", "2", "--num", "201", "--at", "y=2",
                       "--wrt", "x", "--dtype", "float64", "--backends", "analytic,torch",
                       "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["swept"] == "x" and data["fixed"] == {"y": 2.0}
    assert data["derivative_expression"] == "y*cos(x*y) + y"
    torch = data["results"][1]
    assert torch["status"] == "ok" and torch["points"] == 201 and torch["mismatches"] == 0
    assert torch["max_abs_error"] < 1e-14


def test_plot_file_is_written(gradcheck, tmp_path: Path) -> None:
    target = tmp_path / "tutorial.svg"
    result = gradcheck(TUTORIAL, "--range", "-4", "4", "--num", "801", "--backends",
                       "analytic", "--plot", str(target))
    assert result.returncode == 0, result.stderr
    assert "<svg" in target.read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--range", "1", "1"], "empty"),
    (["--range", "4", "-4"], "sweeps go upward"),
    (["--range", "0", "1", "--step", "0"], "must be positive"),
    (["--range", "0", "1", "--step", "-0.5"], "must be positive"),
    (["--range", "0", "1", "--num", "1e15"], "too many"),
    (["--range", "0", "1", "--plot", "out.gif"], "unsupported plot format"),
    (["--range", "0", "1", "--plot", "missing-folder/out.png"], "does not exist"),
    (["--range", "0", "1", "--arrays"], "--arrays needs --format json"),
    (["--at", "1", "--num", "5"], "--num needs --range"),
    (["--at", "1", "--plot", "a.png"], "--plot needs --range"),
    (["--range", "0", "one"], "not a number"),
])
def test_refusals_exit_2_before_any_work(gradcheck, tmp_path: Path, args: list[str],
                                         message: str) -> None:
    output = tmp_path / "out.json"
    result = gradcheck(TUTORIAL, *args, "--output", str(output), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == "" and not output.exists()
    assert list(tmp_path.iterdir()) == []


def test_unwritable_plot_folder_is_refused(gradcheck, tmp_path: Path) -> None:
    """/sys takes no new files, even from root; a locked folder covers everyone else."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        for target in (Path("/sys/gradcheck.png"), folder / "a.png"):
            if target.parent == folder and os.geteuid() == 0:
                continue  # root writes into read-only folders
            result = gradcheck(TUTORIAL, "--range", "0", "1", "--plot", str(target))
            assert result.returncode == 2 and "not writable" in result.stderr
            assert "Traceback" not in result.stderr and not target.exists()
    finally:
        folder.chmod(0o700)


def test_ten_million_points_in_bounded_memory(tmp_path: Path) -> None:
    """10**7 points, analytic only: peak RSS of the whole command, measured by a parent
    process (resource.getrusage of its children)."""
    script = textwrap.dedent(f"""
        import resource, subprocess, sys
        run = subprocess.run([{str(Path(sys.executable).parent / "gradcheck")!r}, {TUTORIAL!r},
                              "--range", "-4", "4", "--num", "1e7", "--backends", "analytic",
                              "--format", "json"], capture_output=True, text=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(run.returncode, peak, run.stdout.count('"points": 10000000'))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    code, peak_kib, found = map(int, done.stdout.split())
    assert code == 0 and found == 2, done.stderr
    assert peak_kib * 1024 < 1.5 * 2**30  # measured: about 0.25 GiB


def test_figure_title_is_typeset_from_our_tree() -> None:
    from autograd_cli.expr.parser import parse

    f_tex, d_tex = sweep.latex_of(parse("2*x**3+4*x**2+5*x+6"), "x")
    assert f_tex == "2 x^{3} + 4 x^{2} + 5 x + 6"
    assert d_tex == "6 x^{2} + 8 x + 5"


def test_finite_diff_estimate_is_reported_beside_its_error(gradcheck) -> None:
    """A sweep's finite-diff row carries its largest own error estimate and how often
    the true error exceeded it (never, for a smooth expression); the table shows it."""
    args = ["sin(x)*exp(x)", "--range", "-2", "2", "--num", "1001", "--backends",
            "analytic,finite-diff,torch"]
    done = gradcheck(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {r["backend"]: r for r in json.loads(done.stdout)["results"]}
    fd = rows["finite-diff"]
    assert 0 < fd["max_abs_error"] <= fd["max_error_estimate"] < 1e-3
    assert fd["estimate_exceeded"] == 0
    assert rows["torch"]["max_error_estimate"] is None
    table = gradcheck(*args)
    header = next(line for line in table.stdout.splitlines() if "max abs err" in line)
    assert header.index("max abs err") < header.index("max est. err") < header.index("max rel")


def test_an_overflowing_intermediate_is_labelled_not_a_mismatch(gradcheck) -> None:
    """exp(100*x)/exp(100*x) in float32: exp(100*x) overflows from x = 0.89 on, so torch
    gets nan where the exact f' is 0. Counted as overflow (an intermediate's), labelled
    per point, explained on stderr; --strict counts it."""
    args = ["exp(100*x)/exp(100*x)", "--range", "0", "1", "--num", "101", "--backends",
            "analytic,torch"]
    done = gradcheck(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    torch_row = next(r for r in json.loads(done.stdout)["results"] if r["backend"] == "torch")
    assert torch_row["mismatches"] == 0
    assert torch_row["overflow"] == torch_row["intermediate_overflow"] == 12
    assert ("warning: overflow at some points (torch 12): an intermediate is beyond "
            "float32's range") in done.stderr
    assert "the exact f' is beyond" not in done.stderr
    rows = list(csv.DictReader(io.StringIO(gradcheck(*args, "--format", "csv").stdout)))
    assert [r["label"] for r in rows if float(r["x"]) >= 0.885] == ["overflow"] * 12
    assert {r["label"] for r in rows if float(r["x"]) < 0.885} == {""}
    assert gradcheck(*args, "--strict").returncode == 1


def test_zero_to_the_y_along_y_is_smooth_except_at_zero(gradcheck) -> None:
    """x**y at x = 0 along y: 0 for y > 0 (derivative 0, as torch says), a jump at y = 0."""
    done = gradcheck("x**y", "--range", "0", "2", "--num", "5", "--at", "x=0", "--wrt", "y",
                     "--backends", "analytic,torch", "--format", "json")
    assert done.returncode == 0, done.stderr
    torch_row = next(r for r in json.loads(done.stdout)["results"] if r["backend"] == "torch")
    assert (torch_row["mismatches"], torch_row["nondifferentiable"], torch_row["max_abs_error"]
            ) == (0, 1, 0.0)


def test_wide_tables_keep_one_line_per_row_in_a_pipe(gradcheck) -> None:
    """Several dtypes and finite-diff's estimate make a wide table: written to a pipe it
    keeps each row on one line (its natural width) rather than folding cells."""
    done = gradcheck("sin(x)", "--range", "0", "1", "--num", "101", "--dtype",
                     "float32,float64", "--backends", "analytic,finite-diff")
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("float")]
    assert len(rows) == 4
    assert all(len(line.split("│")) == 14 for line in rows)
    assert any("finite-diff │ complex step" in line for line in rows)


@given(st.lists(st.floats(width=32), min_size=1, max_size=40), st.data())
def test_csv_columns_reuse_texts_only_where_the_bits_agree(values, data) -> None:
    """Backends mostly agree, so a CSV column reuses an earlier column's texts point by
    point; the text must be exactly what formatting it afresh gives (-0.0 vs 0.0, NaN)."""
    from autograd_cli.report.sinks import shortest_texts, texts_reusing

    first = np.array(values, dtype=np.float32)
    second = first.copy()
    changed = data.draw(st.lists(st.integers(0, first.size - 1), max_size=first.size))
    for index in changed:
        second[index] = data.draw(st.sampled_from([0.0, -0.0, np.nan, 1.5, -first[index]]))
    seen: list = []
    wide = first.astype(np.float64)
    for column in (first, wide, second, first.copy()):
        assert texts_reusing(column, seen) == shortest_texts(column)
