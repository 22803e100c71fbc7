"""The command end to end, through the installed ``gradcheck`` script."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from importlib import metadata

TUTORIAL = "2*x**3+4*x**2+5*x+6"


def test_tutorial_table_all_backends(gradcheck):
    result = gradcheck(TUTORIAL, "--at", "0.5")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "f = 2*x**3 + 4*x**2 + 5*x + 6" in out
    assert "df/dx = 6*x**2 + 8*x + 5" in out
    for backend, method in (("analytic", "sympy"), ("torch", "backward()"),
                            ("tensorflow", "tf.GradientTape"), ("jax", "jax.vmap(jax.grad)"),
                            ("finite-diff", "complex step")):
        line = next(line for line in out.splitlines() if line.startswith(backend))
        assert method in line
        assert " 9.75 " in line and " 10.5 " in line
        assert line.rstrip().endswith("ok")
    assert out.splitlines()[-1].startswith("OK: all 5 backends agree")
    assert "Traceback" not in result.stderr
    assert "oneDNN" not in result.stderr and "absl" not in result.stderr


def test_tutorial_json_contract(gradcheck):
    result = gradcheck(TUTORIAL, "--at", "0.5", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["exit_code"] == 0
    assert data["expression"] == TUTORIAL
    assert data["derivative_expression"] == "6*x**2 + 8*x + 5"
    assert [r["backend"] for r in data["results"]] == [
        "analytic", "torch", "tensorflow", "jax", "finite-diff"]
    for row in data["results"]:
        assert row["point"] == {"x": 0.5}
        assert row["wrt"] == "x" and row["dtype"] == "float32"
        assert row["value"] == 9.75 and row["derivative"] == 10.5
        assert row["abs_error"] == 0 and row["rel_error"] == 0 and row["ulp_error"] == 0
        assert row["status"] == "ok" and row["method"]
    assert {"torch", "tensorflow", "jax"} <= {r["backend"] for r in data["results"] if r["version"]}


def test_multivariable_partials_and_several_points_csv(gradcheck):
    result = gradcheck("x*y + sin(x*y)", "--at", "x=1,y=2", "--at", "x=0.5,y=-1",
                       "--dtype", "float64", "--format", "csv", "--backends", "analytic,torch")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2 * 2 * 2  # backends x points x variables
    assert {r["wrt"] for r in rows} == {"x", "y"}
    first = next(r for r in rows if r["backend"] == "torch" and r["wrt"] == "y"
                 and r["x"] == "1.0")
    import math
    assert math.isclose(float(first["derivative"]), 1 + math.cos(2.0), rel_tol=1e-15)
    assert all(r["dtype"] == "float64" for r in rows)


def test_wrt_selects_one_variable_markdown(gradcheck):
    result = gradcheck("x**2*y", "--at", "x=3,y=2", "--wrt", "y", "--format", "markdown",
                       "--backends", "analytic")
    assert result.returncode == 0, result.stderr
    assert "`df/dy = x**2`" in result.stdout
    assert "df/dx" not in result.stdout
    assert "| analytic |" in result.stdout
    assert "| 9.0 |" in result.stdout  # df/dy at x=3 is 9 (float32 prints 9.0)


def test_mismatch_exits_1(gradcheck):
    # 1/3 is no float32: even the correctly rounded truth is 0.33 ULP off, beyond zero tolerance
    result = gradcheck("x/3", "--at", "1", "--rtol", "0", "--atol", "0",
                       "--backends", "analytic", "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["results"][0]["status"] == "inaccurate"  # beyond a tolerance given
    assert 0 < data["results"][0]["ulp_error"] <= 0.5


def test_max_ulps_rescues_mismatch(gradcheck):
    result = gradcheck("x/3", "--at", "1", "--rtol", "0", "--atol", "0", "--max-ulps", "0.5",
                       "--backends", "analytic")
    assert result.returncode == 0, result.stdout + result.stderr


def test_output_file_written_whole(gradcheck, tmp_path):
    target = tmp_path / "report.json"
    result = gradcheck("x**2", "--at", "3", "--backends", "analytic", "--format", "json",
                       "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert json.loads(target.read_text())["results"][0]["derivative"] == 6.0
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_output_into_missing_folder_is_refused_before_work(gradcheck, tmp_path):
    result = gradcheck("x**2", "--at", "3", "--output", str(tmp_path / "nope" / "r.json"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_expression_has_caret_and_hint(gradcheck):
    result = gradcheck("2x + 1", "--at", "1")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "2x + 1" in result.stderr
    assert "^" in result.stderr
    assert "2*x" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_function_lists_known_ones(gradcheck):
    result = gradcheck("sinn(x)", "--at", "1")
    assert result.returncode == 2
    assert "sin" in result.stderr and "sigmoid" in result.stderr


def test_bad_points_and_options(gradcheck):
    cases = [
        (["x*y", "--at", "1"], "name each one"),
        (["x*y", "--at", "x=1"], "no value for y"),
        (["x", "--at", "z=1"], "unknown variable 'z'"),
        (["x", "--at", "abc"], "not a number"),
        (["x", "--at", "1", "--wrt", "q"], "unknown variable 'q'"),
        (["x", "--at", "1", "--backends", "pytorch"], "did you mean torch"),
        (["x", "--at", "1", "--dtype", "float8"], "float8"),
        (["x"], "--at"),
        (["3 + 4", "--at", "1"], "no variable"),
    ]
    for args, message in cases:
        result = gradcheck(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_backends_listing(gradcheck):
    result = gradcheck("backends", "--format", "json")
    assert result.returncode == 0, result.stderr
    listing = {row["backend"]: row for row in json.loads(result.stdout)}
    assert set(listing) >= {"analytic", "torch", "tensorflow", "jax", "finite-diff"}
    assert listing["torch"]["installed"] is True
    # the versions installed here, whichever they are (the lock's, or make test-latest's)
    assert listing["torch"]["version"] == metadata.version("torch")
    assert listing["tensorflow"]["version"] == metadata.version("tensorflow-cpu")


def test_version_and_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "autograd_cli", "--version"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "gradcheck" in result.stdout and "0.1.0" in result.stdout


CHEAP_PATHS = [
    ["--help"],
    ["check", "--help"],
    ["backends"],
    ["functions"],
    ["2x", "--at", "1"],
]


def test_cheap_paths_load_no_framework():
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
    for args in CHEAP_PATHS:
        result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                                text=True, check=False)
        assert result.stderr.strip().splitlines()[-1] == "[]", (args, result.stderr)


PLUGINS = {
    "GRADCHECK_PLUGINS": "segv=tests.fake_backends:Segfault,hang=tests.fake_backends:Hang,"
    "ghost=tests.fake_backends:Missing,boom=tests.fake_backends:Raise"
}


def test_failing_backends_are_rows_and_exit_3(gradcheck):
    result = gradcheck("x**2", "--at", "3", "--backends", "analytic,segv,hang,ghost,boom",
                       "--timeout", "3", "--format", "json", env=PLUGINS)
    assert result.returncode == 3, result.stderr
    rows = {row["backend"]: row for row in json.loads(result.stdout)["results"]}
    assert rows["analytic"]["status"] == "ok" and rows["analytic"]["derivative"] == 6.0
    assert rows["segv"]["status"] == "crashed" and "SIGSEGV" in rows["segv"]["reason"]
    assert rows["hang"]["status"] == "timeout"
    assert rows["ghost"]["status"] == "unavailable"
    assert rows["boom"]["status"] == "error"
    assert "Traceback" not in result.stderr


def test_failing_backend_table_still_prints(gradcheck):
    result = gradcheck("x**2", "--at", "3", "--backends", "analytic,segv", env=PLUGINS)
    assert result.returncode == 3
    assert "crashed: killed by SIGSEGV" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("FAIL: could not run: segv")


def test_expression_may_start_with_a_minus(gradcheck):
    result = gradcheck("-x**2", "--at", "-3", "--backends", "analytic", "--format", "json")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)["results"][0]
    assert row["point"] == {"x": -3.0} and row["derivative"] == 6.0
    unknown = gradcheck("x", "--bogus", "1", "--at", "1")
    assert unknown.returncode == 2 and "No such option '--bogus'" in unknown.stderr


def test_a_csv_sweep_that_fails_says_why_on_stderr(gradcheck, tmp_path) -> None:
    """A CSV holds points, not the summary: a crashed backend or a mismatch is told on
    stderr (the exit code alone would not say which backend, or why)."""
    out = tmp_path / "sweep.csv"
    result = gradcheck("x**2", "--range", "0", "1", "--num", "11", "--backends",
                       "analytic,segv", "--format", "csv", "-o", str(out), env=PLUGINS)
    assert result.returncode == 3, result.stderr
    assert "error: segv: crashed: killed by SIGSEGV" in result.stderr
    assert "FAIL: could not run: segv" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(out.read_text().splitlines()) == 12  # the header and every point, still
    ok = gradcheck("x**2", "--range", "0", "1", "--num", "11", "--backends", "analytic",
                   "--format", "csv")
    assert ok.returncode == 0 and ok.stderr == ""
