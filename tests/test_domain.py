"""Undefined points, kinks, domain edges and overflow: labelled and explained, not
counted as mismatches unless --strict (real frameworks, no mocks)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from autograd_cli.comparison import sweep
from autograd_cli.comparison.points import run_check
from autograd_cli.comparison.verdicts import range_statuses, tolerance_for
from autograd_cli.core.statuses import NONDIFFERENTIABLE, UNDEFINED
from autograd_cli.domain import classify
from autograd_cli.expr.parser import parse
from autograd_cli.inputs import build_request
from autograd_cli.report.common import EXIT_MISMATCH, EXIT_OK
from autograd_cli.report.figure import build_figure


def special(text: str, *points: float | dict[str, float], wrt: tuple[str, ...] = ("x",)):
    """classify() at the points given, as one Special (or None) per point and label."""
    rows = [p if isinstance(p, dict) else {"x": p} for p in points]
    inputs = {name: np.array([r[name] for r in rows]) for name in rows[0]}
    labels = classify(parse(text), inputs, wrt, text)
    found = [[labels.at(w, i) for w in wrt] for i in range(len(rows))]
    return found[0][0] if len(rows) == 1 and len(wrt) == 1 else found


@pytest.mark.parametrize(
    ("text", "x", "status", "words", "left", "right"),
    [
        ("sqrt(x)", 0.0, NONDIFFERENTIABLE, "edge of its domain", None, math.inf),
        ("log(x)", 0.0, UNDEFINED, "is 0 (log(0) = -inf)", None, None),
        ("log(x)", -1.0, UNDEFINED, "is negative", None, None),
        ("log10(x - 2)", 1.0, UNDEFINED, "is negative", None, None),
        ("1/x", 0.0, UNDEFINED, "denominator x is 0", None, None),
        ("asin(x)", 1.0, NONDIFFERENTIABLE, "edge of its domain", math.inf, None),
        ("acos(x)", 2.0, UNDEFINED, "outside [-1, 1]", None, None),
        ("3 + 2*abs(x - 1)", 1.0, NONDIFFERENTIABLE, "x - 1 is 0 (a kink)", -2.0, 2.0),
        ("tan(pi*x/2)", 1.0, UNDEFINED, "odd multiple of pi/2", None, None),
        ("x**(1/3)", -8.0, UNDEFINED, "negative base", None, None),
        ("x**-2", 0.0, UNDEFINED, "0 to a negative power", None, None),
        ("x**1.5", 0.0, NONDIFFERENTIABLE, "edge of its domain", None, 0.0),
        # Our tree, not SymPy's: sqrt(x)**2 is x for SymPy, undefined left of 0 here.
        ("sqrt(x)**2", 0.0, NONDIFFERENTIABLE, "edge of its domain", None, 1.0),
        ("sqrt(x**2)", 0.0, NONDIFFERENTIABLE, "is 0 (a kink)", -1.0, 1.0),
        # 1 - 1 cancels exactly only in exact arithmetic's eyes: float64 sees 0 anyway,
        # sin(pi) is 1.2e-16 in float64 and 0 exactly.
        ("abs(sin(pi*x))", 1.0, NONDIFFERENTIABLE, "a kink", -math.pi, math.pi),
        ("x**2", math.nan, UNDEFINED, "x = nan is not a number", None, None),
        ("x**2", -math.inf, UNDEFINED, "x = -inf is not a point", None, None),
    ],
)
def test_classify_labels_and_one_sided_derivatives(text, x, status, words, left, right):
    found = special(text, x)
    assert found is not None, text
    assert found.status == status
    assert words in found.reason
    assert found.left == left
    assert found.right == right


@pytest.mark.parametrize(
    ("text", "x"),
    [
        ("x*abs(x)", 0.0),  # both one-sided derivatives are 0: differentiable
        ("sqrt(x**4)", 0.0),
        ("abs(x - 1)", 1.0000001),
        ("sqrt(x)", 1e-300),
        ("tan(x)", 1.5707963267948966),  # near pi/2 but not on it: a big, real derivative
        ("log(exp(-1000*x))", 1.0),  # exp(-1000) is tiny, not zero
    ],
)
def test_ordinary_points_are_not_labelled(text, x):
    assert special(text, x) is None


def test_partials_are_labelled_separately():
    (at_x, at_y), = special("x*y + abs(x)", {"x": 0.0, "y": 2.0}, wrt=("x", "y"))
    assert at_x.status == NONDIFFERENTIABLE and (at_x.left, at_x.right) == (1.0, 3.0)
    assert at_y is None  # the kink is across x: d/dy exists


def test_kink_at_abs_zero_each_framework_convention():
    """PyTorch says abs'(0) = 0, JAX says 1: both rows are labelled, explained with
    their conventions, and the run exits 0 (1 with strict)."""
    request = build_request("abs(x)", ["0", "2"], backends=("analytic", "torch", "jax"))
    report = run_check(request, tolerance_for("float32"), isolate=False)
    at_zero = {row.backend: row for row in report.rows if row.point["x"] == 0}
    assert at_zero["torch"].derivative == 0.0
    assert at_zero["jax"].derivative == 1.0
    for row in at_zero.values():
        assert row.status == NONDIFFERENTIABLE
        assert (row.left, row.right) == (-1.0, 1.0)
        assert row.exact is None and row.ulp_error is None
        assert "left -1, right 1" in (row.reason or "")
    assert {row.status for row in report.rows if row.point["x"] == 2} == {"ok"}
    assert report.exit_code == EXIT_OK
    assert "not judged: 3 nondifferentiable rows" in report.verdict()
    assert len(report.warnings) == 1
    assert "torch 0" in report.warnings[0] and "jax 1" in report.warnings[0]
    data = report.to_dict()
    assert data["results"][0]["left_derivative"] == -1.0
    strict = replace(report, strict=True)
    assert strict.exit_code == EXIT_MISMATCH
    assert strict.verdict().startswith("FAIL: 3 nondifferentiable rows (--strict)")


def test_overflow_in_float32_is_labelled_not_a_mismatch():
    """exp(1000*x) at 1 is beyond float64, exp(100*x) at 1 (100*e**100 = 2.7e45) only
    beyond float32: inf is the right float32 answer for both."""
    request = build_request("exp(a*x)", ["a=1000,x=1", "a=100,x=1", "a=1,x=1"], wrt=["x"],
                            backends=("analytic", "torch"))
    report = run_check(request, tolerance_for("float32"), isolate=False)
    statuses = [(row.point["a"], row.backend, row.status) for row in report.rows]
    assert statuses == [(1000, "analytic", "overflow"), (1000, "torch", "overflow"),
                        (100, "analytic", "overflow"), (100, "torch", "overflow"),
                        (1, "analytic", "ok"), (1, "torch", "ok")]
    torch_100 = report.rows[3]
    assert torch_100.derivative == math.inf and torch_100.exact == pytest.approx(2.69e45, 1e-2)
    assert "beyond float32's range" in (torch_100.reason or "")
    assert report.exit_code == EXIT_OK
    assert replace(report, strict=True).exit_code == EXIT_MISMATCH


def test_range_statuses_overflow_and_underflow():
    # 1e-40 is a float32 subnormal: in range (flushing it is judged, not excused);
    # 1e-46 rounds to 0 in float32: a 0 there is the range speaking
    exact = np.array([1e40, 1e40, 1e-40, 1e-46, 1e-46, -1e40])
    computed = np.array([np.inf, np.nan, 0.0, 0.0, 1.0, np.inf])
    passed = np.zeros(6, dtype=bool)
    overflow, underflow = range_statuses(computed, exact, np.zeros(6), "float32", passed)
    assert overflow.tolist() == [True, False, False, False, False, False]  # -inf is right
    assert underflow.tolist() == [False, False, False, True, False, False]


def test_nan_point_and_warning_on_the_command_line(gradcheck):
    result = gradcheck("x**2", "--at", "nan", "--at", "1", "--backends", "analytic",
                       "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [r["status"] for r in data["results"]] == ["undefined", "ok"]
    assert data["results"][0]["reason"] == "x = nan is not a number"
    assert data["warnings"] and "warning: undefined at x = nan" in result.stderr
    assert "Traceback" not in result.stderr


def test_sweep_across_a_pole_counts_it(gradcheck):
    """1/x over [-1, 1] hits 0 exactly (the 101st of 201 points)."""
    result = gradcheck("1/x", "--range", "-1", "1", "--num", "201", "--backends",
                       "analytic,torch", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["special_points"] == [{
        "status": "undefined", "from": 0.0, "to": 0.0, "points": 1,
        "reason": "1/x is undefined: its denominator x is 0 (division by zero)",
    }]
    assert [(r["backend"], r["undefined"], r["mismatches"]) for r in data["results"]] == [
        ("analytic", 1, 0), ("torch", 1, 0)]
    assert "not judged: 1 undefined point" in data["verdict"]
    assert "warning: undefined at x = 0" in result.stderr

    strict = gradcheck("1/x", "--range", "-1", "1", "--backends", "analytic", "--strict")
    assert strict.returncode == 1, strict.stderr
    assert "FAIL: 1 undefined point (--strict)" in strict.stdout
    assert "1 undefined" in strict.stdout  # the summary's count column


def test_sweep_runs_across_chunks_and_the_figure_marks_them():
    """sqrt(x) + abs(x - 1) over [-1, 2]: an undefined run left of 0 (spread over
    several chunks), the domain edge at 0 and the kink at 1, all drawn."""
    request, _ = sweep.build_sweep("sqrt(x) + abs(x - 1)", ("-1", "2"), num="31",
                                   backends=("analytic",))
    figure = sweep.PlotSink(request.size, request.backends)
    report = sweep.run_sweep(request, tolerance_for("float32"), isolate=False,
                             sinks=[figure], chunk=4)
    row = report.rows[0]
    assert (row.undefined, row.nondifferentiable, row.mismatches) == (10, 2, 0)
    runs = [(r["status"], r["from"], r["to"], r["points"]) for r in report.special_points]
    assert runs[0][0] == UNDEFINED and runs[0][1:] == (-1.0, pytest.approx(-0.1), 10)
    assert runs[1:] == [(NONDIFFERENTIABLE, 0.0, 0.0, 1), (NONDIFFERENTIABLE, 1.0, 1.0, 1)]
    assert report.exit_code == EXIT_OK

    data = figure.figure_data(report)
    assert [(m.status, m.start, m.stop, m.points) for m in data.special] == [
        (UNDEFINED, -1.0, pytest.approx(-0.1), 10), (NONDIFFERENTIABLE, 0.0, 0.0, 1),
        (NONDIFFERENTIABLE, 1.0, 1.0, 1)]
    fig = build_figure(data)
    top = fig.axes[0]
    lines = [a for a in top.get_lines() if a.get_gid() == f"special:{NONDIFFERENTIABLE}"]
    assert sorted(float(line.get_xdata()[0]) for line in lines) == [0.0, 1.0]
    bands = [p for p in top.patches if p.get_gid() == f"special:{UNDEFINED}"]
    assert len(bands) == 1
    assert bands[0].get_x() == -1.0
    assert bands[0].get_x() + bands[0].get_width() == pytest.approx(-0.1)
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    assert "undefined: 10 points (not judged)" in legend


def test_strict_is_a_suite_key(tmp_path):
    from autograd_cli.suite.run import load_suite

    path = tmp_path / "s.toml"
    path.write_text('[[case]]\nname = "kink"\nexpression = "abs(x)"\nat = [0]\n'
                    "strict = true\n", encoding="utf-8")
    (case,) = load_suite(path).cases
    assert case.strict is True


# --------------------------------------------------------------------------- intermediates


def check(text: str, at: list[str], backends: tuple[str, ...] = ("analytic", "torch"),
          dtype: str = "float32", wrt: tuple[str, ...] = ()):
    request = build_request(text, at, wrt=list(wrt), dtype=dtype, backends=backends)
    return run_check(request, tolerance_for(dtype), isolate=False)


@pytest.mark.parametrize(
    ("text", "x", "named"),
    [
        # exp(100) = 2.7e43 > float32's 3.4e38, f = 1 and f' = 0
        ("exp(100*x)/exp(100*x)", "1", "exp(100*x) = 2.7e+43"),
        ("log(exp(100*x))", "1", "exp(100*x) = 2.7e+43"),
        ("sqrt(x**2)", "1e30", "x**2 = 1e+60"),
        # a derivative intermediate: 40*9**39 = 6.6e38 (f' = 6.6e8 is in range)
        ("x**40*1e-30", "9", "d(x**40)/dx = 6.6e+38"),
    ],
)
def test_overflow_in_an_intermediate_is_labelled(text, x, named):
    report = check(text, [x, "0.5"])
    rows = {(row.point["x"], row.backend): row for row in report.rows}
    x0 = float(np.float32(float(x)))
    assert rows[x0, "analytic"].status == "ok"
    torch_row = rows[x0, "torch"]
    assert torch_row.status == "overflow"
    assert torch_row.reason.startswith(
        f"{named} is beyond float32's range (max 3.4e+38) in an intermediate: every IEEE "
        "evaluation of the expression as written overflows; the exact f' = ")
    assert torch_row.reason.endswith(" is in range")
    assert torch_row.exact is not None and torch_row.abs_error is not None  # still shown
    assert {row.status for (p, _), row in rows.items() if p == 0.5} == {"ok"}
    assert report.exit_code == EXIT_OK
    assert any(w.startswith("overflow at x = ") and named in w for w in report.warnings)
    assert replace(report, strict=True).exit_code == EXIT_MISMATCH


def test_overflow_in_an_intermediate_on_the_command_line(gradcheck):
    args = ("exp(100*x)/exp(100*x)", "--at", "1", "--backends", "analytic,torch")
    result = gradcheck(*args, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["results"]
    assert [(r["backend"], r["status"]) for r in rows] == [("analytic", "ok"),
                                                           ("torch", "overflow")]
    assert rows[1]["reason"] == ("exp(100*x) = 2.7e+43 is beyond float32's range (max "
                                 "3.4e+38) in an intermediate: every IEEE evaluation of the "
                                 "expression as written overflows; the exact f' = 0 is in "
                                 "range")
    assert "warning: overflow at x = 1 (float32): exp(100*x) = 2.7e+43" in result.stderr
    assert gradcheck(*args, "--strict").returncode == 1


def test_overflow_in_an_intermediate_in_float64():
    report = check("exp(1000*x)/exp(1000*x)", ["1"], dtype="float64")
    torch_row = report.rows[1]
    assert torch_row.status == "overflow"
    assert torch_row.reason == ("exp(1000*x) = 2.0e+434 is beyond float64's range (max "
                                "1.8e+308) in an intermediate: every IEEE evaluation of the "
                                "expression as written overflows; the exact f' = 0 is in "
                                "range")
    assert report.exit_code == EXIT_OK


def test_underflow_in_an_intermediate_is_labelled():
    """exp(-200) is 0 in float32, so log of it is -inf and f' = -200 comes out NaN."""
    report = check("log(exp(-200*x))", ["1"])
    torch_row = report.rows[1]
    assert torch_row.status == "underflow"
    assert torch_row.reason.startswith("exp(-200*x) = 1.4e-87 is below half float32's "
                                       "smallest subnormal number (1.4e-45) in an "
                                       "intermediate: every IEEE evaluation of the expression "
                                       "as written rounds it to 0")
    assert report.exit_code == EXIT_OK


def test_intermediates_in_range_or_a_backend_that_gets_it_right_are_not_labelled():
    in_range = check("exp(80*x)/exp(80*x)", ["1"])  # exp(80) = 5.5e34 fits float32
    assert [row.status for row in in_range.rows] == ["ok", "ok"]
    assert in_range.warnings == []
    # finite-diff evaluates f only: no overflowing derivative, a right answer stays ok
    report = check("x**40*1e-30", ["9"], backends=("analytic", "torch", "finite-diff"))
    assert [(row.backend, row.status) for row in report.rows] == [
        ("analytic", "ok"), ("torch", "overflow"), ("finite-diff", "ok")]


def test_intermediate_range_on_arrays_agrees_with_the_rows():
    """The vectorized helper over 200,001 points (several blocks): overflow exactly
    where x > log(float32's overflow threshold) = 88.7228, underflow where exp(-x)
    rounds to 0 (below half the smallest subnormal, 2**-150), x > 150*log(2) = 103.972;
    the per-point findings of a check say the same."""
    from autograd_cli.core.statuses import RANGE_CODES
    from autograd_cli.domain import intermediate_findings, intermediate_range

    x = np.linspace(0.0, 200.0, 200_001)
    over = intermediate_range(parse("exp(x)/exp(x)"), {"x": x}, "float32", "x")
    assert over.dtype == np.int8
    assert np.array_equal(over == RANGE_CODES["overflow"], x > 88.7228391)
    assert set(np.unique(over).tolist()) == {0, RANGE_CODES["overflow"]}
    under = intermediate_range(parse("exp(-x)/exp(-x)"), {"x": x}, "float32")
    assert np.array_equal(under == RANGE_CODES["underflow"], x > 150 * math.log(2))
    # float64 overflows in float64 itself: exp(x) is inf beyond 709.78
    wide = intermediate_range(parse("exp(x)/exp(x)"), {"x": x * 5}, "float64")
    assert np.array_equal(wide == RANGE_CODES["overflow"], x * 5 > 709.7827129)
    # an exact f' out of range is the per-row statuses' business, not an intermediate's
    exact = np.where(x > 150, math.inf, 0.0)
    masked = intermediate_range(parse("exp(x)/exp(x)"), {"x": x}, "float32", "x",
                                exact=exact)
    assert np.array_equal(masked, np.where(x > 150, 0, over))

    text = "sqrt(x**2) + log(exp(-x*y))"
    points = {"x": np.array([1.0, 1e30, 3e19, 110.0, 0.0]), "y": np.array([1, 1, 1, 1, 1.0])}
    codes = intermediate_range(parse(text), points, "float32", "x")
    found = intermediate_findings(parse(text), points, "float32", ("x",), text)["x"]
    assert [0 if f is None else RANGE_CODES[f[0]] for f in found] == codes.tolist()
    assert codes.tolist() == [0, RANGE_CODES["overflow"], RANGE_CODES["overflow"],
                              RANGE_CODES["underflow"], 0]
    assert found[2] is not None and found[2][1].startswith("x**2 = 9e+38")


@pytest.mark.parametrize(("text", "x"), [("1/x", 0.0), ("sqrt(x)", 0.0), ("log(x)", 0.0),
                                         ("x**-2", 0.0), ("2*x**3+4*x**2+5*x+6", 4.0)])
def test_intermediate_range_leaves_poles_and_ordinary_points_alone(text, x):
    from autograd_cli.domain import intermediate_range

    assert intermediate_range(parse(text), {"x": np.array([x])}, "float32").tolist() == [0]


# --------------------------------------------------------------------------- direction


def test_power_at_a_zero_base_along_the_exponent():
    """0**y is 0 for y > 0: along y, x**y at x = 0 is no kink and its derivative is 0
    (SymPy's x**y*log(x) is NaN there); at y = 0 f jumps (0**0 = 1), below 0 it is a
    pole. Along x the point keeps its label."""
    points = [{"x": 0.0, "y": y} for y in (0.5, 2.0, 0.0, -1.0)]
    (half,), (two,), (zero,), (negative,) = special("x**y", *points, wrt=("y",))
    assert half is None and two is None
    assert zero.status == NONDIFFERENTIABLE
    assert zero.reason.startswith("x**y is not continuous along y where x is 0 and y is 0")
    assert negative.status == UNDEFINED and "0 to a negative power" in negative.reason
    labels = classify(parse("x**y"), {"x": np.zeros(2), "y": np.array([0.5, 0.0])},
                      ("y", "x"), "x**y")
    assert labels.exact["y"] == {0: (0.0, 0.0)}
    assert labels.exact["x"] == {1: (0.0, 0.0)}  # x**0 = 1 along x: d/dx = 0 at (0, 0)
    along_x = labels.at("x", 0)
    assert along_x is not None and along_x.status == NONDIFFERENTIABLE
    assert along_x.reason == ("x**y is at the edge of its domain (x = 0): left undefined, "
                              "right inf")


def test_power_at_a_zero_base_along_the_exponent_with_torch():
    report = check("x**y", ["x=0,y=0.5", "x=0,y=0", "x=0,y=-1"], wrt=("y",))
    got = [(row.point["y"], row.backend, row.status, row.derivative, row.exact)
           for row in report.rows]
    assert got[:2] == [(0.5, "analytic", "ok", 0.0, 0.0), (0.5, "torch", "ok", 0.0, 0.0)]
    assert [status for _, _, status, _, _ in got[2:]] == [NONDIFFERENTIABLE] * 2 + [
        UNDEFINED] * 2
    assert report.exit_code == EXIT_OK
    along_x = check("x**y", ["x=0,y=0.5"], wrt=("x",))
    assert {row.status for row in along_x.rows} == {NONDIFFERENTIABLE}
    assert "edge of its domain (x = 0): left undefined, right inf" in along_x.warnings[0]


def test_a_kink_across_another_variable_is_no_kink_along_this_one():
    report = check("abs(x)*y", ["x=0,y=2"], wrt=("y",))
    assert [(row.status, row.derivative, row.exact) for row in report.rows] == [
        ("ok", 0.0, 0.0), ("ok", 0.0, 0.0)]
