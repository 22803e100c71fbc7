"""The precision matrix: float16 and bfloat16 in every backend, through the runner's
shared memory, and several dtypes in one run (a section per dtype)."""

from __future__ import annotations

import functools
import math
import sys
import textwrap
from collections.abc import Mapping
from fractions import Fraction
from typing import ClassVar

import numpy as np
import pytest
from corpus import CORPUS, TUTORIAL, Case
from hypothesis import example, given
from hypothesis import strategies as st

from autograd_cli import backends as registry
from autograd_cli import compare
from autograd_cli.backends import backend_class
from autograd_cli.backends.base import Backend, Evaluation
from autograd_cli.comparison.verdicts import DEFAULT_TOLERANCES, errors
from autograd_cli.core.dtypes import ALL_DTYPES, finfo, numpy_dtype, round_to, shortest
from autograd_cli.execution import runner
from autograd_cli.expr.nodes import Expr
from autograd_cli.inputs import InputError, build_request
from autograd_cli.report.render import render
from autograd_cli.truth.point import Reference, reference

HALVES = ("float16", "bfloat16")
FRAMEWORKS = ("torch", "tensorflow", "jax")
#: Corpus cases that every framework gets right within torch's float16/bfloat16
#: tolerances (rtol 1e-3 / 1.6e-2): no cancellation worth more than a few ULPs. Those
#: that do cancel (tanh' = 1 - tanh**2 near 3: 25 float16 ULPs) are honest mismatches.
EASY = (TUTORIAL, "sin(x)", "cos(x)", "exp(x)", "log(x)", "sqrt(x)", "atan(x)", "2**x",
        "x**2*y")


def _case(text: str) -> Case:
    return next(c for c in CORPUS if c.text == text)


def _inputs(case: Case, dtype: str) -> dict[str, np.ndarray]:
    return {name: round_to(np.asarray(v), dtype) for name, v in case.points.items()}


@functools.cache
def _truth(text: str, dtype: str) -> Reference:
    case = _case(text)
    return reference(case.expr, _inputs(case, dtype), case.variables)


def test_round_to_rounds_once_where_a_cast_rounds_twice() -> None:
    x = np.array([1 + 2**-8 + 2**-30, 1 + 2**-8 - 2**-30, 0.1, 65520.0, -3e38, 1e-45])
    # Rounding through float32 first would land the first value on the tie 1 + 2**-8
    # and round it to even, 1.0; rounded once it is above the tie, so 1 + 2**-7.
    assert round_to(x, "bfloat16").astype(np.float64).tolist()[:2] == [1 + 2**-7, 1.0]
    assert round_to(x, "bfloat16").dtype == numpy_dtype("bfloat16")
    assert [float(v) for v in round_to(x, "float16")] == [nearest(v, "float16") for v in x]
    assert shortest(0.1, "bfloat16") == "0.1" and shortest(1.0, "bfloat16") == "1.0"
    assert float(finfo("bfloat16").eps) == 2**-7


def nearest(value: float, dtype: str) -> float:
    """The ``dtype`` value nearest to ``value``, ties to even, in exact rational
    arithmetic: the reference :func:`round_to` is held to, whatever numpy or ml_dtypes
    do in their own casts."""
    if not math.isfinite(value) or value == 0:
        return value
    precision, min_exponent = {"float16": (11, -14), "bfloat16": (8, -126)}[dtype]
    top = math.frexp(value)[1] - 1  # 2**top <= |value| < 2**(top + 1)
    quantum = max(top, min_exponent) - (precision - 1)
    rounded = round(Fraction(value) / Fraction(2) ** quantum) * Fraction(2) ** quantum
    largest = float(finfo(dtype).max)
    return math.copysign(math.inf if abs(rounded) > largest else float(abs(rounded)), value)


@pytest.mark.parametrize("dtype", HALVES)
@given(value=st.floats(allow_nan=False, width=64))
@example(value=1 + 2**-8 + 2**-30)  # a float32 cast first would round it to the tie
@example(value=1 + 2**-8)  # a tie: to even
@example(value=3 * 2**-25)  # float16's smallest subnormal and a half
@example(value=65520.0)  # float16: the first value that rounds to inf
@example(value=2.0**-133)  # bfloat16: half its smallest subnormal, a tie to 0
def test_round_to_is_the_nearest_value_of_the_dtype(dtype: str, value: float) -> None:
    got = float(round_to(np.array([value]), dtype)[0])
    want = nearest(value, dtype)
    assert got == want and math.copysign(1, got) == math.copysign(1, want), (value, got, want)


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("name", FRAMEWORKS)
def test_frameworks_in_half_precision_agree_with_the_truth(name: str, dtype: str) -> None:
    backend = backend_class(name)()
    tolerance = DEFAULT_TOLERANCES[dtype]
    for text in EASY:
        case = _case(text)
        result = backend.evaluate(case.expr, _inputs(case, dtype), case.variables, dtype)
        truth = _truth(text, dtype)
        for var in case.variables:
            got = result.derivatives[var]
            assert got.dtype == numpy_dtype(dtype), (text, var)
            judged = errors(got, truth.derivatives[var], truth.derivatives_lo[var], dtype,
                            tolerance)
            assert judged.passed.all(), (text, var, got, truth.derivatives[var])


@pytest.mark.parametrize("dtype", HALVES)
def test_finite_diff_in_half_precision_is_within_its_own_error_estimate(dtype: str) -> None:
    """Central differences in float16 cannot meet a 1-ULP tolerance (f itself is only
    good to eps), so what is checked is that the estimate it reports covers the truth."""
    backend = backend_class("finite-diff")()
    for text in (*EASY, "log10(x)", "abs(x)", "tanh(x)"):
        case = _case(text)
        result = backend.evaluate(case.expr, _inputs(case, dtype), case.variables, dtype)
        assert result.method == "central differences + Richardson"
        truth = _truth(text, dtype) if text in EASY else reference(
            case.expr, _inputs(case, dtype), case.variables)
        for var in case.variables:
            got = result.derivatives[var].astype(np.float64)
            exact = truth.derivatives[var]
            bound = result.extra["error_estimate"][var] + np.abs(exact) * float(
                finfo(dtype).eps)
            assert np.all(np.abs(got - exact) <= bound), (text, var, got, exact)


class HalfSquare(Backend):
    """x**2 in numpy in any dtype: 2-byte arrays through the workers' shared memory,
    with no framework to import."""

    name: ClassVar[str] = "half_square"
    method: ClassVar[str] = "numpy"
    dtypes: ClassVar[tuple[str, ...]] = ALL_DTYPES

    def evaluate(
        self, expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], dtype: str
    ) -> Evaluation:
        x = np.asarray(inputs["x"])
        assert x.dtype == numpy_dtype(dtype)
        return Evaluation(x * x, {"x": x + x}, self.method, dtype)


def test_two_byte_dtypes_cross_the_shared_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.REGISTRY, "half_square", f"{__name__}:HalfSquare")
    points = [0.1, -2.5, 3.0, 1e-6, 70000.0]
    with runner.Pool(["half_square"]) as pool:
        for dtype in HALVES:
            request = build_request("x**2", [repr(p) for p in points], (), dtype,
                                    ("half_square",))
            [row] = pool.submit(request).results()
            assert row.status == "ok", row.reason
            x = round_to(np.asarray(points), dtype)
            assert row.values is not None and row.values.dtype == numpy_dtype(dtype)
            assert row.values.tobytes() == (x * x).tobytes()
            assert row.derivatives["x"].tobytes() == (x + x).tobytes()
    assert pool.spawns == {"half_square": 1}


def test_a_backend_without_the_dtype_gives_a_row_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(registry.REGISTRY, "half_square", f"{__name__}:HalfSquare")
    monkeypatch.setattr(HalfSquare, "dtypes", ("float32",))
    request = build_request("x**2", ["0.5"], (), "bfloat16", ("half_square",))
    [row] = runner.start(request, ["half_square"]).results()
    assert (row.status, row.reason) == ("unavailable", "half_square does not compute in bfloat16")


def test_bfloat16_without_ml_dtypes_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # as if not installed
    with pytest.raises(InputError, match="bfloat16 needs the ml_dtypes package"):
        build_request("x", ["1"], (), "bfloat16")


def test_a_comma_list_is_one_report_grouped_by_dtype() -> None:
    report = compare(TUTORIAL, at=[0.1, 3.0], dtype="float16,bfloat16,float32",
                     backends="analytic,finite-diff,torch")
    dtypes = ["float16", "bfloat16", "float32"]
    assert report.dtypes == dtypes
    assert [row.dtype for row in report.rows] == [d for d in dtypes for _ in range(6)]
    assert {row.point["x"] for row in report.rows if row.dtype == "bfloat16"} == {
        0.10009765625, 3.0}
    analytic = [row for row in report.rows if row.backend == "analytic"]
    assert all(row.ulp_error is not None and row.ulp_error <= 0.5 for row in analytic)
    assert all(row.status == "ok" for row in report.rows if row.backend == "torch")
    # central differences at x = 3 in 11 or 8 bits: a few ULPs, within the error they
    # estimate themselves, which is what finite-diff is judged by
    assert report.exit_code == 0
    finite = [row for row in report.rows if row.backend == "finite-diff"]
    assert max(row.ulp_error for row in finite) >= 2
    assert all(row.status == "ok" and row.abs_error <= row.error_estimate + row.noise_floor
               for row in finite)
    assert report.verdict().startswith("OK: all 3 backends agree")
    data = report.to_dict()
    assert (data["dtype"], data["tolerance"], data["dtypes"]) == (None, None, dtypes)
    assert data["tolerances"]["float16"] == {"rtol": 0.0, "atol": 0.0, "max_ulps": 2.0,
                                             "noise_floor": True}
    assert [r["dtype"] for r in data["results"]] == [row.dtype for row in report.rows]
    table = render(report, "table").splitlines()
    header = next(i for i, line in enumerate(table) if line.lstrip().startswith("dtype"))
    sections = [line.split("│")[0].strip() for line in table[header + 2:] if "│" in line]
    assert sections == [d for d in dtypes for _ in range(6)]
    assert sum(1 for line in table if line.startswith("────")) == 5  # 3 dtypes x 2 points
    single = compare(TUTORIAL, at=0.5, dtype="bfloat16", backends="analytic").to_dict()
    assert (single["dtype"], single["dtypes"]) == ("bfloat16", ["bfloat16"])


def test_sweeps_and_suites_take_the_new_dtypes(tmp_path) -> None:
    from autograd_cli.comparison import sweep
    from autograd_cli.comparison.verdicts import tolerance_for
    from autograd_cli.report import sinks
    from autograd_cli.suite import run as suite

    request, _ = sweep.build_sweep("sin(x)*x", ("-2", "2"), num="201", dtype="bfloat16",
                                   backends=("analytic", "finite-diff"))
    report = sweep.run_sweep(request, tolerance_for("bfloat16"), isolate=False)
    analytic, finite = report.rows
    assert (analytic.points, analytic.status) == (201, "ok")
    assert analytic.max_ulp_error is not None and analytic.max_ulp_error <= 0.5
    assert finite.status in ("ok", "inaccurate") and finite.points == 201
    assert sinks.shortest_texts(round_to(np.array([0.1, 2.0]), "bfloat16")) == ["0.1", "2.0"]
    path = tmp_path / "halves.toml"
    path.write_text(textwrap.dedent("""
        [[case]]
        name = "sine"
        expression = "sin(x)"
        at = [0.5]
        dtype = ["float16", "bfloat16"]
    """))
    cases = suite.load_suite(path).cases
    assert [case.request.dtype for case in cases] == ["float16", "bfloat16"]
    assert cases[1].tolerance == DEFAULT_TOLERANCES["bfloat16"]


def test_the_command_refuses_an_unknown_dtype_in_a_list(gradcheck) -> None:
    """(Sweeps in several dtypes are tests/test_sweep_dtypes.py's.)"""
    done = gradcheck("sin(x)", "--range", "0", "1", "--dtype", "float32,float8")
    assert done.returncode == 2 and "unknown dtype 'float8'" in done.stderr
    done = gradcheck("sin(x)", "--at", "1", "--dtype", "float16,float8")
    assert done.returncode == 2 and "unknown dtype 'float8'" in done.stderr
