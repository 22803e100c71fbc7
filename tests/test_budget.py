"""The exact reference's budget: a derivative too large for it is refused up front, and
whatever slips past the estimate stops at --timeout.

Refusals run the real command (or the API) in a fresh interpreter and report which
heavy modules it imported: the estimate must decide before SymPy or any framework
loads. No test asserts on time as a benchmark; the timeouts only turn a regression
that hangs into a failure instead of a stalled CI job.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from corpus import CORPUS, TUTORIAL
from processes import alive

from autograd_cli import inputs, truth
from autograd_cli.comparison.sweep import CHUNK, build_sweep
from autograd_cli.expr import parser
from autograd_cli.expr.cost import derivative_cost
from autograd_cli.expr.nodes import variables
from autograd_cli.inputs import InputError, build_request, resolve_partials
from autograd_cli.suite import config

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "tensorflow", "jax", "sympy", "mpmath", "matplotlib")


def nest(template: str, times: int, inner: str = "x") -> str:
    text = inner
    for _ in range(times):
        text = template.format(text)
    return text


def deepest(template: str) -> str:
    """``template`` nested as deep as the parser admits."""
    text = "x"
    while True:
        try:
            parser.parse(template.format(text))
        except parser.ExpressionError:
            return text
        text = template.format(text)


def cost(text: str, order: int, wrt: tuple[str, ...] = ()) -> int:
    expr = parser.parse(text)
    return derivative_cost(expr, resolve_partials(variables(expr), list(wrt), order))


FORTY = nest("sin({})", 40)

# --------------------------------------------------------------------------- the estimate


@pytest.mark.parametrize("template", ["sin({})", "exp(-({}))", "tanh({})", "sigmoid({})",
                                      "log(1 + {})", "({})**-1.5", "x*sin({})",
                                      "sqrt(1 + {})", "({})**x", "atan({})*x", "({})**2.5 + x"])
def test_estimate_grows_with_order_and_nesting(template: str) -> None:
    sizes = [[cost(nest(template, n), k) for k in range(1, 5)] for n in range(1, 10)]
    for row in sizes:
        assert row == sorted(row) and len(set(row)) == len(row), (template, row)
    for k in range(4):
        column = [row[k] for row in sizes]
        assert column == sorted(column) and len(set(column)) == len(column), (template, column)


def test_estimate_of_a_polynomial_stops_growing_where_its_derivatives_vanish() -> None:
    square = [cost("x*x", k) for k in range(1, 5)]
    assert square[0] < square[1] == square[2] == square[3], square
    sizes = [cost(TUTORIAL, k) for k in range(1, 5)]
    assert sizes[0] < sizes[1] < sizes[2] == sizes[3], sizes  # its 4th derivative is 0


def test_estimate_grows_along_mixed_partials() -> None:
    text = "x*y + sin(x*y)"
    sizes = [cost(text, len(p), p) for p in (("x",), ("x", "y"), ("x", "y", "x"),
                                             ("x", "y", "x", "y"))]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4, sizes
    # A variable the expression does not hold in a branch adds nothing there.
    assert cost("sin(x) + y", 2, ("x", "y")) < cost("sin(x) + y", 2, ("x", "x"))


def test_estimate_follows_sympy() -> None:
    """Within a small factor of the nodes SymPy really builds (f and each intermediate
    derivative): what the limits were calibrated on."""
    import sympy

    for text, order in [(nest("sin({})", 5), 2), (nest("sin({})", 10), 3), (TUTORIAL, 3),
                        ("x*sigmoid(x) + tanh(x)/2", 3), (nest("tanh({})", 6), 2),
                        ("exp(-x**2/2)/sqrt(2*pi)", 4), (nest("log(1 + {})", 5), 3)]:
        f = truth.to_sympy(parser.parse(text))
        real = sum(1 for _ in sympy.preorder_traversal(f))
        for k in range(1, order + 1):
            real += sum(1 for _ in sympy.preorder_traversal(truth.differentiate(
                f, ",".join("x" * k))))
        estimate = cost(text, order)
        assert real / 3 <= estimate <= real * 10, (text, order, estimate, real)


def test_estimate_is_quick_on_the_largest_expressions() -> None:
    """The parser's worst cases at order 4, mixed over four variables and over all 16:
    milliseconds (the bound is only a hang guard)."""
    factor = "sigmoid(x + y*z - w)"
    product = "*".join([factor] * (parser.MAX_NODES // 9))  # 8 nodes and a "*" each
    nested = deepest("tan({} + y*z - w)")
    sixteen = "+".join(f"sin(v{i}*v{(i + 1) % 16})*exp(v{i})" for i in range(16))
    for text in (product, nested, sixteen):
        expr = parser.parse(text)
        names = variables(expr)
        for partials in ([tuple(names[:4])], [(name,) * 4 for name in names]):
            started = time.perf_counter()
            derivative_cost(expr, partials)
            assert time.perf_counter() - started < 1.0, (text[:40], partials)


def configs_expressions() -> list[tuple[str, int]]:
    found = []
    for path in sorted((ROOT / "configs").glob("*.toml")):
        for case in config.read_toml(path).get("case", []):
            found.append((case["expression"], int(case.get("order", 1))))
    return found


def test_ordinary_expressions_stay_far_below_the_limits() -> None:
    """Every expression of the test corpus at every order up to 4, and of configs/*.toml
    up to order 2 (or its case's order): a tenth of the size limit at most (they reach
    ~500), and 10,000 points (the --at maximum) within the point-check limit. (The
    activations built of compositions grow faster: gelu_tanh's third derivative, about
    2,400, takes 8,000 points at most.)"""
    orders = {case.text: 4 for case in CORPUS}
    for text, order in configs_expressions():
        orders[text] = max(orders.get(text, 0), order, 2)
    assert len(orders) > 40
    for text, highest in orders.items():
        for order in range(1, highest + 1):
            size = cost(text, order)
            assert size * 10 <= inputs.MAX_DERIVATIVE_SIZE, (text, order, size)
            assert size * inputs.MAX_POINTS <= inputs.MAX_POINT_WORK, (text, order, size)


@pytest.mark.parametrize("template", ["sigmoid({})", "log2({})", "({})**-1.5", "exp(-({}))",
                                      "sin({})", "tanh({})", "tan({})", "x*({})", "x**({})",
                                      "({})**x", "sin(x + {})"])
def test_first_derivatives_of_the_deepest_expressions_are_admitted(template: str) -> None:
    """The parser's limits keep every first derivative small; they stay accepted."""
    build_request(deepest(template), ["1.25"], backends=("analytic",))


# --------------------------------------------------------------------------- refusals

PROBE = """\
import json, sys, time
started = time.perf_counter()
code = 0
try:
    {call}
except SystemExit as stop:
    code = stop.code
except ValueError as error:
    print(f"error: {{error}}", file=sys.stderr)
    code = 2
heavy = {heavy!r}
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))
seconds = time.perf_counter() - started
print("\\nPROBE " + json.dumps({{"code": code, "loaded": loaded, "seconds": seconds}}),
      file=sys.stderr)
"""


def probe(call: str, *args: str) -> tuple[str, dict[str, object]]:
    """Run ``call`` (the CLI's main, or an API function) in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(call=call, heavy=HEAVY), *args],
        capture_output=True, text=True, env=env, timeout=60,
    )
    message, _, tail = result.stderr.rpartition("\nPROBE ")
    assert tail, result.stderr[-2000:]
    assert result.stdout == "", result.stdout[:500]
    return message, json.loads(tail)


def refuse(*args: str) -> str:
    """``gradcheck ARGS``: exit 2, a one-line reason, no traceback, nothing heavy."""
    message, found = probe("from autograd_cli.cli import main; main(sys.argv[1:])", *args)
    assert found["code"] == 2, (args[:3], message[-2000:])
    assert found["loaded"] == [], found["loaded"]
    assert "Traceback" not in message, message[-2000:]
    assert message.startswith("error: ") or "\nerror: " in message, message[:500]
    assert float(found["seconds"]) < 5, "a refusal must not wait for SymPy"  # hang guard
    return message


def test_forty_nested_sin_at_order_4_is_refused_before_sympy() -> None:
    message = refuse(FORTY, "--order", "4", "--at", "0.5", "--backends", "analytic")
    assert "--order 4 of this expression: its exact derivative would have ~" in message
    assert f"(limit {inputs.MAX_DERIVATIVE_SIZE:.0e})" in message
    assert "lower --order or split the expression" in message


def test_mixed_partial_of_a_deep_nest_is_refused() -> None:
    text = nest("sin({})", 30, "x*y")
    message = refuse(text, "--order", "4", "--wrt", "x", "--wrt", "y", "--wrt", "x",
                     "--wrt", "y", "--at", "x=1,y=2", "--backends", "analytic")
    assert "would have ~" in message and "limit" in message


def test_too_many_points_for_a_large_derivative_are_refused() -> None:
    text = nest("sin({})", 15)
    size = cost(text, 3)
    assert size <= inputs.MAX_DERIVATIVE_SIZE  # the derivative alone is fine...
    count = inputs.MAX_POINT_WORK // size + 1  # ...at this many points it is not
    assert count <= inputs.MAX_POINTS
    points = [arg for i in range(count) for arg in ("--at", f"{i / count:.6f}")]
    message = refuse(text, "--order", "3", *points, "--backends", "analytic")
    assert f"--at: {count:,} points of a derivative of ~" in message
    assert f"(limit {inputs.MAX_POINT_WORK:.0e} terms x points); use at most {count - 1:,}" in (
        message
    )


def test_sweeps_are_refused_too() -> None:
    call = ("from autograd_cli.comparison.sweep import build_sweep; "
            "build_sweep(sys.argv[1], ('0', '1'), order=4, backends=('analytic',))")
    message, found = probe(call, FORTY)
    assert found["code"] == 2 and found["loaded"] == [], (message, found)
    assert "--order 4 of this expression" in message
    # A derivative that is fine on its own, but too large for a whole chunk of points:
    text = nest("sin({})", 15)
    size = cost(text, 3)
    assert size <= inputs.MAX_DERIVATIVE_SIZE
    assert size * CHUNK > inputs.MAX_SWEEP_WORK
    with pytest.raises(InputError, match=r"--range: 10,000,000 points of a derivative .* "
                                         r"per chunk of 1,048,576\); use at most "):
        build_sweep(text, ("0", "1"), num="1e7", order=3)
    build_sweep(text, ("0", "1"), num="1000", order=3)
    build_sweep(TUTORIAL, ("-4", "4"), num="1e9", order=4)  # the simplest: any length


def test_a_suite_with_a_huge_derivative_is_refused_as_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "suite.toml"
    path.write_text(textwrap.dedent(f"""\
        [[case]]
        name = "fine"
        expression = "sin(x)"
        at = 0.5

        [[case]]
        name = "forty sines"
        expression = "{FORTY}"
        order = 4
        at = 0.5
        """))
    message = refuse("suite", str(path), "--backends", "analytic")
    assert "case 'forty sines'" in message and "order 4 of this expression" in message
    assert "--order" not in message  # a file names keys, not flags


# --------------------------------------------------------------------------- the deadline


@pytest.fixture
def quiet_alarm() -> object:
    """No SIGALRM handler or timer of ours may outlive a test."""
    before = signal.getsignal(signal.SIGALRM)
    yield None
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_deadline_interrupts_sympy_diff(quiet_alarm: object) -> None:
    expr = parser.parse(nest("sin({})", 15))  # accepted, ~1 s of sympy.diff at order 3
    points = {"x": np.array([0.5])}
    started = time.monotonic()
    with pytest.raises(truth.ReferenceTimeout) as caught:
        truth.reference(expr, points, ("x,x,x",), deadline=truth.Deadline(0.05))
    assert time.monotonic() - started < 30  # hang guard
    assert isinstance(caught.value, ValueError)  # what the CLI and suites report
    message = str(caught.value)
    assert message.startswith("the exact reference did not finish within --timeout 0.05 s (")
    assert "lower --order, use fewer points, or raise --timeout" in message


def test_the_deadline_gives_back_an_outer_alarm(quiet_alarm: object) -> None:
    rang: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: rang.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        with pytest.raises(truth.ReferenceTimeout):
            truth.reference(parser.parse(nest("sin({})", 15)), {"x": np.array([0.5])},
                               ("x,x,x",), deadline=truth.Deadline(0.05))
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 20 < left < 30 and not rang  # the outer timer runs on, minus the time spent
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_outside_the_main_thread_the_deadline_is_checked_between_points(
    quiet_alarm: object,
) -> None:
    caught: list[BaseException] = []

    def work() -> None:
        try:
            truth.reference(parser.parse(TUTORIAL), {"x": np.linspace(-4, 4, 10_000)},
                               ("x",), deadline=truth.Deadline(0.2))
        except BaseException as error:  # handed to the test thread
            caught.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert len(caught) == 1 and isinstance(caught[0], truth.ReferenceTimeout), caught
    assert "points done" in str(caught[0])


def test_without_a_deadline_the_reference_is_unchanged() -> None:
    expr = parser.parse(TUTORIAL)
    points = {"x": np.array([0.5, -1.0])}
    plain = truth.reference(expr, points, ("x",))
    timed = truth.reference(expr, points, ("x",), deadline=truth.Deadline(60))
    assert plain.derivatives["x"].tolist() == timed.derivatives["x"].tolist() == [10.5, 3.0]


PLUGINS = {"GRADCHECK_PLUGINS": "hang=tests.fake_backends:Hang"}


def marked(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker``: a run's workers and their
    children inherit it, wherever they were reparented."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if marker.encode() in environ.split(b"\0") and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def left_behind(marker: str, within: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within
    while (found := marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def many_points(count: int) -> list[str]:
    return [arg for i in range(count) for arg in ("--at", f"{-4 + 8 * i / count:.6f}")]


#: Within every limit, yet its exact 3rd derivative takes mpmath ~5 ms a point here:
#: 2,500 points are ~12 s of reference.
SLOW = nest("sin({})", 10)


def test_a_reference_past_timeout_is_exit_2_and_stops_the_workers(gradcheck, tmp_path):
    """2,500 points of SLOW, within the limits, under --timeout 2: the reference stops,
    the CLI says why, and the running workers (one hangs, with a child of its own) are
    killed, children included."""
    assert cost(SLOW, 3) * 2_500 <= inputs.MAX_POINT_WORK
    env = {**PLUGINS, "FAKE_BACKENDS_DIR": str(tmp_path)}
    assert marked(f"FAKE_BACKENDS_DIR={tmp_path}") == []
    started = time.monotonic()
    result = gradcheck(SLOW, "--order", "3", *many_points(2_500), "--backends",
                       "analytic,hang", "--timeout", "2", env=env, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert time.monotonic() - started < 60  # hang guard: the hanging worker is not awaited
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("error: the exact reference did not finish within "
                                    "--timeout 2 s ("), result.stderr[-2000:]
    assert left_behind(f"FAKE_BACKENDS_DIR={tmp_path}") == []  # workers and children


def test_a_suite_case_past_its_timeout_is_that_cases_error(gradcheck, tmp_path):
    points = ", ".join(f"{-4 + 8 * i / 2_500:.6f}" for i in range(2_500))
    path = tmp_path / "suite.toml"
    path.write_text(textwrap.dedent(f"""\
        [defaults]
        backends = ["analytic"]

        [[case]]
        name = "slow"
        expression = "{SLOW}"
        order = 3
        at = [{points}]
        timeout = 1

        [[case]]
        name = "quick"
        expression = "sin(x)"
        at = 0.5
        """))
    result = gradcheck("suite", str(path), "--format", "json", timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    cases = {case["name"]: case for case in json.loads(result.stdout)["cases"]}
    assert cases["quick"]["outcome"] == "passed"
    slow = cases["slow"]
    assert (slow["outcome"], slow["exit_code"], slow["report"]) == ("error", 2, None)
    assert "did not finish within --timeout 1 s" in slow["message"]
    assert math.isfinite(slow["seconds"]) and slow["seconds"] < 60  # hang guard
