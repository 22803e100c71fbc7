"""``gradcheck diff OLD.json NEW.json`` through the installed command, and the
``produced_by`` it reads: two real runs, the second one's JSON edited as an upgrade
would change it (other bits, a regression, a new version, a row gone)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograd_cli import __version__

ROOT = Path(__file__).resolve().parent.parent
GRADCHECK = Path(sys.executable).parent / "gradcheck"  # as in conftest.py
EXPRESSION = "2*x**3+4*x**2+5*x+6"
POINT_ARGS = (EXPRESSION, "--at", "0.5", "--at", "1", "--backends", "analytic,torch",
              "--format", "json")
SWEEP_ARGS = (EXPRESSION, "--range", "0", "1", "--num", "11", "--backends", "analytic,torch",
              "--format", "json")

Run = Callable[..., subprocess.CompletedProcess[str]]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NO_COLOR", None)
    return subprocess.run([str(GRADCHECK), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env, timeout=120)


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    """Two point runs and two sweeps of the same check, as JSON text."""
    runs = {"point": POINT_ARGS, "point2": POINT_ARGS, "sweep": SWEEP_ARGS, "sweep2": SWEEP_ARGS}
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(runs, pool.map(lambda args: _run(*args), runs.values()), strict=True))
    for result in done.values():
        assert result.returncode == 0, result.stderr
    return {name: result.stdout for name, result in done.items()}


def _write(folder: Path, name: str, data: dict[str, Any] | str) -> str:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def _torch_row(data: dict[str, Any], x: float) -> dict[str, Any]:
    return next(r for r in data["results"] if r["backend"] == "torch" and r["point"]["x"] == x)


def _upgrade(data: dict[str, Any], version: str = "2.99.0") -> None:
    data["produced_by"]["frameworks"]["torch"] = version
    for row in data["results"]:
        if row["backend"] == "torch":
            row["version"] = version


def test_every_json_report_says_what_produced_it(reports: dict[str, str]) -> None:
    for name in ("point", "sweep"):
        data = json.loads(reports[name])
        assert data["schema_version"] == 2
        made = data["produced_by"]
        assert made["gradcheck"] == __version__
        assert made["python"] == platform.python_version()
        assert made["platform"] == platform.platform()
        assert made["machine"] == platform.machine()
        assert made["device"] == "cpu"
        versions = {r["backend"]: r["version"] for r in data["results"]}
        assert made["frameworks"] == versions and set(versions) == {"analytic", "torch"}


def test_two_runs_of_the_same_check_are_the_same(gradcheck: Run, reports: dict[str, str],
                                                 tmp_path: Path) -> None:
    old = _write(tmp_path, "old.json", reports["point"])
    new = _write(tmp_path, "new.json", reports["point2"])
    result = gradcheck("diff", old, new)
    assert result.returncode == 0, result.stderr
    assert "changed: nothing" in result.stdout
    assert "OK: no row got worse; 4 same" in result.stdout
    data = json.loads(gradcheck("diff", old, new, "--format", "json").stdout)
    assert data["ok"] and data["exit_code"] == 0 and data["compared"] == "point"
    assert data["counts"] == {"worse": 0, "better": 0, "changed": 0, "added": 0,
                              "removed": 0, "same": 4}
    assert all(r["bitwise_same"] for r in data["rows"])
    markdown = gradcheck("diff", old, new, "--format", "markdown").stdout
    assert "- no version changed" in markdown and "| backend" not in markdown


def test_an_upgrade_that_regresses(gradcheck: Run, reports: dict[str, str],
                                   tmp_path: Path) -> None:
    old_data = json.loads(reports["point"])
    new_data = json.loads(reports["point"])
    _upgrade(new_data)
    before = _torch_row(old_data, 0.5)["derivative"]
    # one float32 ULP away, still ok; wrong at x = 1; analytic at x = 1 gone
    changed = _torch_row(new_data, 0.5)
    changed["derivative"] = float(np.nextafter(np.float32(before), np.float32(np.inf)))
    wrong = _torch_row(new_data, 1.0)
    wrong.update(derivative=0.0, ulp_error=1.0e9, status="wrong", tier="wrong")
    new_data["results"] = [r for r in new_data["results"]
                           if not (r["backend"] == "analytic" and r["point"]["x"] == 1.0)]
    old = _write(tmp_path, "old.json", old_data)
    new = _write(tmp_path, "new.json", new_data)

    result = gradcheck("diff", old, new, "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    labels = {(r["backend"], r["point"]["x"]): r["change"] for r in data["rows"]}
    assert labels == {("analytic", 0.5): "same", ("torch", 0.5): "changed",
                      ("torch", 1.0): "worse", ("analytic", 1.0): "removed"}
    torch_change = {"name": "torch", "old": _torch_row(old_data, 0.5)["version"],
                    "new": "2.99.0"}
    assert data["version_changes"] == [torch_change]
    worse = next(r for r in data["rows"] if r["change"] == "worse")
    assert worse["old"]["status"] == "ok" and worse["new"]["status"] == "wrong"
    assert worse["bitwise_same"] is False
    assert not data["ok"] and data["exit_code"] == 1

    table = gradcheck("diff", old, new)
    assert table.returncode == 1
    assert f"changed: torch {torch_change['old']} -> 2.99.0" in table.stdout
    assert ("REGRESSION: 1 row worse: torch float32 at x=1.0 (ok -> wrong); 1 worse, "
            "1 changed, 1 removed, 1 same") in table.stdout
    for word in ("same", "changed", "worse", "removed"):
        assert f"│ {word}" in table.stdout

    markdown = gradcheck("diff", old, new, "--format", "markdown")
    assert markdown.returncode == 1
    lines = markdown.stdout.splitlines()
    assert lines[0] == "**gradcheck diff** `2*x**3 + 4*x**2 + 5*x + 6` at x=0.5; x=1.0"
    assert f"- torch {torch_change['old']} -> 2.99.0" in lines
    rows = [line for line in lines if line.startswith("| ") and "backend" not in line]
    assert len(rows) == 3  # the same row is left out
    assert any(line.endswith("| ok | wrong | **worse** |") for line in rows)
    assert lines[-1].startswith("**REGRESSION: 1 row worse")


def test_the_other_way_round_is_better(gradcheck: Run, reports: dict[str, str],
                                       tmp_path: Path) -> None:
    bad = json.loads(reports["point"])
    _torch_row(bad, 1.0).update(status="inaccurate", tier="inaccurate", ulp_error=50.0)
    _torch_row(bad, 0.5).update(status="crashed", tier=None, derivative=None)
    bad["results"] = [r for r in bad["results"] if r["backend"] == "torch"]
    old = _write(tmp_path, "old.json", bad)
    new = _write(tmp_path, "new.json", reports["point"])
    result = gradcheck("diff", old, new, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["counts"] == {
        "worse": 0, "better": 2, "changed": 0, "added": 2, "removed": 0, "same": 0}
    assert gradcheck("diff", new, old).returncode == 1  # crashed is the worst


def test_a_report_without_provenance(gradcheck: Run, reports: dict[str, str],
                                     tmp_path: Path) -> None:
    old_data = json.loads(reports["point"])
    del old_data["produced_by"]
    new_data = json.loads(reports["point"])
    _upgrade(new_data, "3.0.0")
    old = _write(tmp_path, "old.json", old_data)
    new = _write(tmp_path, "new.json", new_data)
    output = tmp_path / "diff.md"
    result = gradcheck("diff", old, new, "--format", "markdown", "-o", str(output))
    assert result.returncode == 0 and result.stdout == ""
    assert "-> 3.0.0" in output.read_text()  # the rows' versions stand in
    table = gradcheck("diff", old, new).stdout
    assert f"old: {old}: unknown (no produced_by)" in table


def test_sweeps(gradcheck: Run, reports: dict[str, str], tmp_path: Path) -> None:
    old = _write(tmp_path, "old.json", reports["sweep"])
    same = gradcheck("diff", old, _write(tmp_path, "same.json", reports["sweep2"]))
    assert same.returncode == 0, same.stderr
    assert "OK: no row got worse; 2 same" in same.stdout
    assert "sweep of x from 0.0 to 1.0, 11 points" in same.stdout

    data = json.loads(reports["sweep"])
    _upgrade(data)
    torch_row = next(r for r in data["results"] if r["backend"] == "torch")
    torch_row.update(status="wrong", tier="wrong", wrong=3, mismatches=3, max_ulp_error=1e9)
    result = gradcheck("diff", old, _write(tmp_path, "new.json", data), "--format", "json")
    assert result.returncode == 1, result.stderr
    found = json.loads(result.stdout)
    assert found["compared"] == "sweep"
    assert {r["backend"]: r["change"] for r in found["rows"]} == {"analytic": "same",
                                                                   "torch": "worse"}
    markdown = gradcheck("diff", old, _write(tmp_path, "new.json", data),
                         "--format", "markdown").stdout
    assert "| torch |" in markdown and "| analytic |" not in markdown

    other = json.loads(reports["sweep"])
    other["range"]["stop"] = 2.0
    refused = gradcheck("diff", old, _write(tmp_path, "other.json", other))
    assert refused.returncode == 2
    assert "not comparable: different sweeps (range" in refused.stderr


def _refusals(reports: dict[str, str], folder: Path) -> dict[str, tuple[str, str]]:
    """name -> (a file diffed against the point report, what stderr must say)."""
    point = json.loads(reports["point"])
    other_expression = {**point, "expression": "x**2", "exact_expression": "x**2"}
    other_points = json.loads(reports["point"])
    for row in other_points["results"]:
        row["point"] = {"x": row["point"]["x"] + 10}
    old_schema = {**point, "schema_version": 1}
    suite = {"schema_version": 2, "ok": True, "cases": []}
    return {
        "missing": (str(folder / "nope.json"), "nope.json: no such file"),
        "bad JSON": (_write(folder, "bad.json", "{\"results\": ["), "bad.json: not JSON"),
        "not a report": (_write(folder, "other.json", {"a": 1}),
                         "other.json: not a gradcheck JSON report"),
        "suite": (_write(folder, "suite.json", suite), "a suite report"),
        "schema 1": (_write(folder, "v1.json", old_schema), "schema_version 1"),
        "sweep": (_write(folder, "sweep.json", reports["sweep"]),
                  "not comparable: a point report against a sweep report"),
        "expression": (_write(folder, "expr.json", other_expression),
                       "not comparable: different expressions"),
        "points": (_write(folder, "points.json", other_points),
                   "not comparable: the reports have no point in common"),
    }


def test_refusals(gradcheck: Run, reports: dict[str, str], tmp_path: Path) -> None:
    old = _write(tmp_path, "old.json", reports["point"])
    for name, (path, message) in _refusals(reports, tmp_path).items():
        result = gradcheck("diff", old, path)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert result.stdout == "", name
        assert "Traceback" not in result.stderr, name
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, lines)
        assert message in lines[0], (name, lines)


def test_diff_loads_no_framework(reports: dict[str, str], tmp_path: Path) -> None:
    """Comparing two files is instant: no framework or SymPy is imported."""
    old = _write(tmp_path, "old.json", reports["point"])
    probe = (
        "import sys\n"
        "from autograd_cli.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'torch', 'tensorflow', 'jax', 'sympy', 'matplotlib'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy), file=sys.stderr)\n"
    )
    for fmt in ("table", "markdown", "json"):
        result = subprocess.run([sys.executable, "-c", probe, "diff", old, old, "--format", fmt],
                                capture_output=True, text=True, check=False)
        assert result.stderr.strip().splitlines()[-1] == "[]", (fmt, result.stderr)
