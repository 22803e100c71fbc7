"""Higher orders and mixed partials: every backend against the exact derivative, the
references' precision, what --order and --wrt ask for, and the refusals.

Tolerance for the frameworks: 256 ULPs of the dtype at the exact value up to order 2,
512 at order 3 (each order adds a level of rounding that cancellation can magnify; the
worst seen on this subset is ~340 ULPs, ``(x*sigmoid(x) + tanh(x)/2)'''`` in float32).
A wrong rule or a derivative taken in the wrong variable is off by millions of ULPs.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from corpus import CORPUS, Case, parse

from autograd_cli.backends import backend_class
from autograd_cli.backends.analytic import AnalyticBackend
from autograd_cli.backends.base import Backend
from autograd_cli.backends.finite_diff import FiniteDiffBackend
from autograd_cli.comparison.verdicts import tolerance_for, ulp
from autograd_cli.core.dtypes import DTYPES
from autograd_cli.core.model import MAX_ORDER, MODES, label, notation, partial_of
from autograd_cli.inputs import InputError, build_request, resolve_partials
from autograd_cli.truth.point import Reference, reference
from autograd_cli.truth.vectorized import SweepReference

FRAMEWORKS = ("torch", "tensorflow", "jax")
#: One variable through functions that cancel, and two variables with a mixed partial.
TEXTS = ("x*sigmoid(x) + tanh(x)/2", "x*y + sin(x*y)")
#: TensorFlow's nested ForwardAccumulator traces every op's JVP afresh at each level
#: (seconds per op at order 3), so its order 3 is checked on one function only.
SLOW = {("tensorflow", "forward", 3): ("sin(x)",)}
CASES = {case.text: case for case in CORPUS if case.text in (*TEXTS, "sin(x)")}
MIXED = "x*y + sin(x*y)"


def _budget(order: int) -> float:
    return 256.0 if order < 3 else 512.0


@functools.cache
def _backend(name: str) -> Backend:
    backend = backend_class(name)()
    if not backend.is_installed():
        pytest.skip(f"{name} is not installed")
    return backend


def _labels(case: Case, order: int) -> tuple[str, ...]:
    """Each variable's pure derivative of this order, and for two variables the mixed
    partial (x, y, then x again as the order needs)."""
    names = case.variables
    found = [label((name,) * order) for name in names]
    if len(names) > 1 and order > 1:
        found.append(label((names[0], names[1], *(names[0],) * (order - 2))))
    return tuple(found)


@functools.cache
def _reference(text: str, dtype: str, order: int) -> Reference:
    case = CASES[text]
    return reference(case.expr, case.inputs(dtype), _labels(case, order))


def _ulps(actual: np.ndarray, exact: np.ndarray, dtype: str) -> np.ndarray:
    return np.abs(actual.astype(np.float64) - exact) / ulp(exact, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FRAMEWORKS)
def test_frameworks_orders_1_to_3_both_modes_against_exact(name: str, dtype: str) -> None:
    """Each mode against the truth; and forward against reverse, which compute the same
    chain rule associated differently: at orders 2 and 3 they agree within 128 ULPs
    of the larger (the worst seen on the corpus: 96, where terms cancel)."""
    backend = _backend(name)
    for order in (1, 2, 3):
        found: dict[str, dict[str, np.ndarray]] = {}
        for mode in MODES:
            for text in SLOW.get((name, mode, order), TEXTS):
                case = CASES[text]
                n = len(next(iter(case.points.values())))
                wrt = _labels(case, order)
                result = backend.evaluate(case.expr, case.inputs(dtype), wrt, dtype, mode=mode)
                assert result.method == backend.describe(mode, order)
                assert set(result.derivatives) == set(wrt)
                ref = _reference(text, dtype, order)
                for k in wrt:
                    actual, exact = result.derivatives[k], ref.derivatives[k]
                    assert actual.dtype == np.dtype(dtype) and actual.shape == (n,), k
                    worst = float(np.max(_ulps(actual, exact, dtype)))
                    assert worst <= _budget(order), f"{mode} {text} d[{k}]: {worst:.0f} ULPs"
                    found.setdefault(f"{text} d[{k}]", {})[mode] = actual.astype(np.float64)
        for where, pair in found.items():
            if len(pair) == 2 and order > 1:
                a, b = pair["reverse"], pair["forward"]
                gap = np.abs(a - b) / ulp(np.maximum(np.abs(a), np.abs(b)), dtype)
                assert float(np.max(gap)) <= 128, f"order {order}, {where}: {gap}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", FRAMEWORKS)
def test_mixed_partial_in_closed_form(name: str, mode: str) -> None:
    """d2(x*y + sin(x*y))/dxdy = 1 + cos(xy) - xy sin(xy), in either order; a variable
    the expression lacks (z) has every derivative zero."""
    x = np.array([0.5, -1.25, 2.0, 3.0])
    y = np.array([2.0, 0.75, -1.5, 0.1])
    inputs = {"x": x, "y": y, "z": np.ones(4)}
    result = _backend(name).evaluate(parse(MIXED), inputs, ("x,y", "y,x", "x,z", "z,z"),
                                     "float64", mode=mode)
    expected = 1 + np.cos(x * y) - x * y * np.sin(x * y)
    for k in ("x,y", "y,x"):
        assert np.allclose(result.derivatives[k], expected, rtol=1e-13, atol=1e-14), k
    for k in ("x,z", "z,z"):
        assert result.derivatives[k].tolist() == [0.0] * 4, k


def test_linear_expression_has_zero_second_derivative_everywhere() -> None:
    """Nothing left to differentiate after the first level: zeros, not an error."""
    inputs = {"x": np.array([1.0, 2.0], dtype=np.float32)}
    for name in FRAMEWORKS:
        for mode in MODES:
            result = _backend(name).evaluate(parse("3*x + 1"), inputs, ("x,x",), "float32",
                                             mode=mode)
            assert result.derivatives["x,x"].tolist() == [0.0, 0.0], (name, mode)
            assert result.values.tolist() == [4.0, 7.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_analytic_backend_is_the_rounded_truth_at_any_order(dtype: str) -> None:
    case = CASES[MIXED]
    wrt = _labels(case, 2)
    result = AnalyticBackend().evaluate(case.expr, case.inputs(dtype), wrt, dtype)
    ref = _reference(case.text, dtype, 2)
    for k in wrt:
        assert np.all(_ulps(result.derivatives[k], ref.derivatives[k], dtype) <= 0.5), k
    assert result.extra["derivative_expressions"] == {
        "x,x": "-y**2*sin(x*y)",
        "y,y": "-x**2*sin(x*y)",
        "x,y": "-x*y*sin(x*y) + cos(x*y) + 1",
    }


@pytest.mark.parametrize("dtype", DTYPES)
def test_finite_diff_higher_orders_within_their_estimate(dtype: str) -> None:
    """Central differences on a grid: the estimate bounds the true error, and in float64
    it is small enough to mean something (the subset's worst: 4e-6 of max(1, |d|))."""
    backend = FiniteDiffBackend()
    for case in CASES.values():
        for order in (2, 3):
            wrt = _labels(case, order)
            result = backend.evaluate(case.expr, case.inputs(dtype), wrt, dtype)
            assert result.method == "central differences + Richardson"
            ref = _reference(case.text, dtype, order)
            for k in wrt:
                exact = ref.derivatives[k]
                estimate = result.extra["error_estimate"][k]
                true = np.abs(result.derivatives[k].astype(np.float64) - exact)
                where = f"{case.text} d[{k}]"
                assert np.all(np.isfinite(estimate)), where
                assert np.all(true <= estimate), f"{where}: {true} > {estimate}"
                if dtype == "float64":
                    assert np.all(estimate <= 1e-5 * np.maximum(1, np.abs(exact))), where


def test_sweep_reference_keeps_its_precision_at_higher_orders() -> None:
    """The vectorized reference against the adaptive mpmath one: within 2**-58 of the
    value for float64 sweeps, for a pure third derivative and a mixed partial."""
    x = np.linspace(-4, 4, 401)
    inputs = {"x": x, "y": np.full_like(x, 0.75)}
    for text, wrt in (("x*sigmoid(x) + tanh(x)/2", ("x,x,x",)), (MIXED, ("x,y", "y,y"))):
        expr = parse(text)
        used = {k: v for k, v in inputs.items() if k in expr_variables(text)}
        fast = SweepReference(expr, wrt, values=False, bits=58)(used)
        sample = slice(None, None, 20)
        slow = reference(expr, {k: v[sample] for k, v in used.items()}, wrt)
        for k in wrt:
            hi, lo = fast.derivatives[k]
            gap = np.abs((hi[sample] - slow.derivatives[k]) + (lo[sample] - slow.derivatives_lo[k]))
            limit = 2.0**-58 * np.abs(slow.derivatives[k]) + 1e-300
            assert np.all(gap <= limit), (text, k, float(np.max(gap / limit)))


def expr_variables(text: str) -> tuple[str, ...]:
    from autograd_cli.expr.nodes import variables

    return variables(parse(text))


# --------------------------------------------------------------------------- requests


@pytest.mark.parametrize(
    ("names", "wrt", "order", "expected"),
    [
        (("x", "y"), [], 1, [("x",), ("y",)]),
        (("x", "y"), ["y", "y"], 1, [("y",)]),
        (("x",), [], 3, [("x", "x", "x")]),
        (("x", "y"), ["y"], 2, [("y", "y")]),
        (("x", "y"), [], 2, [("x", "x"), ("y", "y")]),
        (("x", "y"), ["y", "x"], 2, [("y", "x")]),
        (("x", "y"), ["x", "x", "y"], 3, [("x", "x", "y")]),
        (("x", "y"), ["x", "x"], 2, [("x", "x")]),
    ],
)
def test_what_order_and_wrt_ask_for(names, wrt, order, expected) -> None:
    assert resolve_partials(names, wrt, order) == expected


@pytest.mark.parametrize(
    ("wrt", "order", "message"),
    [
        ([], 0, "--order 0: give a whole number from 1 to 4"),
        ([], MAX_ORDER + 1, "--order 5: give a whole number from 1 to 4"),
        (["x", "y"], 3, "--order 3 with --wrt x --wrt y: give one --wrt"),
        (["x", "y", "x"], 2, "exactly 2 (a mixed partial"),
        (["q"], 2, "unknown variable 'q'"),
    ],
)
def test_bad_combinations_are_refused(wrt, order, message) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        resolve_partials(("x", "y"), wrt, order)


def test_request_labels_and_notation() -> None:
    request = build_request(MIXED, ["x=1,y=2"], ["x", "y"], "float64", ("analytic",), order=2)
    assert request.wrt == ("x,y",) and request.order == 2 and request.partials == (("x", "y"),)
    assert partial_of("x,y,x") == ("x", "y", "x") and label(("x", "x")) == "x,x"
    assert [notation(k) for k in ("x", "x,x", "x,y", "x,x,y", "y,y,y,y")] == [
        "df/dx", "d²f/dx²", "d²f/dxdy", "d³f/dx²dy", "d⁴f/dy⁴"]
    with pytest.raises(InputError, match="unknown mode 'sideways'"):
        build_request(MIXED, ["x=1,y=2"], mode="sideways")


def test_a_plugin_without_higher_orders_gives_an_error_row() -> None:
    from autograd_cli.execution import worker

    outcome = worker.evaluate("fake_backends:Square", parse("x**2"),
                              {"x": np.array([1.0, 2.0])}, ("x,x",), "float64", 2)
    assert outcome.status == "error"
    assert outcome.reason == "ValueError: this backend computes derivatives up to order 1, not 2"
    first = worker.evaluate("fake_backends:Square", parse("x**2"),
                            {"x": np.array([1.0, 2.0])}, ("x",), "float64", 2, mode="forward")
    assert first.status == "ok" and first.derivatives["x"].tolist() == [2.0, 4.0]


# --------------------------------------------------------------------------- sweeps, suites


def test_sweep_of_a_second_derivative_in_process() -> None:
    from autograd_cli.comparison import sweep

    plan, _ = sweep.build_sweep(MIXED, ("-2", "2"), num="401", at=["y=0.5"], wrt=["x"],
                                dtype="float64", backends=("analytic", "finite-diff"),
                                order=2)
    assert plan.label == "x,x" and plan.request(0, 3).wrt == ("x,x",)
    figure = sweep.PlotSink(plan.size, sweep.series_names(plan.backends, plan.mode))
    report = sweep.run_sweep(plan, tolerance_for("float64", rtol=1e-5), isolate=False,
                             sinks=[figure])
    data = report.to_dict()
    assert data["wrt"] == ["x,x"] and data["order"] == 2
    assert data["derivative_expression"] == "-y**2*sin(x*y)"
    rows = {row["backend"]: row for row in data["results"]}
    assert rows["analytic"]["max_ulp_error"] <= 0.5 and rows["finite-diff"]["order"] == 2
    assert rows["finite-diff"]["status"] == "ok", rows["finite-diff"]
    drawn = figure.figure_data(report)
    assert drawn.partial == ("x", "x") and drawn.derivative == "-y**2*sin(x*y)"
    from autograd_cli.report.figure import _title_lines

    assert _title_lines(drawn)[1][1] == "d²f/dx² = -y**2*sin(x*y)"

    mixed, _ = sweep.build_sweep(MIXED, ("0", "1"), num="3", at=["y=2"], wrt=["x", "y"],
                                 order=2)
    assert mixed.swept == "x" and mixed.label == "x,y"
    with pytest.raises(InputError, match="a sweep varies one variable"):
        sweep.build_sweep(MIXED, ("0", "1"), at=["y=2"], wrt=["x", "y"])


def test_suite_case_with_order_and_expect(tmp_path) -> None:
    from autograd_cli.suite.config import ConfigError
    from autograd_cli.suite.run import load_suite, run_cases

    path = tmp_path / "orders.toml"
    path.write_text(
        '[[case]]\nname = "tutorial f-second"\nexpression = "2*x**3+4*x**2+5*x+6"\n'
        'at = [0.5, 1.0]\norder = 2\nbackends = ["analytic", "finite-diff"]\n'
        'expect = "12*x + 8"\n'
        '[[case]]\nname = "wrong"\nexpression = "x*y"\nat = [{x = 1, y = 2}]\n'
        'order = 2\nwrt = ["x", "y"]\nbackends = ["analytic"]\nexpect = { "x,y" = 2.0 }\n',
        encoding="utf-8",
    )
    good, wrong = load_suite(path).cases
    assert good.request.wrt == ("x,x",) and wrong.request.wrt == ("x,y",)
    results = run_cases([good, wrong], isolate=False)
    assert [r.outcome for r in results] == ["passed", "failed"]
    assert results[1].problems == [
        "expect: d²f/dxdy at x = 1.0, y = 2.0 should be 2.0, the exact derivative is 1.0 "
        "(off by 1)"
    ]
    path.write_text('[[case]]\nname = "a"\nexpression = "x"\nat = [1]\norder = 9\n')
    with pytest.raises(ConfigError, match="order 9: give a whole number from 1 to 4"):
        load_suite(path)


def test_cli_order_2_json_and_refusals(gradcheck) -> None:
    done = gradcheck(MIXED, "--at", "x=1,y=2", "--order", "2", "--wrt", "x", "--wrt", "y",
                     "--backends", "analytic,torch", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["order"] == 2 and data["wrt"] == ["x,y"] and data["mode"] == "reverse"
    assert data["derivative_expressions"] == {"x,y": "-x*y*sin(x*y) + cos(x*y) + 1"}
    torch_row = next(r for r in data["results"] if r["backend"] == "torch")
    assert torch_row["wrt"] == "x,y" and torch_row["order"] == 2
    assert torch_row["method"] == "torch.autograd.grad ×2 (reverse)"
    assert torch_row["status"] == "ok" and torch_row["ulp_error"] <= 256
    for args, message in (
        (["--order", "5"], "--order 5: give a whole number from 1 to 4"),
        (["--order", "3", "--wrt", "x", "--wrt", "y"], "--order 3 with --wrt x --wrt y"),
        (["--mode", "sideways"], "Invalid value for '--mode'"),
    ):
        refused = gradcheck(MIXED, "--at", "x=1,y=2", *args)
        assert refused.returncode == 2, args
        assert message in refused.stderr and "Traceback" not in refused.stderr
        assert refused.stdout == ""


def test_derivatives_of_sign_of_a_compound_argument_evaluate() -> None:
    """abs of a compound argument at order >= 2: SymPy leaves Derivative(sign(u), x)
    unevaluated; the reference evaluates it (0 off u = 0) instead of raising."""
    import math

    expr = parse("sin((log(log(abs((x-(y/x)))))/2))")
    found = reference(expr, {"x": np.array([4.0]), "y": np.array([0.5])}, ("x,x,x,x",))
    value = float(found.derivatives["x,x,x,x"][0])
    assert math.isclose(value, -0.04940768981665162, rel_tol=1e-15)
    assert "Derivative" not in found.derivative_expressions["x,x,x,x"]
