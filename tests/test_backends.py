"""torch and TensorFlow against the exact reference, over the whole corpus.

Tolerance: every value and partial within 256 ULPs of the dtype at the exact value
(float32: ~3e-5 relative, float64: ~6e-14). The worst seen on the corpus is ~90 ULPs
(``tanh'`` = ``1 - tanh**2`` cancels near |x| = 3); a wrong op or derivative is off
by millions of ULPs. Both frameworks load into this one process, as they do nowhere
else in gradcheck (each runs in its own worker); that is fine with torch 2.13 and TF 2.21.
"""

from __future__ import annotations

import functools
import subprocess
import sys

import numpy as np
import pytest
from corpus import CORPUS, TUTORIAL, Case, parse

from autograd_cli.backends import backend_class
from autograd_cli.backends.analytic import AnalyticBackend
from autograd_cli.backends.base import Backend
from autograd_cli.core.dtypes import DTYPES
from autograd_cli.expr.walk import missing_ops
from autograd_cli.truth.point import Reference, reference

FRAMEWORKS = ("torch", "tensorflow")
MAX_ULPS = 256


@functools.cache
def _backend(name: str) -> Backend:
    backend = backend_class(name)()
    if not backend.is_installed():
        pytest.skip(f"{name} is not installed")
    return backend


@functools.cache
def _reference(text: str, dtype: str) -> Reference:
    case = next(c for c in CORPUS if c.text == text)
    return reference(case.expr, case.inputs(dtype), case.variables)


def _ulps(actual: np.ndarray, exact: np.ndarray, dtype: str) -> np.ndarray:
    """|actual - exact| in units of the dtype's spacing at the exact value."""
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(actual.astype(np.float64) - exact) / spacing


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FRAMEWORKS)
@pytest.mark.parametrize("case", CORPUS, ids=[c.text for c in CORPUS])
def test_corpus_against_reference(case: Case, name: str, dtype: str) -> None:
    result = _backend(name).evaluate(case.expr, case.inputs(dtype), case.variables, dtype)
    ref = _reference(case.text, dtype)
    n = len(next(iter(case.points.values())))
    checks = {"f": (result.values, ref.values)}
    checks.update({f"d/d{k}": (result.derivatives[k], ref.derivatives[k]) for k in case.variables})
    for label, (actual, exact) in checks.items():
        assert actual.dtype == np.dtype(dtype) and actual.shape == (n,), label
        assert np.all(np.isfinite(exact)), f"corpus point outside the domain of {case.text}"
        worst = float(np.max(_ulps(actual, exact, dtype)))
        assert worst <= MAX_ULPS, f"{label}: {worst:.0f} ULPs; {actual} vs {exact}"


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_tutorial_exact_in_float32(name: str) -> None:
    x = np.array([0.5], dtype=np.float32)
    result = _backend(name).evaluate(parse(TUTORIAL), {"x": x}, ("x",), "float32")
    assert result.values.tolist() == [9.75]
    assert result.derivatives["x"].tolist() == [10.5]
    assert result.values.dtype == np.float32 and result.derivatives["x"].dtype == np.float32
    assert result.method == _backend(name).method


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_tutorial_over_the_tutorial_range(name: str) -> None:
    """The tutorial's arange(-4, 4, 0.001): derivative 6x^2 + 8x + 5 at every point."""
    x = np.arange(-4, 4, 0.001, dtype=np.float32)
    result = _backend(name).evaluate(parse(TUTORIAL), {"x": x}, ("x",), "float32")
    xd = x.astype(np.float64)
    expected = 6 * xd**2 + 8 * xd + 5
    assert result.derivatives["x"].shape == x.shape
    assert float(np.max(_ulps(result.derivatives["x"], expected, "float32"))) <= MAX_ULPS


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FRAMEWORKS)
def test_partials_and_variables_not_used(name: str, dtype: str) -> None:
    inputs = {
        "x": np.array([3.0, 1.0, -2.0], dtype=dtype),
        "y": np.array([2.0, 1.0, 0.5], dtype=dtype),
        "z": np.array([7.0, 8.0, 9.0], dtype=dtype),
    }
    result = _backend(name).evaluate(parse("x**2*y"), inputs, ("x", "y", "z", "w"), dtype)
    assert result.values.tolist() == [18.0, 1.0, 2.0]
    assert result.derivatives["x"].tolist() == [12.0, 2.0, -2.0]
    assert result.derivatives["y"].tolist() == [9.0, 1.0, 4.0]
    assert result.derivatives["z"].tolist() == [0.0, 0.0, 0.0]
    assert result.derivatives["w"].tolist() == [0.0, 0.0, 0.0]
    assert all(d.dtype == np.dtype(dtype) for d in result.derivatives.values())


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_constant_expression_is_broadcast(name: str) -> None:
    inputs = {"x": np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)}
    result = _backend(name).evaluate(parse("2*pi + 1"), inputs, ("x",), "float32")
    assert result.values.shape == (4,)
    assert np.all(result.values == np.float32(2 * np.pi + 1))
    assert result.derivatives["x"].tolist() == [0.0] * 4


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_constants_overflow_in_the_compared_dtype(name: str) -> None:
    inputs = {"x": np.array([1.0, 2.0], dtype=np.float32)}
    result = _backend(name).evaluate(parse("9.0**41 + x"), inputs, ("x",), "float32")
    assert np.all(np.isposinf(result.values))
    wide = _backend(name).evaluate(parse("9.0**41 + x"), inputs, ("x",), "float64")
    assert np.all(np.isfinite(wide.values)) and wide.derivatives["x"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name", [*FRAMEWORKS, "analytic"])
def test_ops_tables_complete(name: str) -> None:
    backend = _backend(name)
    if name == "analytic":
        from autograd_cli.truth.symbolic import sympy_ops

        assert missing_ops(sympy_ops()) == set()
    else:
        for dtype in DTYPES:
            assert missing_ops(backend.ops(dtype)) == set()  # type: ignore[attr-defined]


@pytest.mark.parametrize("dtype", DTYPES)
def test_analytic_backend_rounds_the_truth_to_the_dtype(dtype: str) -> None:
    inputs = {"x": np.array([0.5, 1.0, 3.0], dtype=dtype)}
    result = AnalyticBackend().evaluate(parse("x/3 + sin(x)"), inputs, ("x",), dtype)
    exact = reference(parse("x/3 + sin(x)"), inputs, ("x",))
    assert result.values.dtype == np.dtype(dtype)
    assert result.values.tolist() == exact.values.astype(dtype).tolist()
    assert result.derivatives["x"].tolist() == exact.derivatives["x"].astype(dtype).tolist()
    assert result.extra["derivative_expressions"] == {"x": "cos(x) + 1/3"}


def test_backend_metadata() -> None:
    torch_cls = backend_class("torch")
    tf_cls = backend_class("tensorflow")
    assert (torch_cls.name, torch_cls.module, torch_cls.method) == ("torch", "torch", "backward()")
    assert (tf_cls.name, tf_cls.module, tf_cls.method) == (
        "tensorflow",
        "tensorflow",
        "tf.GradientTape",
    )
    assert "tensorflow-cpu" in tf_cls.distributions
    assert AnalyticBackend.module is None and AnalyticBackend.is_installed()
    assert torch_cls.version() is not None and tf_cls.version() is not None


def test_backend_modules_import_no_framework() -> None:
    code = (
        "import sys\n"
        "import autograd_cli.backends.analytic, autograd_cli.backends.torch\n"
        "import autograd_cli.backends.tensorflow\n"
        "loaded = {'torch', 'tensorflow', 'sympy', 'mpmath'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ["torch", "tensorflow", "jax"])
def test_a_point_gets_the_same_bits_whatever_is_checked_with_it(name: str) -> None:
    """TensorFlow's and XLA's CPU log in float32 rounded some points otherwise when
    checked alone or 3, 5, 7 at a time than among 64 (the points after the last full
    vector take other code), and torch's gelu backward in float32 at -8 gives -4.04e-14
    for a lone point, 0 among two or more: every framework computes whole vectors
    (backends/lanes.py)."""
    rng = np.random.default_rng(1)
    backend = backend_class(name)()
    for text, points in (("log(x)*x", rng.uniform(0.1, 40.0, 64)),
                         ("gelu(x)", np.r_[-8.0, rng.uniform(-9.0, -4.0, 63)])):
        together = backend.evaluate(parse(text), {"x": points}, ("x",), "float32")
        for k in (1, 3, 5, 7):
            for start in range(0, 64 - k, 9):
                group = backend.evaluate(parse(text), {"x": points[start:start + k]},
                                         ("x",), "float32")
                assert np.array_equal(group.values, together.values[start:start + k]), text
                assert np.array_equal(group.derivatives["x"],
                                      together.derivatives["x"][start:start + k]), text
