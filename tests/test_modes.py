"""Forward and reverse mode: the frameworks agree with themselves across modes, rows
and methods name the mode, and --mode both gives a row per mode where it means one.
"""

from __future__ import annotations

import functools
import io
import json

import numpy as np
import pytest
from corpus import CORPUS

from autograd_cli import compare
from autograd_cli.backends import backend_class
from autograd_cli.backends.base import Backend
from autograd_cli.comparison.verdicts import tolerance_for, ulp
from autograd_cli.core.dtypes import DTYPES
from autograd_cli.core.model import MODES

FRAMEWORKS = ("torch", "tensorflow", "jax")
#: Every function and operator of the language at least once (the whole corpus costs
#: JAX, whose eager transforms retrace per call, half a minute more).
AGREEMENT = (
    "sin(x)*cos(x) + tan(x/4)", "x*sigmoid(x) + tanh(x)/2", "sqrt(1 + x**2) - atan(x)/x",
    "log(1 + exp(x))", "asin(x)", "acos(x)", "cosh(x)/y - sinh(y)*log2(z)",
    "abs(x - y) + log10(y*y)", "x**y", "tanh(x)", "(x - 1)/(x + 1)", "2**x",
    "x**0.5 + x**(1/3)", "-x + +x*3", "pi*x**2 - e",
)


@functools.cache
def _backend(name: str) -> Backend:
    backend = backend_class(name)()
    if not backend.is_installed():
        pytest.skip(f"{name} is not installed")
    return backend


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FRAMEWORKS)
def test_forward_equals_reverse_on_the_corpus(name: str, dtype: str) -> None:
    """First derivatives by both modes. The modes apply the same rules in another
    association, so they agree to a few ULPs: at least 75% of the derivatives bit for
    bit, 95% within 2 ULPs, all within 32 (measured: 83%, 97.6%, and 20 ULPs where JAX's
    JVP and VJP rules for tanh round 1 - tanh**2 differently in float64, which cancels
    at |x| = 2.5)."""
    backend = _backend(name)
    gaps = []
    for case in (c for c in CORPUS if c.text in AGREEMENT):
        inputs = case.inputs(dtype)
        found = {mode: backend.evaluate(case.expr, inputs, case.variables, dtype, mode=mode)
                 for mode in MODES}
        assert np.array_equal(found["reverse"].values, found["forward"].values), case.text
        for k in case.variables:
            a = found["reverse"].derivatives[k].astype(np.float64)
            b = found["forward"].derivatives[k].astype(np.float64)
            gap = np.abs(a - b) / ulp(np.maximum(np.abs(a), np.abs(b)), dtype)
            assert np.all(gap <= 32), f"{case.text} d/d{k}: {gap}"
            gaps.append(gap)
    every = np.concatenate(gaps)
    assert every.size == 5 * (len(AGREEMENT) + 4)  # 5 points; three cases have 2-3 variables
    assert np.mean(every == 0) >= 0.75 and np.mean(every <= 2) >= 0.95, np.sort(every)[-10:]


def test_methods_name_the_mode() -> None:
    """The default (reverse, first order) keeps its method; every other says its mode.
    Backends without modes say nothing of one."""
    expected = {
        "torch": ("backward()", "torch.func.jvp (forward)", "torch.autograd.grad ×2 (reverse)"),
        "tensorflow": ("tf.GradientTape", "tf.autodiff.ForwardAccumulator (forward)",
                       "tf.GradientTape ×2 (reverse)"),
        "jax": ("jax.vmap(jax.grad)", "jax.vmap(jax.jvp) (forward)",
                "jax.vmap(jax.grad ×2) (reverse)"),
    }
    for name, (reverse, forward, second) in expected.items():
        cls = backend_class(name)
        assert cls.modes == MODES
        assert (cls.describe("reverse", 1), cls.describe("forward", 1),
                cls.describe("reverse", 2)) == (reverse, forward, second)
    for name in ("analytic", "finite-diff"):
        assert backend_class(name).modes == ()
        assert backend_class(name).describe("forward", 1) == backend_class(name).method


def test_in_process_forward_rows() -> None:
    """Through the Python API in this process: a forward row per framework, analytic
    and finite-diff without a mode, every row judged against the same truth."""
    report = compare("x*y + sin(x*y)", at=[{"x": 0.5, "y": 2}], wrt="y", dtype="float64",
                     backends="analytic,torch,finite-diff", mode="forward", isolate=False)
    assert report.ok, report.verdict()
    rows = {(row.backend, row.mode): row for row in report.rows}
    assert list(rows) == [("analytic", None), ("torch", "forward"), ("finite-diff", None)]
    assert rows["torch", "forward"].method == "torch.func.jvp (forward)"
    assert report.to_dict()["mode"] == "forward"
    with pytest.raises(ValueError, match="unknown mode 'both-ways'"):
        compare("x", at=1, mode="both-ways", backends="analytic")


def test_sweep_with_both_modes_names_each_series() -> None:
    from autograd_cli.comparison import sweep

    plan, _ = sweep.build_sweep("tanh(x)", ("-3", "3"), num="1001", dtype="float64",
                                backends=("analytic", "torch", "finite-diff"), mode="both")
    names = sweep.series_names(plan.backends, plan.mode)
    assert names == ["analytic", "torch:reverse", "torch:forward", "finite-diff"]
    stream = io.StringIO()
    csv_sink = sweep.CsvSink(stream, plan.swept, names)
    report = sweep.run_sweep(plan, tolerance_for("float64"), isolate=False, sinks=[csv_sink])
    assert report.ok, report.verdict()
    assert [(row.backend, row.mode, row.series) for row in report.rows] == [
        ("analytic", None, "analytic"), ("torch", "reverse", "torch:reverse"),
        ("torch", "forward", "torch:forward"), ("finite-diff", None, "finite-diff")]
    assert [row.method for row in report.rows][1:3] == ["backward()", "torch.func.jvp (forward)"]
    assert all(row.points == 1001 for row in report.rows)
    header = stream.getvalue().splitlines()[0].split(",")
    assert header[3:12] == ["noise_floor", "analytic", "analytic_abs_error",
                            "analytic_ulp_error", "analytic_tier", "torch:reverse",
                            "torch:reverse_abs_error", "torch:reverse_ulp_error",
                            "torch:reverse_tier"]
    assert "torch:forward" in header and len(stream.getvalue().splitlines()) == 1002


def test_suite_case_with_both_modes(tmp_path) -> None:
    from autograd_cli.suite.run import load_suite, run_cases

    path = tmp_path / "modes.toml"
    path.write_text('[defaults]\nmode = "both"\n[[case]]\nname = "sigmoid"\n'
                    'expression = "sigmoid(x)"\nat = [-1.0, 0.5]\nbackends = ["torch"]\n'
                    "expect = [0.19661193324148185, 0.2350037122015945]\n")
    (case,) = load_suite(path).cases
    assert case.request.mode == "both" and case.request.modes == MODES
    (result,) = run_cases([case], isolate=False)
    assert result.outcome == "passed", result.message
    assert result.report is not None
    assert [(row.backend, row.mode) for row in result.report.rows] == [
        ("torch", "reverse"), ("torch", "forward")] * 2


def test_cli_mode_both_rows_and_methods(gradcheck) -> None:
    done = gradcheck("2*x**3+4*x**2+5*x+6", "--at", "0.5", "--at", "-1", "--mode", "both",
                     "--backends", "analytic,torch,finite-diff", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["mode"] == "both" and data["order"] == 1 and data["wrt"] == ["x"]
    rows = [(r["point"]["x"], r["backend"], r["mode"], r["method"], r["derivative"])
            for r in data["results"]]
    assert rows[:4] == [
        (0.5, "analytic", None, "sympy.diff + mpmath (256-bit)", 10.5),
        (0.5, "torch", "reverse", "backward()", 10.5),
        (0.5, "torch", "forward", "torch.func.jvp (forward)", 10.5),
        (0.5, "finite-diff", None, "complex step (h=2**-33)", 10.5),
    ]
    assert [r[1:3] for r in rows[4:]] == [r[1:3] for r in rows[:4]] and rows[4][4] == 3.0
    assert all(r["status"] == "ok" and r["order"] == 1 for r in data["results"])
