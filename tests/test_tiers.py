"""Verdict tiers ([2/7]): ok within the noise floor + 2 ULPs, wrong for zeros, NaNs,
wrong signs and lost bits, inaccurate in between; the issue's examples through the real
frameworks, and each tier boundary through :func:`errors` itself."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from autograd_cli.comparison.points import run_check
from autograd_cli.comparison.verdicts import (
    DEFAULT_TOLERANCES,
    TIER_INACCURATE,
    TIER_OK,
    TIER_WRONG,
    errors,
    tolerance_for,
    ulp,
    wrong_threshold,
)
from autograd_cli.inputs import build_request

FRAMEWORKS = ("analytic", "torch", "tensorflow", "jax")


def check(text: str, at: str, dtype: str = "float32", backends=FRAMEWORKS, **tolerance):
    request = build_request(text, [at], dtype=dtype, backends=backends)
    return run_check(request, tolerance_for(dtype, **tolerance), isolate=False)


def by_backend(report) -> dict:
    return {row.backend: row for row in report.rows}


# --------------------------------------------------------------------------- the examples


def test_sigmoid_flushed_to_zero_at_20_is_wrong() -> None:
    """All three frameworks return 0 for sigmoid'(20) = 2.06e-9, a normal float32."""
    report = check("sigmoid(x)", "20")
    rows = by_backend(report)
    assert rows["analytic"].status == "ok"
    assert rows["analytic"].noise_floor is not None
    assert rows["analytic"].noise_floor < 1e-6 * rows["analytic"].exact
    for name in ("torch", "tensorflow", "jax"):
        assert rows[name].derivative == 0.0
        assert rows[name].status == "wrong", rows[name]
    assert report.exit_code == 1
    assert report.verdict().startswith("FAIL: 3 rows wrong")


def test_cancelling_identity_is_rounding_not_error() -> None:
    """(x+2)**3 - x**3 - 6x**2 - 12x is the constant 8: the terms cancel, and every
    framework is as accurate as float32 evaluation of them allows."""
    from autograd_cli.comparison import sweep

    plan, _ = sweep.build_sweep("(x+2)**3 - x**3 - 6*x**2 - 12*x", ("-40", "40"), num="801",
                                backends=FRAMEWORKS)
    report = sweep.run_sweep(plan, tolerance_for("float32"), isolate=False)
    for row in report.rows:
        assert (row.backend, row.status, row.wrong) == (row.backend, "ok", 0)
        assert row.max_noise_floor is not None and row.max_noise_floor > 1e-4
    assert report.exit_code == 0


def test_a_flushed_subnormal_input_is_wrong_with_its_cause() -> None:
    """abs'(-3e-39) is -1 (IEEE gradual underflow keeps -3e-39): torch gets it; a
    backend that flushes the subnormal to zero does not, and is told why."""
    report = check("abs(x)", "-3e-39")
    rows = by_backend(report)
    assert rows["torch"].status == "ok" and rows["torch"].derivative == -1.0
    for name in ("tensorflow", "jax"):
        if rows[name].derivative == -1.0:
            continue  # this build keeps subnormals: nothing to name
        assert rows[name].status == "wrong"
        assert "flushes subnormals to zero" in (rows[name].reason or "")
    assert all(row.status not in ("underflow", "overflow") for row in report.rows)


@pytest.mark.parametrize(("text", "at"), [("log(1+exp(x))", "100"),
                                           ("1/(1+exp(-x))", "-100")])
def test_the_same_overflow_is_labelled_the_same_way(text: str, at: str) -> None:
    """exp(100) overflows float32 in every IEEE evaluation of either expression as
    written: both label it overflow, in those words, not "as expected"."""
    report = check(text, at, backends=("analytic", "torch"))
    torch = by_backend(report)["torch"]
    if torch.status == "ok":
        return  # a framework that avoids the overflow is simply right
    assert torch.status == "overflow", torch
    assert "every IEEE evaluation of the expression as written overflows" in (torch.reason or "")
    assert not any("as expected" in line for line in report.warnings)


def test_tanh_from_one_minus_tanh_squared_is_inaccurate_not_wrong() -> None:
    """tanh'(3) computed as 1 - tanh(3)**2 in float32 is tens of ULPs off: shown as
    inaccurate with its ULPs; the run passes unless --strict or a tolerance is given."""
    report = check("tanh(x)", "3")
    rows = by_backend(report)
    assert rows["analytic"].status == "ok"
    statuses = {rows[name].status for name in ("torch", "tensorflow", "jax")}
    assert statuses <= {"ok", "inaccurate"}
    off = [rows[n] for n in ("torch", "tensorflow", "jax") if rows[n].status == "inaccurate"]
    assert off, "no framework computes tanh' as 1 - tanh**2 any more: update the example"
    assert all(row.ulp_error > 2 for row in off)
    assert report.exit_code == 0 and "inaccurate (fails with --strict)" in report.verdict()
    strict = run_check(build_request("tanh(x)", ["3"], backends=FRAMEWORKS),
                       tolerance_for("float32"), isolate=False, strict=True)
    assert strict.exit_code == 1
    assert check("tanh(x)", "3", max_ulps=4).exit_code == 1


def test_cli_json_carries_floor_and_tier(gradcheck) -> None:
    done = gradcheck("sigmoid(x)", "--at", "20", "--backends", "analytic,torch",
                     "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["schema_version"] == 2
    assert data["tolerance"]["noise_floor"] is True
    torch = next(r for r in data["results"] if r["backend"] == "torch")
    assert (torch["status"], torch["tier"]) == ("wrong", "wrong")
    assert 0 < torch["noise_floor"] < 1e-14
    table = gradcheck("sigmoid(x)", "--at", "20", "--backends", "analytic,torch")
    assert "floor" in table.stdout.splitlines()[4] and "wrong" in table.stdout


# --------------------------------------------------------------------------- boundaries


def judge(computed: float, exact: float, floor: float = 0.0, dtype: str = "float32",
          tolerance=None, estimate: float | None = None) -> int:
    found = errors(np.array([computed]), np.array([exact]), np.zeros(1), dtype,
                   tolerance or DEFAULT_TOLERANCES[dtype], floor=np.array([floor]),
                   estimate=None if estimate is None else np.array([estimate]))
    return int(found.tier_codes()[0])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_each_tier_boundary(dtype: str) -> None:
    exact = 1.2345
    step = float(ulp(np.array([exact]), dtype)[0])
    floor = 3 * step
    # ok up to floor + 2 ULPs, inaccurate just beyond
    assert judge(exact + 5 * step, exact, floor, dtype) == TIER_OK
    assert judge(exact + 6 * step, exact, floor, dtype) == TIER_INACCURATE
    # wrong from 2**-(p/2) of max(|exact|, floor) on
    limit = wrong_threshold(dtype) * exact
    assert judge(exact + 0.99 * limit, exact, floor, dtype) == (
        TIER_INACCURATE if 0.99 * limit > floor + 2 * step else TIER_OK)
    assert judge(exact + 1.01 * limit, exact, floor, dtype) == TIER_WRONG
    # zero, NaN, inf and the wrong sign are wrong wherever they are beyond the allowance
    for bad in (0.0, math.nan, math.inf, -exact):
        assert judge(bad, exact, floor, dtype) == TIER_WRONG
    # ... and ok within it: an exact 0 within a large floor (cancellation)
    assert judge(0.0, 1e-9, floor=1e-6, dtype=dtype) == TIER_OK
    assert judge(-1e-7, 1e-9, floor=1e-6, dtype=dtype) == TIER_OK


def test_an_explicit_tolerance_keeps_its_plain_meaning() -> None:
    given = tolerance_for("float32", rtol=1e-5)
    assert given.explicit and given.atol == 0.0 and given.max_ulps is None
    assert judge(1.000005, 1.0, tolerance=given) == TIER_OK  # within rtol, no floor needed
    assert judge(1.0001, 1.0, floor=1.0, tolerance=given) == TIER_INACCURATE  # floor ignored
    assert judge(0.0, 1.0, tolerance=given) == TIER_WRONG
    assert tolerance_for("float32") == DEFAULT_TOLERANCES["float32"]
    assert DEFAULT_TOLERANCES["float32"].describe() == "noise floor + 2 ULPs"


def test_finite_diff_is_judged_by_its_own_estimate() -> None:
    exact = 2.0
    assert judge(exact + 1e-4, exact, floor=0.0, estimate=2e-4) == TIER_OK
    assert judge(exact + 1e-4, exact, floor=0.0, estimate=1e-5) == TIER_INACCURATE
    assert judge(exact + 1e-4, exact, floor=0.0, estimate=math.nan) == TIER_INACCURATE


def test_subnormal_exact_values_are_in_range_now() -> None:
    """A subnormal exact derivative is a float32 value: no underflow label for it."""
    from autograd_cli.comparison.verdicts import range_statuses

    hi = np.array([1e-40, 1e-46])
    _, underflow = range_statuses(np.zeros(2), hi, np.zeros(2), "float32",
                                  np.array([False, False]))
    assert underflow.tolist() == [False, True]


# --------------------------------------------------------------------------- property

from hypothesis import HealthCheck, assume, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_properties import FRAMEWORKS as FRAMEWORK_CLASSES  # noqa: E402
from test_properties import (  # noqa: E402
    KNOWN_INACCURATE,
    expressions,
    functions_of,
    well_conditioned,
)

from autograd_cli import truth  # noqa: E402
from autograd_cli.backends.base import Unsupported  # noqa: E402
from autograd_cli.expr.nodes import variables  # noqa: E402
from autograd_cli.expr.parser import ExpressionError, parse  # noqa: E402
from autograd_cli.truth.noise_floor import noise_floor  # noqa: E402


@pytest.mark.skipif(not FRAMEWORK_CLASSES, reason="no autodiff framework installed")
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(expressions(), st.sampled_from(["float32", "float64"]))
def test_rounding_alone_is_never_wrong(text: str, dtype: str) -> None:
    """Random grammar expressions at well-conditioned points: the real frameworks
    compute in ``dtype`` with nothing but rounding between them and the math, so no
    row may be ``wrong`` (and the noise floor is what keeps cancellation ok)."""
    try:
        expr = parse(text)
    except ExpressionError:
        assume(False)
        raise
    names = variables(expr)
    assume(names)
    points, _ = well_conditioned(expr, names)
    assume(points)
    cast = np.float32 if dtype == "float32" else np.float64
    inputs = {n: np.array([p[n] for p in points]).astype(cast).astype(np.float64)
              for n in names}
    ref = truth.reference(expr, inputs, names)
    for cls in FRAMEWORK_CLASSES:
        if cls.unsupported(expr):  # no native op for a function: a row that says so
            continue
        if functions_of(expr) & KNOWN_INACCURATE.get(cls.name, frozenset()):
            continue  # a framework error of docs/functions.md, not rounding
        try:
            result = cls().evaluate(expr, inputs, names, dtype)
        except Unsupported:  # the framework does not implement this derivative
            continue
        for name in names:
            floor = noise_floor(expr, inputs, (name,), dtype, exact=True).floor
            judged = errors(np.asarray(result.derivatives[name], dtype=np.float64),
                            ref.derivatives[name], ref.derivatives_lo[name], dtype,
                            DEFAULT_TOLERANCES[dtype], floor=floor)
            tiers = judged.tier_codes()
            note(f"{cls.name} d/d{name} {dtype}: ulps {judged.ulps}, floor {floor}")
            finite = np.isfinite(ref.derivatives[name])
            bad = np.flatnonzero((tiers == TIER_WRONG) & finite)
            assert bad.size == 0, (
                f"{cls.name} d/d{name} of {text} at {points[bad[0]]} in {dtype}: "
                f"{judged.ulps[bad[0]]:.3g} ULPs, floor {floor[bad[0]]:.3g}")


def test_suite_and_junit_show_the_tiers(gradcheck, tmp_path) -> None:
    """A wrong case fails as <failure type="wrong">; a passing case's inaccurate rows
    are a property, a <system-out> line each, and a note in the summary."""
    import xml.etree.ElementTree as ET

    suite = tmp_path / "tiers.toml"
    suite.write_text('[[case]]\nname = "tanh"\nexpression = "tanh(x)"\nat = [3]\n'
                     'backends = ["analytic", "torch"]\n\n'
                     '[[case]]\nname = "sigmoid"\nexpression = "sigmoid(x)"\nat = [20]\n'
                     'backends = ["analytic", "torch"]\n', encoding="utf-8")
    junit = tmp_path / "j.xml"
    done = gradcheck("suite", str(suite), "--junit", str(junit))
    assert done.returncode == 1, done.stderr
    assert "passed (1 inaccurate)" in done.stdout
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["sigmoid"].find("failure")
    assert failure is not None and failure.get("type") == "wrong"
    assert "1 row wrong" in failure.get("message", "")
    tanh = cases["tanh"]
    assert tanh.find("failure") is None
    assert [p.get("value") for p in tanh.iter("property") if p.get("name") == "inaccurate"] == ["1"]
    out = tanh.find("system-out")
    assert out is not None and out.text.startswith("inaccurate: torch (float32) d/dx at x = 3.0")
