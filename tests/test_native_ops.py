"""Every function of the grammar through each framework's own op, and finite differences.

The reference here is a closed form written in this file (scipy for the special
functions), not the truth modules: each backend's value and first derivative at two
typical points, float64, within 1e-6 relative (a wrong op, a wrong parameter or the
other gelu are off by far more; the frameworks' own float64 inaccuracies, listed in
the tests at the end, are below it). Each framework loads once, in this process.
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from scipy import special

from autograd_cli.backends import backend_class, natives
from autograd_cli.backends.base import Backend, Unsupported
from autograd_cli.backends.finite_diff import FiniteDiffBackend
from autograd_cli.execution import worker
from autograd_cli.expr.functions import FUNCTIONS, SELU_ALPHA, SELU_SCALE
from autograd_cli.expr.nodes import Binary, Call, Expr, Num, Var, variables
from autograd_cli.expr.parser import parse
from autograd_cli.expr.walk import lower, missing_ops

FRAMEWORKS = ("torch", "tensorflow", "jax")
TARGETS = {
    "torch": "autograd_cli.backends.torch:TorchBackend",
    "tensorflow": "autograd_cli.backends.tensorflow:TensorFlowBackend",
    "jax": "autograd_cli.backends.jax:JaxBackend",
}
RTOL = 1e-6

A, S = float(SELU_ALPHA), float(SELU_SCALE)
PI = math.pi
Y = np.array([0.7, 2.0])


def _gelu_tanh(x: Any) -> tuple[Any, Any]:
    k = math.sqrt(2 / PI)
    inner = k * (x + 0.044715 * x**3)
    t = np.tanh(inner)
    return 0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * k * (1 + 3 * 0.044715 * x**2)


def _mish(x: Any) -> tuple[Any, Any]:
    sp = np.logaddexp(0, x)
    t = np.tanh(sp)
    return x * t, t + x * (1 - t**2) * special.expit(x)


def _sinc(x: Any) -> tuple[Any, Any]:
    return np.sinc(x), (np.cos(PI * x) * PI * x - np.sin(PI * x)) / (PI * x**2)


def _pieces(cond: Any, a: Any, b: Any) -> Any:
    return np.where(cond, a, b)


#: function -> (expression, points of x, f and df/dx (and df/dy) as closed forms).
Closed = Callable[[Any, Any], tuple[Any, ...]]
CASES: dict[str, tuple[str, list[float], Closed]] = {
    "sin": ("sin(x)", [0.5, -1.3], lambda x, y: (np.sin(x), np.cos(x))),
    "cos": ("cos(x)", [0.5, -1.3], lambda x, y: (np.cos(x), -np.sin(x))),
    "tan": ("tan(x)", [0.5, -1.3], lambda x, y: (np.tan(x), 1 / np.cos(x) ** 2)),
    "asin": ("asin(x)", [0.5, -0.9], lambda x, y: (np.arcsin(x), 1 / np.sqrt(1 - x**2))),
    "acos": ("acos(x)", [0.5, -0.9], lambda x, y: (np.arccos(x), -1 / np.sqrt(1 - x**2))),
    "atan": ("atan(x)", [0.5, -3.0], lambda x, y: (np.arctan(x), 1 / (1 + x**2))),
    "sinh": ("sinh(x)", [0.5, -3.0], lambda x, y: (np.sinh(x), np.cosh(x))),
    "cosh": ("cosh(x)", [0.5, -3.0], lambda x, y: (np.cosh(x), np.sinh(x))),
    "tanh": ("tanh(x)", [0.5, -3.0], lambda x, y: (np.tanh(x), 1 - np.tanh(x) ** 2)),
    "asinh": ("asinh(x)", [0.5, -3.0], lambda x, y: (np.arcsinh(x), 1 / np.sqrt(x**2 + 1))),
    "acosh": ("acosh(x)", [1.5, 4.0], lambda x, y: (np.arccosh(x), 1 / np.sqrt(x**2 - 1))),
    "atanh": ("atanh(x)", [0.5, -0.9], lambda x, y: (np.arctanh(x), 1 / (1 - x**2))),
    "exp": ("exp(x)", [0.5, -3.0], lambda x, y: (np.exp(x), np.exp(x))),
    "expm1": ("expm1(x)", [1e-3, -3.0], lambda x, y: (np.expm1(x), np.exp(x))),
    "log": ("log(x)", [0.5, 3.0], lambda x, y: (np.log(x), 1 / x)),
    "log1p": ("log1p(x)", [1e-3, -0.5], lambda x, y: (np.log1p(x), 1 / (1 + x))),
    "log2": ("log2(x)", [0.5, 3.0], lambda x, y: (np.log2(x), 1 / (x * math.log(2)))),
    "log10": ("log10(x)", [0.5, 3.0], lambda x, y: (np.log10(x), 1 / (x * math.log(10)))),
    "sqrt": ("sqrt(x)", [0.5, 3.0], lambda x, y: (np.sqrt(x), 0.5 / np.sqrt(x))),
    "rsqrt": ("rsqrt(x)", [0.5, 3.0], lambda x, y: (x**-0.5, -0.5 * x**-1.5)),
    "square": ("square(x)", [0.5, -3.0], lambda x, y: (x**2, 2 * x)),
    "abs": ("abs(x)", [0.5, -3.0], lambda x, y: (np.abs(x), np.sign(x))),
    "sign": ("sign(x)", [0.5, -3.0], lambda x, y: (np.sign(x), 0 * x)),
    "floor": ("floor(x)", [0.5, -2.5], lambda x, y: (np.floor(x), 0 * x)),
    "atan2": ("atan2(x, y)", [0.5, -1.3],
              lambda x, y: (np.arctan2(x, y), y / (x**2 + y**2), -x / (x**2 + y**2))),
    "hypot": ("hypot(x, y)", [0.5, -1.3],
              lambda x, y: (np.hypot(x, y), x / np.hypot(x, y), y / np.hypot(x, y))),
    "minimum": ("minimum(x, y)", [0.5, 3.0],
                lambda x, y: (np.minimum(x, y), 1.0 * (x < y), 1.0 * (y < x))),
    "maximum": ("maximum(x, y)", [0.5, 3.0],
                lambda x, y: (np.maximum(x, y), 1.0 * (x > y), 1.0 * (y > x))),
    "clip": ("clip(x, -1, 1)", [0.5, -3.0],
             lambda x, y: (np.clip(x, -1, 1), 1.0 * (np.abs(x) < 1))),
    "xlogy": ("xlogy(x, y)", [0.5, -1.3], lambda x, y: (x * np.log(y), np.log(y), x / y)),
    "sinc": ("sinc(x)", [0.3, -1.3], lambda x, y: _sinc(x)),
    "erf": ("erf(x)", [0.5, -1.3],
            lambda x, y: (special.erf(x), 2 / math.sqrt(PI) * np.exp(-(x**2)))),
    "erfc": ("erfc(x)", [0.5, 2.5],
             lambda x, y: (special.erfc(x), -2 / math.sqrt(PI) * np.exp(-(x**2)))),
    "erfinv": ("erfinv(x)", [0.5, -0.9], lambda x, y: (
        special.erfinv(x), math.sqrt(PI) / 2 * np.exp(special.erfinv(x) ** 2))),
    "lgamma": ("lgamma(x)", [2.5, -1.5], lambda x, y: (special.gammaln(x), special.psi(x))),
    "digamma": ("digamma(x)", [2.5, -1.5],
                lambda x, y: (special.psi(x), special.polygamma(1, x))),
    "sigmoid": ("sigmoid(x)", [0.5, -3.0], lambda x, y: (
        special.expit(x), special.expit(x) * special.expit(-x))),
    "log_sigmoid": ("log_sigmoid(x)", [0.5, -3.0],
                    lambda x, y: (-np.logaddexp(0, -x), special.expit(-x))),
    "softplus": ("softplus(x)", [0.5, -3.0],
                 lambda x, y: (np.logaddexp(0, x), special.expit(x))),
    "relu": ("relu(x)", [0.5, -3.0], lambda x, y: (np.maximum(x, 0), 1.0 * (x > 0))),
    "relu6": ("relu6(x)", [0.5, 7.0],
              lambda x, y: (np.clip(x, 0, 6), 1.0 * ((x > 0) & (x < 6)))),
    "leaky_relu": ("leaky_relu(x, 0.2)", [0.5, -3.0],
                   lambda x, y: (_pieces(x > 0, x, 0.2 * x), _pieces(x > 0, 1.0, 0.2))),
    "elu": ("elu(x)", [0.5, -1.3],
            lambda x, y: (_pieces(x > 0, x, np.expm1(x)), _pieces(x > 0, 1.0, np.exp(x)))),
    "selu": ("selu(x)", [0.5, -1.3], lambda x, y: (
        S * _pieces(x > 0, x, A * np.expm1(x)), S * _pieces(x > 0, 1.0, A * np.exp(x)))),
    "silu": ("silu(x)", [0.5, -3.0], lambda x, y: (
        x * special.expit(x),
        special.expit(x) * (1 + x * special.expit(-x)))),
    "gelu": ("gelu(x)", [0.5, -1.3], lambda x, y: (
        x * special.ndtr(x), special.ndtr(x) + x * np.exp(-(x**2) / 2) / math.sqrt(2 * PI))),
    "gelu_tanh": ("gelu_tanh(x)", [0.5, -1.3], lambda x, y: _gelu_tanh(x)),
    "softsign": ("softsign(x)", [0.5, -3.0],
                 lambda x, y: (x / (1 + np.abs(x)), 1 / (1 + np.abs(x)) ** 2)),
    "hard_sigmoid": ("hard_sigmoid(x)", [0.5, -4.0], lambda x, y: (
        np.clip(x + 3, 0, 6) / 6, 1.0 * (np.abs(x) < 3) / 6)),
    "mish": ("mish(x)", [0.5, -1.3], lambda x, y: _mish(x)),
}
#: Extra cases: a parameter other than its default (TensorFlow has no op for elu's).
EXTRA = {"elu_alpha": ("elu(x, 1.5)", [0.5, -1.3], lambda x, y: (
    _pieces(x > 0, x, 1.5 * np.expm1(x)), _pieces(x > 0, 1.0, 1.5 * np.exp(x))))}
ALL = {**CASES, **EXTRA}


def test_every_function_has_a_case() -> None:
    assert set(CASES) == set(FUNCTIONS)


@functools.cache
def _backend(name: str) -> Backend:
    backend = backend_class(name)()
    if not backend.is_installed():
        pytest.skip(f"{name} is not installed")
    return backend


def _inputs(case: str) -> dict[str, np.ndarray]:
    text, xs, _ = ALL[case]
    inputs = {"x": np.array(xs)}
    if "y" in variables(parse(text)):
        inputs["y"] = Y.copy()
    return inputs


def _own(case: str, variable: str) -> str:
    return f"{variable}_{case}"


@functools.cache
def _computed(name: str) -> dict[str, Any]:
    """Every case through one backend, in one evaluation (the frameworks' per-call cost
    dominates): the sum of all supported cases, each with variables of its own, so the
    derivative by a case's variables is that case's. Values come from the same ops
    table, case by case. A case maps to (values, {variable: derivative}), or to the
    reason the framework cannot compute it."""
    backend = _backend(name)
    found: dict[str, Any] = {}
    terms, inputs, names = [], {}, {}
    for case, (text, _, _) in ALL.items():
        why = type(backend).unsupported(parse(text))
        if why:
            found[case] = why
            continue
        own = {v: _own(case, v) for v in _inputs(case)}
        terms.append(_renamed(parse(text), own))
        inputs.update({own[v]: a for v, a in _inputs(case).items()})
        names[case] = own
    total = functools.reduce(lambda a, b: Binary("add", a, b, a.span), terms)
    result = backend.evaluate(total, inputs, tuple(inputs), "float64")
    ops = backend.ops("float64")  # type: ignore[attr-defined]
    for case, own in names.items():
        env = {v: _tensor(name, _inputs(case)[v].tolist()) for v in own}
        values = np.asarray(lower(parse(ALL[case][0]), ops, env), dtype=np.float64)
        found[case] = (values, {v: result.derivatives[o] for v, o in own.items()})
    return found


def _renamed(expr: Expr, own: dict[str, str]) -> Expr:
    """``expr`` with its variables renamed (built as a tree: the parser allows 16)."""
    if isinstance(expr, Var):
        return Var(own[expr.name], expr.span)
    if isinstance(expr, Call):
        return Call(expr.func, tuple(_renamed(a, own) for a in expr.args), expr.span)
    assert isinstance(expr, Num), expr
    return expr


@pytest.mark.parametrize("case", list(ALL))
@pytest.mark.parametrize("name", [*FRAMEWORKS, "finite-diff"])
def test_value_and_derivative_against_the_closed_form(name: str, case: str) -> None:
    result = _computed(name)[case]
    text = ALL[case][0]
    if isinstance(result, str):
        spelling = natives.NATIVES[name][parse(text).func]  # type: ignore[attr-defined]
        assert isinstance(spelling, natives.Missing) or case == "elu_alpha", result
        assert name == "tensorflow" and result.startswith("tensorflow has no native"), result
        return
    values, derivatives = result
    inputs = _inputs(case)
    closed = ALL[case][2](inputs["x"], inputs.get("y"))
    np.testing.assert_allclose(values, closed[0], rtol=RTOL, atol=1e-12, err_msg=text)
    for k, exact in zip(inputs, closed[1:], strict=True):
        assert derivatives[k].dtype == np.float64
        np.testing.assert_allclose(derivatives[k], exact, rtol=RTOL, atol=1e-12,
                                   err_msg=f"{name}: d/d{k} {text}")


def test_unsupported_are_exactly_the_missing_ops() -> None:
    """TensorFlow's core has no hypot, sinc, mish, hard_sigmoid and no elu with an
    alpha; torch and JAX have every function."""
    unsupported = {name: sorted(c for c, r in _computed_cheaply(name).items() if r)
                   for name in FRAMEWORKS}
    assert unsupported == {"torch": [], "jax": [],
                           "tensorflow": ["elu_alpha", "hard_sigmoid", "hypot", "mish", "sinc"]}


def _computed_cheaply(name: str) -> dict[str, str | None]:
    cls = backend_class(name)
    return {case: cls.unsupported(parse(text)) for case, (text, _, _) in ALL.items()}


def test_tensorflow_hypot_is_an_unsupported_row_not_a_failure() -> None:
    """The worker says unsupported, with the reason, and never imports TensorFlow for it."""
    outcome = worker.evaluate(TARGETS["tensorflow"], parse("hypot(x, y) + 1"),
                              {"x": np.array([3.0]), "y": np.array([4.0])}, ("x",),
                              "float32", 1)
    assert outcome.status == "unsupported" and outcome.values is None
    assert outcome.reason is not None and outcome.reason.startswith(
        "tensorflow has no native hypot op: not in TensorFlow's core API")
    elu = worker.evaluate(TARGETS["tensorflow"], parse("elu(x, 1.5)"), {"x": np.array([1.0])},
                          ("x",), "float32", 1)
    assert elu.status == "unsupported"
    assert elu.reason == ("tensorflow has no native elu op with alpha = 1.5: tf.nn.elu has "
                          "alpha 1 built in")


def test_cli_row_is_unsupported_and_exit_code_zero(gradcheck) -> None:
    done = gradcheck("hypot(x, y)", "--at", "x=3,y=4", "--backends", "tensorflow",
                     "--wrt", "x", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (row,) = report["results"]
    assert row["status"] == "unsupported" and row["derivative"] is None
    assert "no native hypot op" in row["reason"]
    assert report["exit_code"] == 0


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_ops_tables_are_the_natives_table(name: str) -> None:
    """The backend's ops are the natives' spellings (what --show-code prints): the very
    objects for plain ops, and parameters passed as the table says."""
    backend = _backend(name)
    ops = backend.ops("float64")  # type: ignore[attr-defined]
    assert missing_ops(ops) == set()
    table = natives.NATIVES[name]
    assert set(table) == set(FUNCTIONS)
    roots = _roots(name)
    for function, spelling in table.items():
        if isinstance(spelling, natives.Op) and not spelling.params and not spelling.fixed:
            assert ops[function] is natives.resolve(roots, spelling.path), function
    x = _tensor(name, [-2.0, 0.5])
    leaky = ops["leaky_relu"](x, Fraction(1, 5))
    assert np.asarray(leaky).tolist()[0] == pytest.approx(-0.4, rel=1e-7)
    gelu, gelu_tanh = (np.asarray(ops[f](x)) for f in ("gelu", "gelu_tanh"))
    assert gelu[1] != gelu_tanh[1]
    clipped = ops["clip"](x, Fraction(-1), Fraction(1, 4))
    assert np.asarray(clipped).tolist() == [-1.0, 0.25]


def _roots(name: str) -> dict[str, Any]:
    if name == "torch":
        import torch

        return {"torch": torch}
    if name == "tensorflow":
        import tensorflow as tf

        return {"tf": tf}
    import jax

    return {"jax": jax, "jnp": jax.numpy}


def _tensor(name: str, values: list[float]) -> Any:
    if name == "finite-diff":
        return np.array(values)
    if name == "torch":
        import torch

        return torch.tensor(values, dtype=torch.float64)
    if name == "tensorflow":
        import tensorflow as tf

        return tf.constant(values, dtype=tf.float64)
    import jax.numpy as jnp

    return jnp.asarray(values, dtype=jnp.float64)


#: A second derivative through the special functions and activations of every kind.
SECOND = "gelu(x) + softplus(x) + erfinv(x/2) + lgamma(x + 3) + leaky_relu(x, 0.2)*x + mish(x)"


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_second_derivative_both_modes(name: str) -> None:
    """Order 2 in reverse and forward mode against central differences (their float64
    error on this expression is below 1e-7 relative)."""
    text = SECOND if name != "tensorflow" else SECOND.replace(" + mish(x)", "")
    expr = parse(text)
    x = {"x": np.array([0.5, -1.3])}
    reference = FiniteDiffBackend().evaluate(expr, x, ("x,x",), "float64")
    for mode in ("reverse", "forward"):
        found = _backend(name).evaluate(expr, x, ("x,x",), "float64",  # type: ignore[call-arg]
                                        mode=mode)
        np.testing.assert_allclose(found.derivatives["x,x"], reference.derivatives["x,x"],
                                   rtol=1e-6, err_msg=mode)


@pytest.mark.parametrize(("name", "text", "wrt", "mode"), [
    ("torch", "hard_sigmoid(x)", "x,x", "reverse"),
    ("tensorflow", "softsign(x)", "x", "forward"),
])
def test_a_derivative_the_framework_lacks_is_unsupported(name: str, text: str, wrt: str,
                                                         mode: str) -> None:
    """torch has no derivative of hardsigmoid_backward, TensorFlow no gradient of
    SoftsignGrad (so no forward mode of softsign): said in the row, not a crash."""
    with pytest.raises(Unsupported, match=f"{name} does not implement this derivative"):
        _backend(name).evaluate(parse(text), {"x": np.array([0.5])}, (wrt,),  # type: ignore[call-arg]
                                "float64", mode=mode)
    outcome = worker.evaluate(TARGETS[name], parse(text), {"x": np.array([0.5])}, (wrt,),
                              "float64", 1, mode=mode)
    assert outcome.status == "unsupported" and "does not implement" in (outcome.reason or "")


def test_documented_differences_in_float64() -> None:
    """Pinned, so a framework that changes shows here: at a tie of maximum torch and JAX
    split the gradient, TensorFlow gives it to x; TensorFlow's leaky_relu alpha is a
    float32 attribute even in float64; torch's hardsigmoid gradient is float32's 1/6;
    torch's softplus is x itself above its threshold 20."""
    tie = {"x": np.array([1.0]), "y": np.array([1.0])}
    halves = {name: _backend(name).evaluate(parse("maximum(x, y)"), tie, ("x", "y"), "float64")
              for name in FRAMEWORKS}
    assert [halves[n].derivatives["x"][0] for n in FRAMEWORKS] == [0.5, 1.0, 0.5]
    x = {"x": np.array([-1.0])}
    leaky = _backend("tensorflow").evaluate(parse("leaky_relu(x, 0.2)"), x, ("x",), "float64")
    assert leaky.derivatives["x"][0] == float(np.float32(0.2))
    hard = _backend("torch").evaluate(parse("hard_sigmoid(x)"), x, ("x",), "float64")
    assert hard.derivatives["x"][0] == float(np.float32(1 / 6))
    big = {"x": np.array([25.0])}
    soft = {n: _backend(n).evaluate(parse("softplus(x)"), big, ("x",), "float64")
            for n in FRAMEWORKS}
    assert soft["torch"].values[0] == 25.0 and soft["torch"].derivatives["x"][0] == 1.0
    assert soft["jax"].values[0] == pytest.approx(25 + math.exp(-25), rel=1e-15)


def test_functions_command(gradcheck) -> None:
    done = gradcheck("functions", "--format", "json")
    assert done.returncode == 0, done.stderr
    listed = {row["name"]: row for row in json.loads(done.stdout)}
    assert list(listed) == list(FUNCTIONS)
    gelu = listed["gelu"]["frameworks"]
    assert gelu["torch"]["call"] == 'torch.nn.functional.gelu(x, approximate="none")'
    assert gelu["tensorflow"]["call"] == "tf.nn.gelu(x, approximate=False)"
    assert gelu["jax"]["call"] == "jax.nn.gelu(x, approximate=False)"
    leaky = listed["leaky_relu"]
    assert leaky["signature"] == "leaky_relu(x, negative_slope=0.01)"
    assert leaky["params"] == [{"name": "negative_slope", "default": 0.01}]
    assert leaky["frameworks"]["tensorflow"]["call"] == "tf.nn.leaky_relu(x, alpha=negative_slope)"
    assert listed["silu"]["aliases"] == ["swish"]
    hypot = listed["hypot"]["frameworks"]["tensorflow"]
    assert hypot["call"] is None and "core API" in hypot["reason"]
    assert listed["elu"]["frameworks"]["tensorflow"]["call"] == "tf.nn.elu(x) (alpha 1 only)"
    table = gradcheck("functions")
    assert table.returncode == 0
    assert "torch.special.erfinv(x)" in table.stdout
    assert "jax.scipy.special.erfinv(x)" in table.stdout
    assert "tensorflow has no native mish op" in table.stdout


def test_functions_command_imports_no_framework() -> None:
    probe = (
        "import sys\n"
        "from autograd_cli.cli import main\n"
        "try:\n"
        "    main(['functions', '--format', 'json'])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "heavy = {'torch', 'tensorflow', 'jax', 'sympy', 'mpmath', 'scipy'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
