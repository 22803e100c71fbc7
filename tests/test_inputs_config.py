"""Inputs that used to slip through, and where configuration files may come from.

Each fault goes through the real command (or the Python API) and asserts the exit code,
the message and that no traceback appears: huge sweep ranges computed right, tolerances
that are not finite numbers >= 0 refused wherever they come from, the Python API's
wrong kinds of value as ValueError before any work, and the config search that stops at
the repository root or home and skips files someone else could have planted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from test_limits import PROBE, ROOT

from autograd_cli.suite import config


def refuse(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run ``gradcheck ARGS`` in a fresh interpreter; assert exit 2, a one-screen
    message, no traceback and no framework or SymPy loaded; return stderr."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                            text=True, env=full_env, cwd=cwd, timeout=60)
    message, _, tail = result.stderr.rpartition("\nPROBE ")
    assert tail, result.stderr[-2000:]
    probe = json.loads(tail)
    assert probe["code"] == 2, (args, result.stderr[-2000:])
    assert probe["loaded"] == [], probe["loaded"]
    assert "Traceback" not in message, message
    assert result.stdout == ""
    assert message.startswith("error: ") or "\nerror: " in message, message
    return message


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def csv_points(stdout: str) -> list[tuple[float, str]]:
    """(x, label) of each line of a sweep's CSV."""
    lines = stdout.splitlines()
    header = lines[0].split(",")
    x, label = header.index("x"), header.index("label")
    return [(float(cells[x]), cells[label]) for cells in (line.split(",") for line in lines[1:])]


# --- sweeps near float64's largest numbers ----------------------------------------------


@pytest.mark.parametrize(
    ("start", "stop", "num", "expected"),
    [
        ("0", "1e305", "3", [0.0, 5e304, 1e305]),
        ("-1e308", "1e308", "5", [-1e308, -5e307, 0.0, 5e307, 1e308]),
        ("-1.7976931348623157e308", "1.7976931348623157e308", "3",
         [-1.7976931348623157e308, 0.0, 1.7976931348623157e308]),
    ],
)
def test_huge_ranges_are_computed_not_nan(gradcheck, start: str, stop: str, num: str,
                                          expected: list[float]) -> None:
    """The grid's double-double arithmetic overflowed (Dekker's split of the step, and
    i*step itself), so valid points became NaN labelled undefined."""
    result = gradcheck("x", "--range", start, stop, "--num", num, "--dtype", "float64",
                       "--format", "csv", "--backends", "analytic")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "RuntimeWarning" not in result.stderr
    assert "undefined" not in result.stderr
    assert csv_points(result.stdout) == [(x, "") for x in expected]


def test_grid_points_are_the_exact_decimals_rounded_once() -> None:
    """Every point of grids up to float64's largest is start + i*step in exact
    rational arithmetic, rounded once (what the scaled double-double must give)."""
    from autograd_cli.comparison.grid import parse_range

    rng = np.random.default_rng(13)
    cases = [("-1e308", "1e308", "1001"), ("1e300", "1.5e308", "777"),
             ("-1.7976931348623157e308", "1e-300", "99")]
    for _ in range(40):
        exponent = int(rng.integers(280, 308))
        start = float(rng.uniform(-1.7, 1.0)) * 10.0**exponent
        cases.append((repr(start), repr(start + 10.0**exponent * 0.5),
                      str(int(rng.integers(2, 500)))))
    for start, stop, num in cases:
        grid = parse_range(start, stop, num=num)
        exact = [float(grid.start + i * grid.step) for i in range(grid.num)]
        with np.errstate(all="raise"):
            points = grid.points(0, grid.num)
        assert points.tolist() == exact, (start, stop, num)


def test_a_tiny_step_is_refused_in_a_short_line() -> None:
    message = refuse("x", "--range", "0", "1", "--step", "1e-300")
    line = message.strip().splitlines()[0]
    assert "1e+300 points is too many" in line
    assert len(line) < 160, line  # was 506 characters of digits


# --- tolerances --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (("--rtol", "nan"), {}, "--rtol nan:"),
        (("--atol", "nan"), {}, "--atol nan:"),
        (("--max-ulps", "inf"), {}, "--max-ulps inf:"),
        ((), {"GRADCHECK_RTOL": "nan"}, "GRADCHECK_RTOL=nan:"),
        ((), {"GRADCHECK_ATOL": "inf"}, "GRADCHECK_ATOL=inf:"),
    ],
)
def test_tolerances_are_finite_and_not_negative(args: tuple[str, ...], env: dict[str, str],
                                                named: str) -> None:
    """A NaN tolerance failed even the exact analytic row; an infinite one passes all."""
    for where in (("--at", "1"), ("--range", "0", "1")):
        message = refuse("x", *where, *args, env=env)
        assert f"error: {named} give a finite number >= 0" in message, message


def test_a_bad_tolerance_in_a_config_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    path = write(tmp_path / "gradcheck.toml", "rtol = nan\n")
    message = refuse("x", "--at", "1", cwd=tmp_path)
    assert f"error: {path}: rtol: expected a finite number >= 0, got nan" in message


# --- the Python API -----------------------------------------------------------------------

API_PROBE = """\
import json, sys
from autograd_cli import compare
outcomes = {}
cases = {
    "at=None": dict(at=None), "at=1+2j": dict(at=1 + 2j), "at=10**400": dict(at=10**400),
    "at=True": dict(at=True), "at={'x': None}": dict(at={"x": None}),
    "at=[1, b'2']": dict(at=[1, b"2"]), "dtype=5": dict(at=1, dtype=5),
    "backends=5": dict(at=1, backends=5), "backends=[5]": dict(at=1, backends=[5]),
    "wrt=5": dict(at=1, wrt=5), "rtol='a'": dict(at=1, rtol="a"),
    "rtol=-1": dict(at=1, rtol=-1), "atol=nan": dict(at=1, atol=float("nan")),
    "max_ulps=inf": dict(at=1, max_ulps=float("inf")), "mode=5": dict(at=1, mode=5),
    "device=None": dict(at=1, device=None), "strict='no'": dict(at=1, strict="no"),
    "timeout=True": dict(at=1, timeout=True),
}
for name, kwargs in cases.items():
    try:
        compare("x", **kwargs)
        outcomes[name] = ["no error", ""]
    except Exception as error:
        outcomes[name] = [type(error).__name__, isinstance(error, ValueError), str(error)]
heavy = {"torch", "tensorflow", "jax", "sympy", "mpmath"}
loaded = sorted({m.split(".")[0] for m in sys.modules} & heavy)
print(json.dumps({"outcomes": outcomes, "loaded": loaded}))
"""


def test_api_raises_value_error_before_any_work() -> None:
    """TypeError, OverflowError and numpy's UFuncTypeError (after every backend had
    run) became ValueError (InputError) naming the argument, before SymPy or any
    framework is imported."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", API_PROBE], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["loaded"] == []
    expected = {
        "at=None": "at: say where", "at=1+2j": "is not a real number (a complex number)",
        "at=10**400": "1e+400 is too large for a float64",
        "at=True": "is not a real number (a boolean)", "at={'x': None}": "None is not a real",
        "at=[1, b'2']": "is not a real number (bytes)", "dtype=5": "dtype: expected a name",
        "backends=5": "backends: expected a name", "backends=[5]": "expected names (strings)",
        "wrt=5": "wrt: expected a name", "rtol='a'": "rtol='a': a tolerance is a number",
        "rtol=-1": "rtol=-1: give a finite number >= 0",
        "atol=nan": "atol=nan: give a finite number >= 0",
        "max_ulps=inf": "max_ulps=inf: give a finite number >= 0",
        "mode=5": "--mode: expected a name", "device=None": "--device: expected a name",
        "strict='no'": "strict: expected True or False",
        "timeout=True": "--timeout True: give a number of seconds",
    }
    for name, text in expected.items():
        kind, is_value_error, message = data["outcomes"][name]
        assert kind == "InputError" and is_value_error, (name, kind, message)
        assert text in message, (name, message)
        assert len(message) < 200, (name, message)


def test_api_still_takes_numbers_of_every_real_kind() -> None:
    from decimal import Decimal

    from autograd_cli import compare

    report = compare("x**2", at=[np.float32(0.5), Fraction(3, 2), Decimal("2.5"), 1, "3"],
                     backends="analytic", dtype="float64", rtol=0, atol=0)
    assert [row.point["x"] for row in report.rows] == [0.5, 1.5, 2.5, 1.0, 3.0]
    assert [row.derivative for row in report.rows] == [1.0, 3.0, 5.0, 2.0, 6.0]
    assert report.ok


# --- config values and sizes --------------------------------------------------------------


def test_a_large_pyproject_is_refused_like_a_large_gradcheck_toml(tmp_path: Path) -> None:
    """A 2 MB pyproject.toml was skipped and the run used the defaults, unnoticed."""
    messages = []
    for name in ("pyproject.toml", "gradcheck.toml"):
        folder = tmp_path / name.split(".")[0]
        (folder / ".git").mkdir(parents=True)
        big = write(folder / name, "[tool.gradcheck]\n# " + "a" * (2 << 20) + "\n")
        message = refuse("x", "--at", "1", cwd=folder)
        assert f"error: {big}: is too large (the limit is 1024 KiB)" in message
        messages.append(message.replace(str(big), "FILE"))
    assert messages[0] == messages[1]


def test_a_value_from_the_file_is_named_by_file_and_key(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    path = write(tmp_path / "gradcheck.toml", "order = 9\n")
    message = refuse("x", "--at", "1", cwd=tmp_path)
    assert f"error: {path}: order: expected a whole number from 1 to 4, got 9" in message
    assert "--order" not in message


def test_a_value_from_the_environment_is_named_by_its_variable() -> None:
    message = refuse("x", "--at", "1", env={"GRADCHECK_ORDER": "9"})
    assert message.startswith("error: GRADCHECK_ORDER=9: give a whole number from 1 to 4")
    message = refuse("x", "--at", "1", env={"GRADCHECK_DTYPE": "float8"})
    assert message.startswith("error: GRADCHECK_DTYPE: unknown dtype 'float8'")
    # on the command line the option is named as before
    assert refuse("x", "--at", "1", "--order", "9").startswith("error: --order 9: ")


# --- config discovery ---------------------------------------------------------------------


def used_rtol(gradcheck, cwd: Path, *args: str,
              env: dict[str, str] | None = None) -> tuple[float, str]:
    """The rtol a run used (0.0: the default judgement, noise floor + 2 ULPs, has no
    rtol) and its stderr."""
    result = gradcheck("x", "--at", "1", "--dtype", "float64", "--backends", "analytic",
                       "--format", "json", *args, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)["tolerance"]["rtol"], result.stderr


def test_search_stops_at_the_repository_root(gradcheck, tmp_path: Path) -> None:
    write(tmp_path / "gradcheck.toml", "rtol = 0.5\n")
    repo = tmp_path / "repo"
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    assert used_rtol(gradcheck, deep)[0] == 0.5  # no boundary: the file above is found
    (repo / ".git").write_text("gitdir: elsewhere\n")  # a worktree's .git is a file
    assert used_rtol(gradcheck, deep)[0] == 0.0
    assert config.find_config(deep) is None
    own = write(repo / "pyproject.toml", "[tool.gradcheck]\nrtol = 0.25\n")
    assert config.find_config(deep) == own  # the repository's own file is still used
    assert used_rtol(gradcheck, deep)[0] == 0.25


def test_search_stops_at_home(gradcheck, tmp_path: Path) -> None:
    write(tmp_path / "gradcheck.toml", "rtol = 0.5\n")
    home = tmp_path / "home"
    work = home / "work"
    work.mkdir(parents=True)
    assert used_rtol(gradcheck, work, env={"HOME": str(home)})[0] == 0.0
    write(home / "gradcheck.toml", "rtol = 0.125\n")  # home itself is searched
    assert used_rtol(gradcheck, work, env={"HOME": str(home)})[0] == 0.125


@pytest.mark.parametrize("mode", [0o777, 0o1777], ids=["world-writable", "sticky like /tmp"])
def test_world_writable_folders_are_skipped_with_a_note(gradcheck, tmp_path: Path,
                                                        mode: int) -> None:
    """A /tmp/gradcheck.toml with rtol = 1e300 once turned a mismatch into OK."""
    (tmp_path / ".git").mkdir()
    shared = tmp_path / "shared"
    path = write(shared / "gradcheck.toml", "rtol = 1e300\n")
    shared.chmod(mode)
    try:
        rtol, stderr = used_rtol(gradcheck, shared)
        assert rtol == 0.0
        assert (f"note: ignored {path}: its folder {shared} is writable by every user"
                in stderr)
        # named on purpose, it is used
        assert used_rtol(gradcheck, tmp_path, "--config", str(path))[0] == 1e300
        assert used_rtol(gradcheck, tmp_path, env={"GRADCHECK_CONFIG": str(path)})[0] == 1e300
    finally:
        shared.chmod(0o755)


def test_a_world_writable_file_is_skipped(gradcheck, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    path = write(tmp_path / "pyproject.toml", "[tool.gradcheck]\nrtol = 0.5\n")
    path.chmod(0o666)
    rtol, stderr = used_rtol(gradcheck, tmp_path)
    assert rtol == 0.0
    assert f"note: ignored {path}: it is writable by every user" in stderr
    path.chmod(0o644)
    assert used_rtol(gradcheck, tmp_path) == (0.5, "")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="chown to another user needs root")
def test_a_file_owned_by_another_user_is_skipped(gradcheck, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    path = write(tmp_path / "gradcheck.toml", "rtol = 0.5\n")
    os.chown(path, 4242, 4242)
    rtol, stderr = used_rtol(gradcheck, tmp_path)
    assert rtol == 0.0
    assert f"note: ignored {path}: it belongs to another user (uid 4242" in stderr
    assert used_rtol(gradcheck, tmp_path, "--config", str(path))[0] == 0.5


def test_verbose_names_the_config_file(gradcheck, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    path = write(tmp_path / "gradcheck.toml", "rtol = 0.5\n")
    rtol, stderr = used_rtol(gradcheck, tmp_path, "-v")
    assert rtol == 0.5 and f"config: {path}\n" in stderr
    assert "config:" not in used_rtol(gradcheck, tmp_path)[1]  # only with -v
    path.unlink()
    assert "config:" not in used_rtol(gradcheck, tmp_path, "-v")[1]  # none in use


def test_json_reports_name_the_config_files(gradcheck, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    path = write(tmp_path / "gradcheck.toml", 'rtol = 0.5\nbackends = "analytic"\n')
    for args in (("--at", "1"), ("--range", "0", "1", "--num", "3")):
        result = gradcheck("x", *args, "--format", "json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["config_files"] == [str(path)]
    path.unlink()
    result = gradcheck("x", "--at", "1", "--format", "json", "--backends", "analytic",
                       cwd=tmp_path)
    assert json.loads(result.stdout)["config_files"] == []


def test_suite_json_names_the_config_files(gradcheck, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    path = write(tmp_path / "gradcheck.toml", 'backends = "analytic"\n')
    write(tmp_path / "one.toml", '[[case]]\nname = "a"\nexpression = "x"\nat = [1]\n')
    result = gradcheck("suite", "one.toml", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["config_files"] == [str(path)]


def test_api_reports_have_no_config_files() -> None:
    from autograd_cli import compare

    assert compare("x", at=1, backends="analytic").to_dict()["config_files"] == []
