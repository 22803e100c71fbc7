"""``gradcheck suite FILE --baseline OLD.json``: each case against the same case of an
earlier suite JSON; a case that got worse exits 1, a bad baseline 2 before any case runs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from autograd_cli.report.diff import NotComparable, compare_suites, load_suite_baseline

SUITE = """
    name = "demo"
    [defaults]
    backends = ["analytic"]

    [[case]]
    name = "square"
    expression = "x**2"
    at = 3

    [[case]]
    name = "sine"
    expression = "sin(x)"
    at = 1
"""
# With an explicit tolerance of 0, analytic's x/3 is inaccurate and the case fails.
TIGHT = SUITE + """
    [[case]]
    name = "third"
    expression = "x/3"
    at = 1
    max-ulps = 0
    rtol = 0
"""


def write(folder: Path, text: str, name: str = "suite.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def baseline(gradcheck: Any, tmp_path: Path, text: str = SUITE,
             code: int = 0) -> tuple[Path, Path]:
    suite = write(tmp_path, text)
    base = tmp_path / "base.json"
    result = gradcheck("suite", str(suite), "--format", "json", "-o", str(base))
    assert result.returncode == code, result.stderr
    return suite, base


def edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change({case["id"]: case for case in data["cases"]})
    path.write_text(json.dumps(data), encoding="utf-8")


def test_same_run_is_no_regression(gradcheck, tmp_path):
    suite, base = baseline(gradcheck, tmp_path)
    result = gradcheck("suite", str(suite), "--baseline", str(base))
    assert result.returncode == 0, result.stderr
    assert "OK: 2 cases passed" in result.stdout
    assert "baseline: 2 cases compared, 0 worse, 0 new, 0 missing" in result.stderr
    assert "regression:" not in result.stderr


def test_a_case_that_got_worse_exits_1(gradcheck, tmp_path):
    suite, base = baseline(gradcheck, tmp_path, TIGHT, code=1)
    # claim the baseline had x/3 ok
    assert json.loads(base.read_text())["cases"][2]["report"]["results"][0]["status"] \
        == "inaccurate"

    def better(cases: dict[str, Any]) -> None:
        cases["third"]["report"]["results"][0]["status"] = "ok"

    edit(base, better)
    result = gradcheck("suite", str(suite), "--baseline", str(base), "--format", "json")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["exit_code"] == 1  # the suite's own output unchanged
    lines = result.stderr.splitlines()
    regressions = [line for line in lines if line.startswith("regression:")]
    assert len(regressions) == 1
    assert regressions[0].startswith("regression: demo::third: REGRESSION: 1 row worse")
    assert "(ok -> inaccurate)" in regressions[0]
    assert lines[-1] == "baseline: 3 cases compared, 1 worse, 0 new, 0 missing"


def test_new_missing_and_changed_cases_are_reported_not_failed(gradcheck, tmp_path):
    suite, base = baseline(gradcheck, tmp_path)

    def rename(cases: dict[str, Any]) -> None:
        cases["square"]["id"] = "old square"
        cases["sine"]["report"]["expression"] = "cos(x)"
        cases["sine"]["report"]["exact_expression"] = "cos(x)"

    edit(base, rename)
    result = gradcheck("suite", str(suite), "--baseline", str(base))
    assert result.returncode == 0, result.stderr
    assert "demo::sine: changed definition" in result.stderr
    assert "demo::square: new" in result.stderr
    assert "demo::old square: missing" in result.stderr
    assert "baseline: 0 cases compared, 0 worse, 1 new, 1 missing" in result.stderr


def test_missing_baseline_exits_2_before_any_case(gradcheck, tmp_path):
    suite = write(tmp_path, SUITE)
    result = gradcheck("suite", str(suite), "--baseline", str(tmp_path / "nope.json"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: --baseline: {tmp_path / 'nope.json'}: no such file"]


def test_not_a_suite_json_exits_2(gradcheck, tmp_path):
    suite = write(tmp_path, SUITE)
    point = tmp_path / "point.json"
    result = gradcheck("x**2", "--at", "3", "--backends", "analytic", "--format", "json",
                       "-o", str(point))
    assert result.returncode == 0, result.stderr
    for bad in (point, suite):
        result = gradcheck("suite", str(suite), "--baseline", str(bad))
        assert result.returncode == 2
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1
        assert "Traceback" not in result.stderr
    assert "not a gradcheck suite JSON report" in (
        gradcheck("suite", str(suite), "--baseline", str(point)).stderr)


def test_helpers_without_the_command(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"schema_version": 2, "results": []}), encoding="utf-8")
    try:
        load_suite_baseline(path)
    except NotComparable as error:
        assert "not a gradcheck suite JSON report" in str(error)
    else:
        raise AssertionError("a point report read as a suite")
    empty = {"schema_version": 1, "cases": []}
    found = compare_suites(empty, empty)
    assert found.exit_code == 0
    assert found.lines() == ["baseline: 0 cases compared, 0 worse, 0 new, 0 missing"]


def test_worse_alone_makes_exit_code_1(gradcheck, tmp_path):
    """A row worse than the baseline while the case itself passes (no analytic row is
    inaccurate without an explicit tolerance, so the new side is edited in memory)."""
    _, base = baseline(gradcheck, tmp_path)
    old = load_suite_baseline(base)
    new = json.loads(base.read_text(encoding="utf-8"))
    new["cases"][1]["report"]["results"][0]["status"] = "wrong"
    found = compare_suites(old, new)
    assert found.worse == ["demo::sine"] and found.exit_code == 1
    assert found.lines()[0].startswith("regression: demo::sine: REGRESSION: 1 row worse")
    assert found.lines()[-1] == "baseline: 2 cases compared, 1 worse, 0 new, 0 missing"


def test_a_regression_alone_fails_a_passing_suite(gradcheck, tmp_path):
    """torch's tanh'(3) is inaccurate, which passes a suite; a baseline in which it was
    ok makes the same run a regression: exit 1 from the baseline alone."""
    text = """
        name = "tiers"
        [[case]]
        name = "tanh"
        expression = "tanh(x)"
        at = 3
        backends = ["analytic", "torch"]
    """
    suite, base = baseline(gradcheck, tmp_path, text)
    assert gradcheck("suite", str(suite)).returncode == 0  # inaccurate does not fail

    def was_ok(cases: dict) -> None:
        for row in cases["tanh"]["report"]["results"]:
            if row["backend"] == "torch":
                assert row["status"] == "inaccurate"
                row["status"] = row["tier"] = "ok"

    edit(base, was_ok)
    done = gradcheck("suite", str(suite), "--baseline", str(base))
    assert done.returncode == 1, done.stderr
    assert "regression: tiers::tanh:" in done.stderr and "(ok -> inaccurate)" in done.stderr
    assert "Traceback" not in done.stderr
