"""`gradcheck hunt`: generation, shrinking, deduplication, and the command end to end
with a planted wrong backend (torch whose sine has the derivative 2*cos)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from autograd_cli.backends.torch import TorchBackend
from autograd_cli.expr.nodes import Call, Expr
from autograd_cli.expr.parser import parse
from autograd_cli.hunt.dedup import Finding, Findings
from autograd_cli.hunt.generate import Generator
from autograd_cli.hunt.judge import Hit
from autograd_cli.hunt.points import EDGES, dtype_edges, nudge
from autograd_cli.hunt.shrink import shrink
from autograd_cli.hunt.text import primitives, to_text

ROOT = Path(__file__).resolve().parent.parent


class WrongSin(TorchBackend):
    """torch, but sin's derivative is 2*cos: the value is sin(x) (the added term is
    0), its derivative cos(x) + cos(x)."""

    name = "wrongsin"  # type: ignore[misc]

    def ops(self, dtype: str, device: str = "cpu") -> dict[str, Callable[..., Any]]:
        import torch

        table = dict(super().ops(dtype, device))
        table["sin"] = lambda a: torch.sin(a) + (a - a.detach()) * torch.cos(a)
        return table


PLANTED = {"GRADCHECK_PLUGINS": "wrongsin=tests.test_hunt:WrongSin",
           "PYTHONPATH": str(ROOT)}


# --------------------------------------------------------------------------- generation


def test_generation_is_deterministic_valid_and_budget_independent() -> None:
    first = [Generator(7).candidate(i) for i in range(150)]
    again = [Generator(7).candidate(i) for i in reversed(range(150))][::-1]
    assert [(c.text, c.points, c.order, c.mode) for c in first] == \
        [(c.text, c.points, c.order, c.mode) for c in again]
    assert [c.text for c in first] != [Generator(8).candidate(i).text for i in range(150)]
    for candidate in first:  # every text reads back to the very tree
        assert to_text(parse(candidate.text)) == candidate.text
        assert "x" in candidate.text and candidate.order in (1, 2)
    used = {name for c in first for name in primitives(c.expr)}
    assert len(used) > 30  # compositions of many functions and operators


def test_generation_is_weighted_toward_edges() -> None:
    generator = Generator(3, functions=["log1p", "softplus"])
    candidates = [generator.candidate(i) for i in range(100)]
    focused = sum(any(f in primitives(c.expr) for f in ("log1p", "softplus"))
                  for c in candidates)
    assert focused >= 70
    edges = {e for values in EDGES.values() for e in values} | set(dtype_edges("float32"))
    near = edges | {nudge(e, s, "float32") for e in edges for s in (-3, -2, -1, 1, 2, 3)}
    points = [p for c in candidates for p in c.points]
    at_edges = sum(abs(p) in near or p in near for p in points)
    assert at_edges / len(points) > 0.5
    assert any(0 < abs(p) < 1.2e-38 for p in points)  # subnormals of float32
    parameterized = Generator(1, functions=["clip"])
    clips = [n for i in range(40) for n in _calls(parameterized.candidate(i).expr, "clip")]
    assert clips and all(a.args[1].value <= a.args[2].value for a in clips)  # type: ignore


def _calls(expr: Expr, name: str) -> list[Call]:
    found = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Call) and node.func == name:
            found.append(node)
        stack.extend(getattr(node, "args", ()) or [getattr(node, k) for k in
                                                     ("operand", "left", "right")
                                                     if hasattr(node, k)])
    return found


@pytest.mark.parametrize("text", ["-x**2", "(-x)**2", "x**-2", "2**-x", "clip(x, -1, 0.5)",
                                  "(x + 1)*(x - 1)/(x*x)", "x - (x - 1)", "leaky_relu(x, 0.2)",
                                  "1e-20*x", "x**0.5**2"])
def test_text_reads_back_to_the_same_tree(text: str) -> None:
    tree = parse(text)
    assert parse(to_text(tree)) == tree or to_text(parse(to_text(tree))) == to_text(tree)


# --------------------------------------------------------------------------- shrinking


def _hit(point: float, kind: str = "magnitude") -> Hit:
    return Hit("fake", "reverse", 1, "float32", "x", kind, point, 2.0, 1.0, 1e7)


def test_shrinking_finds_the_primitive_and_the_simplest_point() -> None:
    """A model backend that is wrong wherever sin is applied to anything: the tree
    shrinks to sin(x) and the point to 0, in a bounded number of checks."""
    calls: list[str] = []

    def check(expr: Expr, points: Sequence[float], like: Hit) -> list[Hit]:
        calls.append(to_text(expr))
        return [_hit(p) for p in points if "sin" in primitives(expr)]

    start = parse("exp(sin(2*x + 1)*x)/3 + x")
    expr, hit, used = shrink(start, _hit(1.2345678), check)
    assert (to_text(expr), hit.point) == ("sin(x)", 0.0)
    assert used == len(calls) <= 40


def test_shrinking_keeps_the_failure_class() -> None:
    """Reductions that fail another way (here: a NaN only with exp around) are refused."""

    def check(expr: Expr, points: Sequence[float], like: Hit) -> list[Hit]:
        names = primitives(expr)
        kind = "nan" if "exp" in names else "magnitude"
        return [_hit(p, kind) for p in points if "log" in names and p > 0.3]

    expr, hit, _ = shrink(parse("exp(log(x))*x"), _hit(0.75, "nan"), check)
    assert to_text(expr) == "exp(log(x))" and hit.kind == "nan"
    assert hit.point == 1.0  # the simplest point that still fails (0 does not)


# --------------------------------------------------------------------------- dedup


def test_two_hits_of_one_signature_count_once() -> None:
    findings = Findings()
    big = Finding(parse("sin(x)*x"), _hit(0.75))
    big_is_new = findings.add(big)
    small = Finding(parse("sin(x)*x"), _hit(0.5))
    assert big_is_new and not findings.add(small)
    other = Finding(parse("cos(x)"), _hit(0.5))
    assert findings.add(other)
    assert len(findings) == 2 and findings.hits == 3
    first = next(iter(findings))
    assert first.count == 2 and first.hit.point == 0.5  # the simpler reproducer kept


# --------------------------------------------------------------------------- the command


def _gradcheck(*args: str, env: Mapping[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run([str(Path(sys.executable).parent / "gradcheck"), *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, env=full,
                          timeout=timeout)


def test_planted_wrong_backend_is_found_shrunk_and_its_suite_reproduces_it(tmp_path: Path) -> None:
    done = _gradcheck("hunt", "--backends", "wrongsin", "--functions", "sin", "--order", "1",
                      "--budget", "6", "--seed", "1", "--points", "3",
                      "--output-dir", str(tmp_path), env=PLANTED)
    assert done.returncode == 1, done.stderr
    data = json.loads((tmp_path / "findings.json").read_text())
    found = {(f["expression"], f["signature"]["backend"], f["signature"]["primitive"])
             for f in data["findings"]}
    assert ("sin(x)", "wrongsin", "sin") in found, data["findings"]
    finding = next(f for f in data["findings"] if f["expression"] == "sin(x)")
    assert finding["point"] in (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5)
    assert finding["report"]["verified"] and finding["count"] >= 1
    assert finding["point"] == 0.0 and finding["derivative"] == 2.0  # 2*cos(0)
    assert data["checked"] >= 1 and "hunt:" in done.stderr
    markdown = (tmp_path / "findings.md").read_text()
    assert "## 1. wrongsin reverse: sin (wrong value, float32, order 1)" in markdown
    assert done.stdout == markdown
    # The findings are a regression suite: it passes while each bug reproduces ...
    again = _gradcheck("suite", str(tmp_path / "findings.toml"), env=PLANTED)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "known: wrongsin (wrong value in sin" in again.stderr
    # ... and a case fails once its bug is gone (here: the same reproducers on torch).
    fixed = tmp_path / "fixed.toml"
    fixed.write_text((tmp_path / "findings.toml").read_text().replace("wrongsin", "torch"))
    gone = _gradcheck("suite", str(fixed))
    assert gone.returncode == 1, gone.stdout + gone.stderr
    assert "known failure not seen: torch passes now" in gone.stderr


def test_no_budget_no_findings_and_usage_errors(tmp_path: Path) -> None:
    done = _gradcheck("hunt", "--budget", "0", "--format", "json", "--output-dir",
                      str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["findings"] == []
    assert (tmp_path / "findings.toml").read_text().count("[[case]]") == 0
    bad = _gradcheck("hunt", "--order", "9")
    assert bad.returncode == 2 and "orders are 1 to 4" in bad.stderr
    unknown = _gradcheck("hunt", "--functions", "sinn")
    assert unknown.returncode == 2 and "sin" in unknown.stderr


def test_ctrl_c_keeps_what_was_found(tmp_path: Path) -> None:
    """Interrupted, the hunt writes what it found and exits 130. The backend is the
    numpy fake that answers 2*x whatever the expression: wrong almost everywhere, and
    no framework to load."""
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gradcheck"), "hunt", "--backends", "fake",
         "--functions", "sin", "--order", "1", "--budget", "300", "--points", "3",
         "--output-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, "GRADCHECK_PLUGINS": "fake=tests.fake_backends:Square",
             "PYTHONPATH": str(ROOT)})
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in process.stderr:
        seen.append(line)
        if (", 0 findings" not in line and line.startswith("hunt:")) or \
                time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + err
    data = json.loads((tmp_path / "findings.json").read_text())
    assert data["interrupted"] == "SIGINT" and data["findings"]
    assert all(f["signature"]["backend"] == "fake" for f in data["findings"])
    assert "interrupted (SIGINT)" in err and math.isfinite(data["seconds"])
    assert (tmp_path / "findings.toml").read_text().count("[[case]]") == len(data["findings"])


# --------------------------------------------------------------------------- judgement


def _row(derivative: float, exact: float, status: str = "wrong") -> Any:
    from autograd_cli.report.model import Row

    return Row("torch", "backward()", None, "float32", {"x": 1.0}, "x", 0.0, derivative,
               exact, None, None, 1e7, status, mode="reverse")


@pytest.mark.parametrize(("derivative", "exact", "kind", "aside"), [
    (0.0, 2.06e-9, "zero", None),  # 0 where the truth is a normal float32: a finding
    (math.nan, 1.0, "nan", None),
    (-1.0, 1.0, "sign", None),
    (1.5, 1.0, "magnitude", None),
    (0.0, 8.2e-40, "zero", "subnormal exact value (flush-to-zero range)"),
    (1e-20, 8.2e-40, "magnitude", "subnormal exact value (flush-to-zero range)"),
    (math.nan, 3.75e39, "nan", "exact value beyond the dtype's range"),
    (-0.0, math.nan, "magnitude", "no finite exact value"),
])
def test_kinds_and_what_is_set_aside(derivative: float, exact: float, kind: str,
                                     aside: str | None) -> None:
    from autograd_cli.hunt.judge import explained, kind_of

    row = _row(derivative, exact)
    assert kind_of(row) == kind and explained(row) == aside


@pytest.mark.parametrize(("kind", "exact", "wide", "aside"), [
    ("nan", 5.3e22, "ok", True),  # float32 only: an intermediate overflows
    ("nan", 5.3e22, "wrong", False),  # NaN in float64 too: the kernel
    ("zero", 1.25e-38, "ok", True),  # an intermediate is subnormal, flushed
    ("zero", 2.06e-9, "ok", False),  # 0 for a normal truth: a finding
    ("magnitude", 1e-35, "ok", False),
])
def test_float32_only_range_artifacts_are_set_aside(kind: str, exact: float, wide: str,
                                                    aside: bool) -> None:
    from autograd_cli.hunt.search import range_only

    hit = Hit("tensorflow", "reverse", 1, "float32", "x", kind, 1.0, 0.0, exact, 1e7)
    finding = Finding(parse("sin(x)"), hit, report={"float64": {"status": wide}})
    assert range_only(finding) is aside


def test_scaled_reproducers_right_in_float64_are_set_aside() -> None:
    from autograd_cli.hunt.search import range_only

    hit = Hit("jax", "reverse", 2, "float32", "x", "zero", 1.0, -0.0, -1.0, 8e6)
    wide = {"float64": {"status": "ok"}}
    assert range_only(Finding(parse("asinh(1e30*x)"), hit, report=wide))
    assert not range_only(Finding(parse("asinh(2*x)"), hit, report=wide))
    assert not range_only(Finding(parse("asinh(1e30*x)"), hit,
                                  report={"float64": {"status": "wrong"}}))
    assert range_only(Finding(parse("asinh(1e30*x)"), hit,  # 9 ULPs in float64, 1 for 2 here
                              report={"float64": {"status": "inaccurate"}}))


def test_nan_where_the_chain_rule_leaves_the_range_is_set_aside() -> None:
    """clip(lgamma(x), 1, 2)'''' at -1e-154: lgamma'''' is 6e616, times clip's 0 (the
    comparison says so in the reason); erfc'''' at -1e154: exp(-x**2) times 8x**3. A NaN
    at an ordinary input is still a finding."""
    from autograd_cli.comparison.points import BEYOND_RANGE
    from autograd_cli.hunt.judge import explained
    from autograd_cli.report.model import Row

    def row(x: float, reason: str | None = None) -> Row:
        return Row("jax", "jax.grad", None, "float64", {"x": x}, "x,x,x,x", 0.0, math.nan,
                   0.0, None, None, None, "wrong", reason=reason, mode="reverse")

    assert explained(row(-1e-154, BEYOND_RANGE.format(dtype="float64"))) is not None
    assert explained(row(-1e154)) == "NaN or inf at an input whose square leaves the dtype's range"
    assert explained(row(4e8)) is None
    assert explained(row(-1e-154)) is None


def test_a_kink_whose_sides_agree_is_set_aside() -> None:
    """abs(x)*sign(x) at 0 is x: every framework answers 0 for 1, by design of automatic
    differentiation (each op's rule at the kink); the verdict says so and calls it wrong,
    the hunt leaves it out of its findings."""
    from autograd_cli import compare
    from autograd_cli.hunt.judge import explained

    report = compare("abs(x)*sign(x)", at=0.0, backends="analytic,torch")
    torch = report.rows[1]
    assert torch.status == "wrong" and torch.derivative == 0.0
    assert explained(torch) == "a kink whose sides agree (each op's rule at the place, by design)"
    ordinary = compare("abs(x)*sign(x)", at=0.5, backends="analytic,torch").rows[1]
    assert ordinary.status == "ok" and ordinary.reason is None
