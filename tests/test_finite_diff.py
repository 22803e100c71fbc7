"""Finite differences against the exact reference: each method within its own error
estimate (so the estimate bounds the true error), the estimate small enough to mean
something, and the complex step within a few ULPs wherever nothing cancels."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from corpus import CORPUS, TUTORIAL, Case, parse

from autograd_cli.backends import REGISTRY, backend_class
from autograd_cli.backends.differences import (
    NOT_ANALYTIC,
    central_differences,
    complex_ops,
    complex_step,
    numpy_ops,
    tangent_magnitude,
    uses,
)
from autograd_cli.backends.finite_diff import FiniteDiffBackend
from autograd_cli.core.dtypes import DTYPES
from autograd_cli.execution import runner
from autograd_cli.expr.walk import missing_ops
from autograd_cli.inputs import build_request
from autograd_cli.truth.point import Reference, reference

#: An estimate must bound the error and also say something: at most this much
#: relative to max(1, |f'|). The corpus's worst: 3.1e-5 and 5.8e-14 for the complex
#: step, 4.5e-4 and 3.6e-11 for central differences.
USEFUL = {
    ("complex", "float32"): 1e-4,
    ("complex", "float64"): 2e-13,
    ("central", "float32"): 2e-3,
    ("central", "float64"): 1e-9,
}

ANALYTIC_CASES = [c for c in CORPUS if not uses(c.expr, NOT_ANALYTIC)]
ABS_CASES = [c for c in CORPUS if uses(c.expr, NOT_ANALYTIC)]


@functools.cache
def _reference(text: str, dtype: str) -> Reference:
    case = next(c for c in CORPUS if c.text == text)
    return reference(case.expr, case.inputs(dtype), case.variables)


def _ulps(actual: np.ndarray, exact: np.ndarray, dtype: str) -> np.ndarray:
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(actual.astype(np.float64) - exact) / spacing


def _assert_bounded(actual: np.ndarray, error: np.ndarray, exact: np.ndarray, label: str,
                    useful: float) -> None:
    true = np.abs(actual.astype(np.float64) - exact)
    assert np.all(np.isfinite(error)), label
    assert np.all(true <= error), f"{label}: true {true} > estimate {error}"
    assert np.all(error <= useful * np.maximum(1.0, np.abs(exact))), f"{label}: {error}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CORPUS, ids=[c.text for c in CORPUS])
def test_backend_on_corpus_within_its_estimate(case: Case, dtype: str) -> None:
    result = FiniteDiffBackend().evaluate(case.expr, case.inputs(dtype), case.variables, dtype)
    ref = _reference(case.text, dtype)
    n = len(next(iter(case.points.values())))
    kind = "central" if case in ABS_CASES else "complex"
    assert result.method.startswith("central differences" if kind == "central" else "complex")
    assert result.values.dtype == np.dtype(dtype) and result.values.shape == (n,)
    assert float(np.max(_ulps(result.values, ref.values, dtype))) <= 256
    estimates = result.extra["error_estimate"]
    assert set(estimates) == set(case.variables)
    for k in case.variables:
        d = result.derivatives[k]
        assert d.dtype == np.dtype(dtype) and d.shape == (n,) and estimates[k].shape == (n,)
        _assert_bounded(d, estimates[k], ref.derivatives[k], f"d/d{k}", USEFUL[kind, dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CORPUS, ids=[c.text for c in CORPUS])
def test_central_differences_on_corpus_within_estimate(case: Case, dtype: str) -> None:
    """Richardson on every case, not only those with abs that the backend sends it."""
    ref = _reference(case.text, dtype)
    for k in case.variables:
        found = central_differences(case.expr, case.inputs(dtype), k, dtype)
        _assert_bounded(found.derivative.astype(dtype), found.error, ref.derivatives[k],
                        f"d/d{k}", USEFUL["central", dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ANALYTIC_CASES, ids=[c.text for c in ANALYTIC_CASES])
def test_complex_step_few_ulps_unless_cancelling(case: Case, dtype: str) -> None:
    """Exact to rounding: within 4 ULPs where the chain rule's terms do not cancel
    (their absolute sum is at most twice the derivative); elsewhere within the
    frameworks' 256 ULPs (the worst on the corpus: 60, for x*y + sin(x*y))."""
    inputs = case.inputs(dtype)
    ref = _reference(case.text, dtype)
    for k in case.variables:
        found = complex_step(case.expr, inputs, k, dtype)
        exact = ref.derivatives[k]
        ulps = _ulps(found.derivative.astype(dtype), exact, dtype)
        clean = tangent_magnitude(case.expr, inputs, k) <= 2 * np.abs(exact)
        assert np.all(ulps[clean] <= 4), f"d/d{k}: {ulps}"
        assert np.all(ulps <= 256), f"d/d{k}: {ulps}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_tutorial_at_one_half(dtype: str) -> None:
    x = {"x": np.array([0.5], dtype=dtype)}
    result = FiniteDiffBackend().evaluate(parse(TUTORIAL), x, ("x",), dtype)
    assert result.values.tolist() == [9.75] and result.derivatives["x"].tolist() == [10.5]
    assert result.method == f"complex step (h=2**{-33 if dtype == 'float32' else -66})"
    central = central_differences(parse(TUTORIAL), x, "x", dtype)
    assert abs(central.derivative[0] - 10.5) <= central.error[0]
    assert central.error[0] <= USEFUL["central", dtype] * 10.5


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("text", ["x**2*y", "abs(x)*y**2 + x"])
def test_partials_and_variables_not_used(text: str, dtype: str) -> None:
    inputs = {
        "x": np.array([3.0, 1.0, -2.0], dtype=dtype),
        "y": np.array([2.0, 1.0, 0.5], dtype=dtype),
        "z": np.array([7.0, 8.0, 9.0], dtype=dtype),
    }
    result = FiniteDiffBackend().evaluate(parse(text), inputs, ("x", "y", "z", "w"), dtype)
    x, y = inputs["x"].astype(np.float64), inputs["y"].astype(np.float64)
    if text == "x**2*y":
        expected = {"x": 2 * x * y, "y": x**2}
    else:
        expected = {"x": np.sign(x) * y**2 + 1, "y": 2 * np.abs(x) * y}
    estimates = result.extra["error_estimate"]
    for k, exact in expected.items():
        assert np.all(np.abs(result.derivatives[k] - exact) <= estimates[k]), k
        assert np.allclose(result.derivatives[k], exact, rtol=1e-5)
    for k in ("z", "w"):
        assert result.derivatives[k].tolist() == [0.0] * 3 and estimates[k].tolist() == [0.0] * 3


def test_overflow_and_constants_in_the_compared_dtype() -> None:
    inputs = {"x": np.array([1.0, 2.0], dtype=np.float32)}
    result = FiniteDiffBackend().evaluate(parse("9.0**41 + x"), inputs, ("x",), "float32")
    assert np.all(np.isposinf(result.values)) and result.derivatives["x"].tolist() == [1.0, 1.0]
    flat = FiniteDiffBackend().evaluate(parse("2*pi + 1"), inputs, ("x",), "float32")
    assert np.all(flat.values == np.float32(2 * np.pi + 1)) and flat.values.dtype == np.float32
    assert flat.derivatives["x"].tolist() == [0.0, 0.0]


def test_complex_step_off_the_real_domain_is_nan() -> None:
    """numpy's complex branches would give a value where the real function has none."""
    x = {"x": np.array([-1.0, 0.0, 4.0])}
    for text in ("sqrt(x)", "log(x)", "log10(x)", "x**0.5", "asin(x - 3)"):
        d = FiniteDiffBackend().evaluate(parse(text), x, ("x",), "float64").derivatives["x"]
        assert np.isnan(d[0]), text
    cube = FiniteDiffBackend().evaluate(parse("x**3"), x, ("x",), "float64")
    assert np.allclose(cube.derivatives["x"], [3.0, 0.0, 48.0], rtol=0, atol=1e-30)  # h**2 at 0
    assert np.isnan(complex_step(parse("sqrt(x)"), x, "x", "float64").derivative[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_ops_tables_complete(dtype: str) -> None:
    assert missing_ops(numpy_ops(dtype)) == set()
    assert missing_ops(complex_ops(dtype)) == set()
    assert missing_ops(FiniteDiffBackend().ops(dtype)) == set()


def test_metadata() -> None:
    cls = backend_class("finite-diff")
    assert cls is FiniteDiffBackend and cls.name == "finite-diff"
    assert cls.module is None and cls.is_installed() and cls.distributions == ("numpy",)
    assert cls.isolated is False
    assert list(REGISTRY)[:5] == ["analytic", "torch", "tensorflow", "jax", "finite-diff"]


def test_runs_in_process_and_extra_crosses_both_paths() -> None:
    """finite-diff is computed here (no worker); analytic in a worker. Both rows carry
    their backend's ``extra``."""
    request = build_request("x*y + abs(x)", ["x=0.5,y=2", "x=-1,y=3"], dtype="float64",
                            backends=("analytic", "finite-diff"))
    with runner.Pool(("analytic", "finite-diff")) as pool:
        rows = {row.backend: row for row in pool.submit(request).results()}
        assert "finite-diff" not in pool.spawns and pool.spawns.get("analytic") == 1
    fd, exact = rows["finite-diff"], rows["analytic"]
    assert fd.status == "ok" and exact.status == "ok", (fd.reason, exact.reason)
    assert fd.method == "central differences + Richardson"
    assert exact.extra["derivative_expressions"] == {"x": "y + sign(x)", "y": "x"}
    estimate = fd.extra["error_estimate"]
    for k in ("x", "y"):
        assert estimate[k].shape == (2,)
        assert np.all(np.abs(fd.derivatives[k] - exact.derivatives[k]) <= estimate[k])


def test_estimate_shown_beside_the_true_error(gradcheck) -> None:
    """Table and JSON put finite-diff's own estimate next to its error against the
    truth, and the estimate bounds that error; other rows have none."""
    import json

    args = ["abs(x)*exp(x)", "--at", "0.3", "--at", "-1.5", "--backends",
            "analytic,finite-diff,torch"]
    done = gradcheck(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["results"]
    estimated = [row for row in rows if row["error_estimate"] is not None]
    assert {row["backend"] for row in estimated} == {"finite-diff"}
    assert len(estimated) == 2
    for row in estimated:
        assert 0 < row["abs_error"] <= row["error_estimate"]
    table = gradcheck(*args)
    header = next(line for line in table.stdout.splitlines() if "abs err" in line)
    assert header.index("abs err") < header.index("est. err") < header.index("rel err")
    plain = gradcheck("abs(x)*exp(x)", "--at", "0.3", "--backends", "analytic,torch")
    assert "est. err" not in plain.stdout


def test_kinked_and_special_functions_take_the_complex_step() -> None:
    """The kinked functions choose their piece by the real part and lgamma reflects
    below 1/2, so the complex step stays exact off the kinks (float32 here: within its
    estimate and 4 ULPs of closed forms; without reducing sin(pi*x)'s argument lgamma
    was 9 ULPs off at -2.5); erfinv has no complex extension: central differences."""
    x = {"x": np.array([-2.5, -0.75, 0.5, 3.5], dtype=np.float32)}
    xd = x["x"].astype(np.float64)
    from scipy import special

    expected = {
        "relu6(x)": 1.0 * ((xd > 0) & (xd < 6)),
        "leaky_relu(x, 0.2)": np.where(xd > 0, 1.0, float(np.float32(0.2))),
        "clip(x, -1, 1)": 1.0 * (np.abs(xd) < 1),
        "lgamma(x)": special.psi(xd),
        "softsign(x)": 1 / (1 + np.abs(xd)) ** 2,
        "sign(x) + floor(x)": 0 * xd,
    }
    for text, exact in expected.items():
        found = FiniteDiffBackend().evaluate(parse(text), x, ("x",), "float32")
        assert found.method.startswith("complex step"), text
        error = np.abs(found.derivatives["x"] - exact)
        assert np.all(error <= found.extra["error_estimate"]["x"]), (text, found)
        assert np.all(_ulps(found.derivatives["x"], exact, "float32") <= 4), (text, found)
    central = FiniteDiffBackend().evaluate(parse("erfinv(x/4)"), x, ("x",), "float32")
    assert central.method == "central differences + Richardson"
    exact = np.sqrt(np.pi) / 8 * np.exp(special.erfinv(xd / 4) ** 2)
    assert np.all(np.abs(central.derivatives["x"] - exact) <= central.extra["error_estimate"]["x"])
