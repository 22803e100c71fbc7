"""Every resource limit refuses with exit 2, a message, no traceback, and no framework.

Each refusal runs the real command in a fresh interpreter, then reports which heavy
modules that interpreter imported: a refusal must come before any framework (or SymPy)
loads, which is also what keeps it fast. No test asserts on time; the subprocess
timeout only bounds a hang (a regression that hangs fails instead of stalling CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_cli import inputs
from autograd_cli.core.model import MAX_ORDER
from autograd_cli.expr import parser
from autograd_cli.suite import config
from autograd_cli.suite import run as suite

ROOT = Path(__file__).resolve().parent.parent

PROBE = """\
import json, sys
from autograd_cli.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
heavy = {"torch", "tensorflow", "jax", "sympy", "mpmath", "matplotlib"}
loaded = sorted({m.split(".")[0] for m in sys.modules} & heavy)
print("\\nPROBE " + json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def refuse(*args: str, cwd: Path | None = None, stdin: str | None = None) -> str:
    """Run ``gradcheck ARGS``; assert the refusal contract; return the message."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env,
        cwd=cwd, timeout=60, input=stdin,
    )
    message, _, tail = result.stderr.rpartition("\nPROBE ")
    assert tail, result.stderr[-2000:]
    probe = json.loads(tail)
    assert probe["code"] == 2, (args[:3], result.stderr[-2000:])
    assert probe["loaded"] == [], (args[:3], probe["loaded"])
    assert "Traceback" not in message, message[-2000:]
    assert result.stdout == "", result.stdout[:500]
    assert message.startswith("error: ") or "\nerror: " in message, message[:500]
    assert len(message) < 4000, "the message repeats the whole input"
    return message


def nested(template: str, times: int) -> str:
    text = "x"
    for _ in range(times):
        text = template.format(text)
    return text


# --- the expression --------------------------------------------------------------------


def test_expression_length(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    message = refuse("x" * (parser.MAX_LENGTH + 1), "--at", "1", "-o", str(out))
    assert f"expression is too long: {parser.MAX_LENGTH + 1} characters" in message
    assert not out.exists()  # nothing half-written


def test_expression_megabytes_are_refused_by_length() -> None:
    # One argument may hold 128 KiB on Linux (MAX_ARG_STRLEN).
    message = refuse("(" * 60_000 + "x" + ")" * 59_999, "--at", "1")
    assert "expression is too long: 120000 characters" in message


def test_nesting_depth() -> None:
    message = refuse(nested("sin({})", parser.MAX_DEPTH), "--at", "1")
    assert f"nested too deeply (the limit is {parser.MAX_DEPTH} levels)" in message


def test_nesting_depth_weighs_sigmoid() -> None:
    # 30 sigmoids exhausted Python's recursion limit in SymPy before sigmoid was weighted.
    times = parser.MAX_DEPTH // parser.DEPTH_WEIGHTS["sigmoid"] + 1
    message = refuse(nested("sigmoid({})", times), "--at", "1")
    assert "nested too deeply" in message and "sigmoid counts as 5 levels" in message


@pytest.mark.parametrize(("template", "name"), [("softplus({})", "softplus"),
                                                ("atan2({}, 1)", "atan2"),
                                                ("leaky_relu({}, -0.5)", "leaky_relu")])
def test_nesting_depth_weighs_the_ml_functions(template: str, name: str) -> None:
    """Each weighted function is named in the hint, with its weight; a function of two
    inputs or with parameters nests through its first input."""
    weight = parser.DEPTH_WEIGHTS[name]
    message = refuse(nested(template, parser.MAX_DEPTH // weight + 1), "--at", "1")
    assert f"{name} counts as {weight} levels" in message


def balanced_sum(leaves: int) -> str:
    if leaves == 1:
        return "x"
    half = leaves // 2
    return f"({balanced_sum(half)}+{balanced_sum(leaves - half)})"


def test_node_count() -> None:
    text = balanced_sum(parser.MAX_NODES // 2 + 1)  # 2*leaves - 1 nodes, shallow
    message = refuse(text, "--at", "1")
    assert f"expression is too large: more than {parser.MAX_NODES}" in message


def test_variable_count() -> None:
    text = "+".join(f"v{i}" for i in range(parser.MAX_VARIABLES + 1))
    message = refuse(text, "--at", "v0=1")
    assert "too many variables" in message and f"limit is {parser.MAX_VARIABLES}" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"x**{parser.MAX_EXPONENT + 1}", f"limit is {parser.MAX_EXPONENT} in magnitude"),
        ("x + 1e400", "number 1e400 is too large (the limit is 1e308)"),
        ("x + 1e-400", "number 1e-400 is too small"),
        ("x + 1" + "0" * 400, "is too large (the limit is 1e308)"),
        ("x + 9**9**9**9", "is too large (the limit is 1024 in magnitude)"),
        ("x + 1e300*1e300", "this constant overflows"),
    ],
)
def test_exponent_and_literal_size(text: str, expected: str) -> None:
    assert expected in refuse(text, "--at", "1")


# --- points and options ----------------------------------------------------------------


def test_point_count() -> None:
    args = ["x", "--backends", "analytic"]
    for _ in range(inputs.MAX_POINTS + 1):
        args += ["--at", "1"]
    message = refuse(*args)
    assert f"{inputs.MAX_POINTS + 1:,} points is too many (at most {inputs.MAX_POINTS:,}" in (
        message
    )


def test_number_length_is_checked_before_any_pattern() -> None:
    # 100_000 digits and a letter took the old pattern minutes (quadratic backtracking).
    message = refuse("x", "--at", "1" * 100_000 + "x")
    assert f"at most {inputs.MAX_NUMBER_LENGTH} characters" in message


def test_long_point_text_is_shortened_in_the_message() -> None:
    message = refuse("x*y", "--at", "x=1," + "q" * 50_000 + "=2")
    assert "unknown variable" in message and "..." in message


@pytest.mark.parametrize("where", [("--at", "1"), ("--range", "0", "1")], ids=["point", "sweep"])
@pytest.mark.parametrize("value", ["nan", "inf", "1e300", str(inputs.MAX_TIMEOUT * 2)])
def test_timeout_is_finite_and_bounded(value: str, where: tuple[str, ...]) -> None:
    """Points and sweeps check --timeout in the same place (a sweep once took 1e9 s
    and ended in a traceback from the OS's timers)."""
    message = refuse("x", *where, "--timeout", value)
    assert f"at most {inputs.MAX_TIMEOUT:g}" in message


def test_order() -> None:
    assert "--order" in refuse("x", "--at", "1", "--order", str(MAX_ORDER + 1))


def test_sweep_size() -> None:
    from autograd_cli.comparison import sweep

    message = refuse("x", "--range", "0", "1", "--num", str(sweep.MAX_POINTS + 1))
    assert "points is too many" in message


def test_sweep_arrays_against_memory() -> None:
    message = refuse("x", "--range", "0", "1", "--num", "1e9", "--arrays", "--format", "json")
    assert "--arrays" in message and "GiB" in message


def test_sweep_step_with_a_huge_exponent() -> None:
    assert "--step" in refuse("x", "--range", "0", "1", "--step", "1e-999999999")


# --- config and suite files -------------------------------------------------------------


def test_config_file_size(tmp_path: Path) -> None:
    big = tmp_path / "gradcheck.toml"
    big.write_text("# " + "a" * config.MAX_FILE_BYTES + "\n")
    message = refuse("x", "--at", "1", "--config", str(big))
    assert f"is too large (the limit is {config.MAX_FILE_BYTES // 1024} KiB)" in message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_config_that_is_a_pipe_or_device_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in refuse("x", "--at", "1", "--config", str(fifo))
    assert "not a regular file" in refuse("suite", str(fifo))
    if Path("/dev/zero").exists():
        assert "not a regular file" in refuse("x", "--at", "1", "--config", "/dev/zero")


def test_config_nesting(tmp_path: Path) -> None:
    deep = tmp_path / "gradcheck.toml"
    deep.write_text("dtype = " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert "nested too deeply" in refuse("x", "--at", "1", "--config", str(deep))


def test_config_timeout(tmp_path: Path) -> None:
    path = tmp_path / "gradcheck.toml"
    path.write_text("timeout = 1e300\n")
    message = refuse("x", "--at", "1", "--config", str(path))
    assert f"timeout: expected a number > 0 and <= {config.MAX_TIMEOUT:g}" in message


def case_lines(count: int, body: str = 'expression = "x"\nat = 1') -> str:
    return "".join(f'[[case]]\nname = "c{i}"\n{body}\n' for i in range(count))


def test_suite_file_size(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text(case_lines(1) + "#" * config.MAX_FILE_BYTES + "\n")
    assert "is too large" in refuse("suite", str(path))


def test_suite_case_count(tmp_path: Path) -> None:
    path = tmp_path / "many.toml"
    path.write_text(case_lines(suite.MAX_CASES + 1))
    message = refuse("suite", str(path), "--list")
    assert f"{suite.MAX_CASES + 1:,} cases is too many (at most {suite.MAX_CASES:,})" in message


def test_suite_case_count_counts_each_dtype(tmp_path: Path) -> None:
    path = tmp_path / "dtypes.toml"
    count = suite.MAX_CASES // 2 + 1
    path.write_text('[defaults]\ndtype = ["float32", "float64"]\n' + case_lines(count))
    assert f"more than {suite.MAX_CASES:,} cases" in refuse("suite", str(path), "--list")


def test_suite_case_sweep_size(tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(case_lines(1, 'expression = "x"\nrange = [0, 1]\nnum = 1000000000'))
    message = refuse("suite", str(path), "--list")
    assert "1,000,000,000 points is too many for a suite case (at most " in message


def test_suite_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.toml"
    per_case = suite.MAX_CASE_POINTS  # one backend, one derivative: a row per point
    count = suite.MAX_SUITE_ROWS // per_case + 1
    body = f'expression = "x"\nrange = [0, 1]\nnum = {per_case}\nbackends = ["analytic"]'
    path.write_text(case_lines(count, body))
    message = refuse("suite", str(path), "--list")
    assert f"more than the {suite.MAX_SUITE_ROWS:,} one suite file may have" in message


def test_suite_timeout(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(case_lines(1, 'expression = "x"\nat = 1\ntimeout = inf'))
    assert "timeout: expected a finite number" in refuse("suite", str(path), "--list")


# --- what the limits admit still runs -----------------------------------------------------


def deepest(template: str) -> str:
    """``template`` nested as deep as the parser admits."""
    text = "x"
    while True:
        try:
            parser.parse(template.format(text))
        except parser.ExpressionError:
            return text
        text = template.format(text)


@pytest.mark.parametrize("template", ["sigmoid({})", "log2({})", "({})**-1.5", "exp(-({}))",
                                      "softplus({})", "atan2({}, 1.5)", "xlogy(2, {})",
                                      "clip({}, -1, 2)", "maximum({}, 1)"])
def test_deepest_admitted_expressions_stay_under_the_recursion_limit(template: str) -> None:
    """The depth limit and its weights were measured against sympy.diff's recursion;
    the deepest expression of each costly kind must still get its exact derivative."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "autograd_cli", deepest(template), "--at", "1.25",
         "--backends", "analytic", "--format", "json"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr, (
        result.stderr[-1500:]
    )
    assert result.returncode in (0, 1), result.stderr[-1500:]
    assert json.loads(result.stdout)["results"][0]["backend"] == "analytic"


def test_power_tower_reference_does_not_hang() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "autograd_cli", "2**2**2**2**2**2**2**x",
                             "--at", "0.3", "--backends", "analytic"], capture_output=True,
                            text=True, env=env, timeout=10, check=False)
    assert result.returncode in (0, 1, 2), result.stderr
    assert "Traceback" not in result.stderr
