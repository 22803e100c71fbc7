"""Project configuration: discovery, validation, and the precedence of its sources."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograd_cli.suite.config import ConfigError, ProjectConfig, find_config, load_config
from autograd_cli.suite.run import load_suite


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def settings(gradcheck_result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert gradcheck_result.returncode == 0, gradcheck_result.stderr
    data = json.loads(gradcheck_result.stdout)
    return {
        "dtype": data["dtype"],
        "rtol": data["tolerance"]["rtol"],
        "backends": [row["backend"] for row in data["results"]],
    }


# ---------------------------------------------------------------------------- discovery


def test_found_from_the_working_directory_upward(tmp_path):
    deep = tmp_path / "project" / "src" / "deep"
    deep.mkdir(parents=True)
    assert find_config(deep) is None
    root = write(tmp_path / "project" / "pyproject.toml", """
        [project]
        name = "demo"
        [tool.gradcheck]
        dtype = "float64"
    """)
    write(tmp_path / "project" / "src" / "pyproject.toml", '[project]\nname = "inner"\n')
    assert find_config(deep) == root  # a pyproject.toml without [tool.gradcheck] is skipped
    own = write(tmp_path / "project" / "src" / "gradcheck.toml", 'rtol = 1e-3\n')
    assert find_config(deep) == own
    write(tmp_path / "project" / "src" / "deep" / "pyproject.toml",
          '[tool.gradcheck]\natol = 0\n')
    write(tmp_path / "project" / "src" / "deep" / "gradcheck.toml", 'atol = 1\n')
    assert find_config(deep) == deep / "gradcheck.toml"  # gradcheck.toml first in a folder
    assert load_config(root).settings == {"dtype": "float64"}


def test_keys_values_and_default_map(tmp_path):
    path = write(tmp_path / "gradcheck.toml", """
        dtype = "float64"
        backends = ["analytic", "torch"]
        max_ulps = 4
        timeout = 30
        no-isolate = true
    """)
    config = load_config(path)
    assert config.settings == {"dtype": "float64", "backends": ("analytic", "torch"),
                               "max-ulps": 4.0, "timeout": 30.0, "no-isolate": True}
    params = {"dtype": "dtype", "backends": "backends", "max-ulps": "max_ulps",
              "verbose": "verbose"}
    assert config.default_map(params) == {
        "dtype": "float64", "backends": "analytic,torch", "max_ulps": 4.0
    }
    assert ProjectConfig(None).default_map(params) == {}


@pytest.mark.parametrize(
    ("text", "expected", "hint"),
    [
        ("max_ulp = 2\n", "unknown key 'max_ulp'", "did you mean 'max-ulps'?"),
        ("backend = 'torch'\n", "unknown key 'backend'", "did you mean 'backends'?"),
        ('jobs = "4"\n', "jobs: expected a whole number >= 1, got the string '4'",
         "without quotes"),
        ("verbose = 1\n", "verbose: expected true or false, got the integer 1", "true or false"),
        ("dtype = 'float8'\n", "dtype: unknown dtype 'float8'", None),
        ("rtol = -1\n", "rtol: expected a number >= 0, got -1", None),
        ('format = "xml"\n', "format: unknown format 'xml'", None),
        ("max-ulps = 1\nmax_ulps = 2\n", "'max-ulps' is given twice", "keep one"),
        ("[[case]]\nname = 'a'\n", "unexpected table [case]", "gradcheck suite FILE"),
    ],
)
def test_bad_values_name_file_key_and_fix(tmp_path, text: str, expected: str,
                                          hint: str | None) -> None:
    path = write(tmp_path / "gradcheck.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.headline().startswith(f"{path}: ")
    assert expected in caught.value.headline()
    if hint:
        assert caught.value.hint is not None and hint in caught.value.hint


def test_toml_syntax_error_points_at_the_line(tmp_path):
    path = write(tmp_path / "pyproject.toml", """
        [tool.gradcheck]
        dtype = "float64"
        rtol = 1e-3 1e-4
    """)
    with pytest.raises(ConfigError) as caught:
        find_config(tmp_path)
    text = caught.value.render()
    assert text.splitlines()[:3] == [
        f"error: {path}: line 4, column 13: invalid TOML: Expected newline or end of document "
        "after a statement",
        "  rtol = 1e-3 1e-4",
        "              ^",
    ]


def test_pyproject_named_without_a_table(tmp_path):
    path = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"has no \[tool.gradcheck\] table"):
        load_config(path)


# --------------------------------------------------------------------------- precedence


def test_precedence_command_line_then_environment_then_file_then_default(gradcheck, tmp_path):
    write(tmp_path / "gradcheck.toml", """
        # the project's settings
        dtype = "float64"
        rtol = 0.25
        backends = ["analytic"]
    """)
    sub = tmp_path / "sub"
    sub.mkdir()
    args = ("x**2", "--at", "3", "--format", "json")
    # the file, found from a subfolder, over the built-in defaults
    assert settings(gradcheck(*args, cwd=sub)) == {
        "dtype": "float64", "rtol": 0.25, "backends": ["analytic"]
    }
    # the environment over the file
    env = {"GRADCHECK_DTYPE": "float32", "GRADCHECK_RTOL": "0.5"}
    assert settings(gradcheck(*args, cwd=sub, env=env)) == {
        "dtype": "float32", "rtol": 0.5, "backends": ["analytic"]
    }
    # the command line over the environment
    assert settings(gradcheck(*args, "--dtype", "float64", "--rtol", "0.125", cwd=sub,
                              env=env)) == {"dtype": "float64", "rtol": 0.125,
                                            "backends": ["analytic"]}
    # --config names a file instead of the one found; GRADCHECK_CONFIG does the same
    other = write(tmp_path / "elsewhere" / "ci.toml", 'format = "csv"\nbackends = "analytic"\n')
    named = gradcheck("x**2", "--at", "3", "--config", str(other), cwd=sub)
    assert named.returncode == 0, named.stderr
    assert named.stdout.startswith("backend,") and "float32" in named.stdout
    from_env = gradcheck("x**2", "--at", "3", cwd=sub, env={"GRADCHECK_CONFIG": str(other)})
    assert from_env.stdout == named.stdout


def test_suite_layers(tmp_path):
    """Project config < the suite's [defaults] < the case < command line/environment."""
    path = write(tmp_path / "suite.toml", """
        [defaults]
        rtol = 0.5

        [[case]]
        name = "plain"
        expression = "x"
        at = 1

        [[case]]
        name = "own"
        expression = "x"
        at = 1
        dtype = "float32"
        rtol = 0.125
        backends = ["analytic", "torch"]
    """)
    base = {"dtype": "float64", "rtol": 0.25, "atol": 0.0, "backends": ("analytic",),
            "format": "csv"}
    plain, own = load_suite(path, base).cases
    assert (plain.request.dtype, plain.tolerance.rtol, plain.tolerance.atol) == (
        "float64", 0.5, 0.0
    )
    assert plain.request.backends == ("analytic",)
    assert (own.request.dtype, own.tolerance.rtol, own.request.backends) == (
        "float32", 0.125, ("analytic", "torch")
    )
    _, forced = load_suite(path, base, {"backends": ("analytic",), "timeout": 7.0}).cases
    assert forced.request.backends == ("analytic",) and forced.request.timeout == 7.0


def test_suite_command_line_and_environment_override_cases(gradcheck, tmp_path):
    suite = write(tmp_path / "suite.toml", """
        [[case]]
        name = "square"
        expression = "x**2"
        at = 3
        backends = ["analytic", "torch", "tensorflow"]
        expect = 6
    """)
    write(tmp_path / "gradcheck.toml", 'dtype = "float64"\nformat = "json"\n')
    result = gradcheck("suite", str(suite), cwd=tmp_path,
                       env={"GRADCHECK_BACKENDS": "analytic"})
    assert result.returncode == 0, result.stderr
    case = json.loads(result.stdout)["cases"][0]
    assert case["dtype"] == "float64"
    assert [row["backend"] for row in case["report"]["results"]] == ["analytic"]


def test_bad_config_stops_every_command_with_exit_2(gradcheck, tmp_path):
    path = write(tmp_path / "gradcheck.toml", 'dtpye = "float64"\n')
    for args in (("x**2", "--at", "3"), ("suite", "missing.toml")):
        result = gradcheck(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.startswith(f"error: {path}: unknown key 'dtpye'\nhint: did you "
                                        "mean 'dtype'?")
        assert "Traceback" not in result.stderr
    wrong = gradcheck("x**2", "--at", "3", "--config", str(tmp_path / "nope.toml"))
    assert wrong.returncode == 2 and "nope.toml: no such file" in wrong.stderr


def test_config_and_suite_loading_load_no_framework(tmp_path):
    write(tmp_path / "gradcheck.toml", 'dtype = "float64"\nbackends = ["analytic", "torch"]\n')
    good = write(tmp_path / "good.toml", """
        [[case]]
        name = "a"
        expression = "sin(x)"
        range = [-1, 1]
        num = 5
        expect = "cos(x)"
    """)
    bad = write(tmp_path / "bad.toml", '[[case]]\nname = "a"\nexpression = "2x"\nat = 1\n')
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
    for args in (["suite", str(good), "--list"], ["suite", str(bad)], ["check", "--help"],
                 ["suite", "--help"]):
        result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                                text=True, check=False, cwd=tmp_path)
        assert result.stderr.strip().splitlines()[-1] == "[]", (args, result.stderr)
