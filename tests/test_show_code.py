"""--show-code: each framework's script, run as a user would run it, prints the
numbers of that framework's rows, bit for bit."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import TUTORIAL, parse

from autograd_cli import compare
from autograd_cli.core.model import notation
from autograd_cli.expr.walk import lower
from autograd_cli.report.render import render
from autograd_cli.report.show_code import TORCH_FUNCTIONS, source_ops

#: Variables named like the scripts' own names (c, value, tf), a fixed one, log2 (a
#: division in TensorFlow), powers and a subtraction whose parentheses matter.
EXPRESSION = "c*sin(value) - (tf - c)**2 + log2(c)/-tf"
POINTS = [{"c": 1.5, "value": 0.25, "tf": 3.0}, {"c": 3.0, "value": -2.0, "tf": 0.1}]


def _printed(output: str) -> dict[str, list[float]]:
    """The script's ``name = number`` or ``name = [numbers]`` lines."""
    found = {}
    for line in output.splitlines():
        name, _, value = line.partition(" = ")
        parsed = ast.literal_eval(value)
        found[name] = [float(v) for v in (parsed if isinstance(parsed, list) else [parsed])]
    return found


@pytest.fixture(scope="module")
def shown() -> list[dict]:
    """Results of two comparisons (frameworks in this process): first derivatives in
    two dtypes, and the mixed second partial in both modes."""
    first = compare(EXPRESSION, at=POINTS, wrt=["c", "tf"], dtype="float32,bfloat16",
                    backends="torch,tensorflow,jax", show_code=True, isolate=False)
    mixed = compare(EXPRESSION, at=POINTS, wrt=["c", "tf"], order=2, mode="both",
                    backends="torch,tensorflow,jax", show_code=True, isolate=False)
    return [r for report in (first, mixed) for r in json.loads(render(report, "json"))["results"]]


@pytest.mark.parametrize("backend", ["torch", "tensorflow", "jax"])
def test_each_script_prints_the_numbers_of_its_rows(shown: list[dict], backend: str,
                                                    tmp_path: Path) -> None:
    groups: dict[str, list[dict]] = {}
    for row in shown:
        if row["backend"] == backend:
            assert row["status"] in ("ok", "inaccurate"), row["reason"]
            groups.setdefault(row["code"], []).append(row)
    assert len(groups) == 4  # float32, bfloat16; reverse and forward second order
    runs = []
    for i, script in enumerate(groups):
        assert script.startswith(f"# gradcheck --show-code: {backend} (")
        ast.parse(script)  # it is Python, and it is ours: never the user's text
        (tmp_path / f"s{i}.py").write_text(script)
        runs.append(f"print('@@'); runpy.run_path({str(tmp_path / f's{i}.py')!r}, "
                    "run_name='__main__')")
    # every script in one interpreter, each as a __main__ of its own: one import
    done = subprocess.run([sys.executable, "-c", "import runpy\n" + "\n".join(runs)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    outputs = done.stdout.split("@@\n")[1:]
    for rows, output in zip(groups.values(), outputs, strict=True):
        printed = _printed(output)
        labels = list(dict.fromkeys(r["wrt"] for r in rows))
        for label in labels:
            assert printed[notation(label)] == [r["derivative"] for r in rows
                                                if r["wrt"] == label], (label, output)
        assert printed["f"] == [r["value"] for r in rows if r["wrt"] == labels[0]]


def test_the_table_prints_the_scripts_after_the_verdict() -> None:
    report = compare(TUTORIAL, at=0.5, backends="analytic,torch", show_code=True,
                     isolate=False)
    text = render(report, "table")
    verdict = text.index("OK: all 2 backends agree")
    script = text.index("# gradcheck --show-code: torch (backward()), float32, cpu")
    assert verdict < script
    assert "x = torch.tensor(padded([0.5]), dtype=dt, requires_grad=True)\n" in text
    assert "value.backward(torch.ones_like(value))\nprint(\"f =\", value.tolist()[:n])" in text
    assert text.count("# gradcheck --show-code:") == 1  # analytic has no script
    markdown = render(report, "markdown")
    assert "torch, float32:\n\n```python\n# gradcheck --show-code: torch" in markdown
    assert json.loads(render(report, "json"))["results"][0]["code"] is None


def test_parentheses_follow_the_tree() -> None:
    def printed(text: str) -> str:
        env = {name: (name, 5) for name in ("x", "y", "z")}
        return str(lower(parse(text), source_ops(TORCH_FUNCTIONS), env)[0])

    assert printed("x - (y - z)") == "x - (y - z)"
    assert printed("(x - y) - z") == "x - y - z"
    assert printed("x + (y + z)") == "x + (y + z)"  # float addition is not associative
    assert printed("x/(y*z)") == "x / (y * z)"
    assert printed("(-x)**2") == "(-x) ** c(2.0)"
    assert printed("-x**2") == "-x ** c(2.0)"
    assert printed("x**y**z") == "x ** y ** z"
    assert printed("(x**y)**z") == "(x ** y) ** z"
    assert printed("x**-y") == "x ** -y"
    assert printed("sqrt(x + 1)*pi") == "torch.sqrt(x + c(1.0)) * c(math.pi)"


def test_show_code_refusals(gradcheck) -> None:
    done = gradcheck(TUTORIAL, "--at", "0.5", "--show-code", "--format", "csv")
    assert done.returncode == 2 and "--show-code needs --format table" in done.stderr
    done = gradcheck(TUTORIAL, "--range", "0", "1", "--show-code", "--arrays", "--format",
                     "json")
    assert done.returncode == 2 and "--show-code and --arrays" in done.stderr
    assert done.stdout == ""


def test_a_sweep_shows_a_script_at_each_rows_worst_point(gradcheck, tmp_path: Path) -> None:
    """--show-code on a sweep: per framework row, a point script at its worst point
    (named in a comment) that prints the very derivative a point check there gets."""
    args = ["sin(x)*exp(-x**2)", "--range", "-3", "3", "--num", "601", "--backends",
            "analytic,torch,jax", "--show-code"]
    done = gradcheck(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {r["backend"]: r for r in json.loads(done.stdout)["results"]}
    assert "code" not in rows["analytic"]
    for backend in ("torch", "jax"):
        script = rows[backend]["code"]
        worst = rows[backend]["worst_at"]
        assert script.startswith(f"# the sweep's worst point for {backend} in float32: "
                                 f"x = {worst!r}")
        ast.parse(script)
        (tmp_path / f"worst_{backend}.py").write_text(script)
        ran = subprocess.run([sys.executable, str(tmp_path / f"worst_{backend}.py")],
                             capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, ran.stderr
        point = gradcheck("sin(x)*exp(-x**2)", "--at", repr(worst), "--backends", backend,
                          "--format", "json")
        (row,) = json.loads(point.stdout)["results"]
        assert _printed(ran.stdout)["df/dx"] == [row["derivative"]]
        assert row["ulp_error"] == pytest.approx(rows[backend]["max_ulp_error"])
    table = gradcheck(*args)
    assert table.stdout.count("# the sweep's worst point for") == 2
    assert table.stdout.index("OK:") < table.stdout.index("# the sweep's worst point")


def test_a_sweep_with_a_fixed_variable_shows_the_script_at_its_worst_point(gradcheck) -> None:
    """The worst point of a two-variable sweep is one point (swept and fixed variables
    together), handed on as numbers: its script differentiates at both."""
    done = gradcheck("sin(x*y)*exp(x)", "--range", "-3", "3", "--num", "101", "--at", "y=2",
                     "--wrt", "x", "--backends", "analytic,torch", "--show-code",
                     "--format", "json")
    assert done.returncode == 0, done.stderr
    (torch,) = [r for r in json.loads(done.stdout)["results"] if r["backend"] == "torch"]
    assert torch["max_ulp_error"] > 0, "a sweep with no worst point shows no script"
    script = torch["code"]
    assert script.startswith(f"# the sweep's worst point for torch in float32: "
                             f"x = {torch['worst_at']!r}")
    ast.parse(script)
    assert "2.0" in script


def test_scripts_call_each_frameworks_own_op_with_its_parameters(tmp_path: Path) -> None:
    """gelu and leaky_relu(x, 0.2) print as the backends call them, and each script,
    run as it is, prints the numbers its backend computes."""
    import contextlib
    import io
    import runpy

    import numpy as np

    from autograd_cli.backends import backend_class
    from autograd_cli.inputs import build_request
    from autograd_cli.report.show_code import scripts

    text = "gelu(x) + leaky_relu(x, 0.2)"
    request = build_request(text, ["x=0.5", "x=-1.25"], ("x",), "float32",
                            ("torch", "tensorflow", "jax"))
    shown = scripts(request)
    calls = {
        "torch": ('torch.nn.functional.gelu(x, approximate="none")',
                  "torch.nn.functional.leaky_relu(x, negative_slope=0.2)"),
        "tensorflow": ("tf.nn.gelu(x, approximate=False)", "tf.nn.leaky_relu(x, alpha=0.2)"),
        "jax": ("jax.nn.gelu(x, approximate=False)",
                "jax.nn.leaky_relu(x, negative_slope=0.2)"),
    }
    x = {"x": np.array([0.5, -1.25], dtype=np.float32)}
    for backend, (gelu, leaky) in calls.items():
        script = shown[backend]
        assert f"{gelu} + {leaky}" in script, script
        path = tmp_path / f"{backend}.py"
        path.write_text(script)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(path), run_name="__main__")
        printed = _printed(out.getvalue())
        found = backend_class(backend)().evaluate(parse(text), x, ("x",), "float32")
        assert printed["f"] == found.values.tolist(), backend
        assert printed["df/dx"] == found.derivatives["x"].tolist(), backend
    missing = scripts(build_request("hypot(x, 1)", ["x=3"], ("x",), "float32",
                                    ("tensorflow",)))["tensorflow"]
    assert missing.startswith("# gradcheck --show-code: tensorflow, float32, cpu\n"
                              "# not run: tensorflow has no native hypot op")
    ast.parse(missing)
