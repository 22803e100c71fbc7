"""JAX against the exact reference, and JAX's float64 really being float64.

Most tests call the backend in this process (as tests/test_backends.py does for torch
and TensorFlow), which switches JAX's x64 mode on here too; nothing else in the suite
uses JAX. The runner test runs in a fresh interpreter, so "the parent never imports
jax" is checked where nothing else has imported it.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from corpus import CORPUS, TUTORIAL, Case, parse

from autograd_cli.backends import backend_class
from autograd_cli.backends.jax import JaxBackend
from autograd_cli.core.dtypes import DTYPES
from autograd_cli.expr.walk import missing_ops
from autograd_cli.truth.point import Reference, reference

MAX_ULPS = 256  # as for torch and TensorFlow: the worst seen on the corpus is far below

pytestmark = pytest.mark.skipif(not JaxBackend.is_installed(), reason="jax is not installed")


@functools.cache
def _backend() -> JaxBackend:
    return JaxBackend()


@functools.cache
def _reference(text: str, dtype: str) -> Reference:
    case = next(c for c in CORPUS if c.text == text)
    return reference(case.expr, case.inputs(dtype), case.variables)


def _ulps(actual: np.ndarray, exact: np.ndarray, dtype: str) -> np.ndarray:
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(actual.astype(np.float64) - exact) / spacing


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CORPUS, ids=[c.text for c in CORPUS])
def test_corpus_against_reference(case: Case, dtype: str) -> None:
    result = _backend().evaluate(case.expr, case.inputs(dtype), case.variables, dtype)
    ref = _reference(case.text, dtype)
    n = len(next(iter(case.points.values())))
    checks = {"f": (result.values, ref.values)}
    checks.update({f"d/d{k}": (result.derivatives[k], ref.derivatives[k]) for k in case.variables})
    for label, (actual, exact) in checks.items():
        assert actual.dtype == np.dtype(dtype) and actual.shape == (n,), label
        worst = float(np.max(_ulps(actual, exact, dtype)))
        assert worst <= MAX_ULPS, f"{label}: {worst:.0f} ULPs; {actual} vs {exact}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_tutorial_at_one_half(dtype: str) -> None:
    x = np.array([0.5], dtype=dtype)
    result = _backend().evaluate(parse(TUTORIAL), {"x": x}, ("x",), dtype)
    assert result.values.tolist() == [9.75] and result.derivatives["x"].tolist() == [10.5]
    assert result.derivatives["x"].dtype == np.dtype(dtype)
    assert result.method == "jax.vmap(jax.grad)"


def test_tutorial_over_the_tutorial_range() -> None:
    x = np.arange(-4, 4, 0.001, dtype=np.float32)
    result = _backend().evaluate(parse(TUTORIAL), {"x": x}, ("x",), "float32")
    xd = x.astype(np.float64)
    assert float(np.max(_ulps(result.derivatives["x"], 6 * xd**2 + 8 * xd + 5, "float32"))) <= 4


def test_float64_is_float64_and_float32_stays_float32() -> None:
    """x64 is on in the backend: float64 carries 53 bits, float32 still rounds to 24."""
    expr = parse("sin(x)/3")
    wide = _backend().evaluate(expr, {"x": np.array([0.1])}, ("x",), "float64")
    narrow = _backend().evaluate(expr, {"x": np.array([0.1], np.float32)}, ("x",), "float32")
    assert wide.derivatives["x"].dtype == np.float64
    assert narrow.derivatives["x"].dtype == np.float32
    assert abs(wide.derivatives["x"][0] - np.cos(0.1) / 3) <= 2 * np.spacing(np.cos(0.1) / 3)
    assert wide.derivatives["x"][0] != np.float64(narrow.derivatives["x"][0])
    expected32 = np.cos(np.float32(0.1)) / np.float32(3)
    assert abs(float(narrow.derivatives["x"][0]) - float(expected32)) <= np.spacing(expected32)


def test_constants_overflow_in_the_compared_dtype() -> None:
    inputs = {"x": np.array([1.0, 2.0], dtype=np.float32)}
    result = _backend().evaluate(parse("9.0**41 + x"), inputs, ("x",), "float32")
    assert np.all(np.isposinf(result.values))
    wide = _backend().evaluate(parse("9.0**41 + x"), inputs, ("x",), "float64")
    assert np.all(np.isfinite(wide.values)) and wide.derivatives["x"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_partials_and_variables_not_used(dtype: str) -> None:
    inputs = {
        "x": np.array([3.0, 1.0, -2.0], dtype=dtype),
        "y": np.array([2.0, 1.0, 0.5], dtype=dtype),
        "z": np.array([7.0, 8.0, 9.0], dtype=dtype),
    }
    result = _backend().evaluate(parse("x**2*y"), inputs, ("x", "y", "z", "w"), dtype)
    assert result.values.tolist() == [18.0, 1.0, 2.0]
    assert result.derivatives["x"].tolist() == [12.0, 2.0, -2.0]
    assert result.derivatives["y"].tolist() == [9.0, 1.0, 4.0]
    assert result.derivatives["z"].tolist() == [0.0] * 3
    assert result.derivatives["w"].tolist() == [0.0] * 3
    # y only as a constant: the partial with respect to x alone is still right
    only_x = _backend().evaluate(parse("x**2*y"), inputs, ("x",), dtype)
    assert only_x.derivatives["x"].tolist() == [12.0, 2.0, -2.0]
    assert set(only_x.derivatives) == {"x"}


def test_constant_expression_is_broadcast() -> None:
    inputs = {"x": np.array([1.0, 2.0, 3.0], dtype=np.float32)}
    result = _backend().evaluate(parse("2*pi + 1"), inputs, ("x",), "float32")
    assert result.values.shape == (3,) and np.all(result.values == np.float32(2 * np.pi + 1))
    assert result.derivatives["x"].tolist() == [0.0] * 3


@pytest.mark.parametrize("dtype", DTYPES)
def test_ops_table_complete(dtype: str) -> None:
    assert missing_ops(_backend().ops(dtype)) == set()


def test_metadata() -> None:
    cls = backend_class("jax")
    assert cls is JaxBackend
    assert (cls.name, cls.module, cls.distributions) == ("jax", "jax", ("jax",))
    assert cls.install_hint == "pip install jax" and cls.method == "jax.vmap(jax.grad)"
    assert getattr(cls, "isolated", True) is True
    assert cls.version() is not None


def test_runs_in_a_worker_and_the_parent_never_imports_jax() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        from autograd_cli.execution import runner
        from autograd_cli.inputs import build_request
        request = build_request("2*x**3+4*x**2+5*x+6", ["0.5", "1"], dtype="float64",
                                backends=("jax",))
        rows = list(runner.start(request, ("jax",)).results())
        print(json.dumps({
            "status": rows[0].status, "reason": rows[0].reason, "method": rows[0].method,
            "dtype": rows[0].derivatives["x"].dtype.name,
            "derivatives": rows[0].derivatives["x"].tolist(),
            "jax_here": "jax" in sys.modules,
        }))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["status"] == "ok", row["reason"]
    assert row["method"] == "jax.vmap(jax.grad)" and row["dtype"] == "float64"
    assert row["derivatives"] == [10.5, 19.0]
    assert row["jax_here"] is False
    assert "GPU" not in done.stderr and "TPU" not in done.stderr
