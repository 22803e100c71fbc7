"""The noise floor: large where terms cancel, tiny where a lone function is right.

Every claim is checked against real float32 arithmetic: a derivative evaluated as
written, each primitive correctly rounded (computed in float64, rounded once), must
land within the floor of the exact derivative; and answers that are really wrong
(0 for sigmoid'(20), 1 - tanh² at 3) must land outside it. The ML functions: the jets
carry every function's exact derivative, the composed activations' kernels (PyTorch's
formulas) stay within their floor, and a kink or jump within rounding owes its jump.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import pytest
from corpus import ML_CORPUS, Case
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autograd_cli.core.model import label
from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.parser import parse
from autograd_cli.expr.walk import lower
from autograd_cli.truth import reference
from autograd_cli.truth.floor_arith import FloorArith
from autograd_cli.truth.floor_jets import JetFloors
from autograd_cli.truth.noise_floor import Floor, directions_of, floor_ops, noise_floor

U32 = 2.0**-24


def f32(value: float) -> float:
    """The float32 nearest ``value``, as the float64 every input array holds."""
    return float(np.float32(value))


def floor_of(
    text: str,
    points: dict[str, list[float]],
    directions: tuple[str, ...] = ("x",),
    dtype: str = "float32",
    *,
    exact: bool = False,
) -> Floor:
    inputs = {name: np.asarray(values, dtype=np.float64) for name, values in points.items()}
    return noise_floor(parse(text), inputs, directions, dtype, exact=exact)


def exact_derivative(text: str, points: dict[str, list[float]], directions: tuple[str, ...]) -> Any:
    inputs = {name: np.asarray(values, dtype=np.float64) for name, values in points.items()}
    key = label(directions)
    return reference(parse(text), inputs, (key,)).derivatives[key]


def rounded(g: Callable[[Any], Any]) -> Callable[[Any], np.float32]:
    """A correctly rounded float32 primitive: float64 value, rounded once."""
    return lambda v: np.float32(g(np.float64(v)))


sin32, cos32, exp32, tanh32 = (rounded(g) for g in (np.sin, np.cos, np.exp, np.tanh))
sech2_32 = rounded(lambda v: 1 / np.cosh(v) ** 2)
tanh2_32 = rounded(lambda v: -2 * np.tanh(v) / np.cosh(v) ** 2)


@pytest.mark.parametrize("exact", [False, True])
def test_sigmoid_far_out_is_owed_almost_nothing(exact: bool) -> None:
    truth = float(mpmath.exp(-20) / (1 + mpmath.exp(-20)) ** 2)
    floor = floor_of("sigmoid(x)", {"x": [20.0]}, exact=exact).floor[0]
    assert 0 < floor <= 1e-6 * truth
    assert abs(0.0 - truth) > floor  # a backend answering 0 is wrong, not excused


def test_cancelling_identity_is_owed_its_terms_rounding() -> None:
    text = "(x+2)**3 - x**3 - 6*x**2 - 12*x"
    x32 = np.linspace(-40, 40, 801).astype(np.float32)
    three, twelve, two = np.float32(3), np.float32(12), np.float32(2)
    as_written = three * (x32 + two) ** 2 - three * x32**2 - twelve * x32 - twelve
    assert as_written.dtype == np.float32 and np.any(as_written != 0)  # cancellation is real
    floor = floor_of(text, {"x": x32.astype(np.float64).tolist()}).floor
    assert np.all(floor >= np.abs(as_written.astype(np.float64)))  # the exact value is 0
    assert floor[-1] >= 1e-4 and x32[-1] == 40


@pytest.mark.parametrize("exact", [False, True])
def test_tanh_derivative_is_a_primitive(exact: bool) -> None:
    truth = float(1 / mpmath.cosh(3) ** 2)
    ulp = float(np.spacing(np.float32(truth)))
    floor = floor_of("tanh(x)", {"x": [3.0]}, exact=exact).floor[0]
    assert 0 < floor < 5 * ulp
    t = np.float32(np.tanh(np.float32(3)))
    one_minus = float(np.float32(1) - t * t)
    assert abs(one_minus - truth) > 20 * ulp  # the naive formula really is far off
    assert abs(one_minus - truth) > floor  # and is not excused


# The derivative formulas as a framework would write them, in float32 with correctly
# rounded primitives: (first, second) derivative of each expression.
FORMULAS: dict[str, tuple[Callable[[np.float32], Any], Callable[[np.float32], Any]]] = {
    "sin(x)*exp(x)": (
        lambda x: cos32(x) * exp32(x) + sin32(x) * exp32(x),
        lambda x: (
            sin32(x) * exp32(x) + cos32(x) * exp32(x) + cos32(x) * exp32(x) - sin32(x) * exp32(x)
        ),
    ),
    "x**3 - 3*x": (
        lambda x: np.float32(3) * (x * x) - np.float32(3),
        lambda x: np.float32(6) * x,
    ),
    "tanh(x)**2": (
        lambda x: (np.float32(2) * tanh32(x)) * sech2_32(x),
        lambda x: (
            np.float32(2) * (sech2_32(x) * sech2_32(x)) + (np.float32(2) * tanh32(x)) * tanh2_32(x)
        ),
    ),
    "log(1 + x*x)": (
        lambda x: (np.float32(2) * x) / (np.float32(1) + x * x),
        lambda x: (
            np.float32(2)
            * (np.float32(1) - x * x)
            / ((np.float32(1) + x * x) * (np.float32(1) + x * x))
        ),
    ),
}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.sampled_from(sorted(FORMULAS)),
    x=st.floats(-4, 4, allow_nan=False, width=32),
    order=st.sampled_from([1, 2]),
)
def test_formulas_as_written_stay_within_the_floor(text: str, x: float, order: int) -> None:
    directions = ("x",) * order
    d32 = float(FORMULAS[text][order - 1](np.float32(x)))
    truth = float(exact_derivative(text, {"x": [x]}, directions)[0])
    floor = float(floor_of(text, {"x": [x]}, directions).floor[0])
    assert abs(d32 - truth) <= floor


# A float32 hyper-dual "framework" for random expressions: [f, f_1, f_2, f_12], every
# primitive and local derivative correctly rounded, each product and sum in float32.
_LOCAL: dict[str, Callable[[float], tuple[float, float, float]]] = {
    "sin": lambda z: (np.sin(z), np.cos(z), -np.sin(z)),
    "exp": lambda z: (np.exp(z), np.exp(z), np.exp(z)),
    "tanh": lambda z: (np.tanh(z), 1 / np.cosh(z) ** 2, -2 * np.tanh(z) / np.cosh(z) ** 2),
    "sigmoid": lambda z: (
        1 / (1 + np.exp(-z)),
        1 / ((1 + np.exp(-z)) * (1 + np.exp(z))),
        # 1 - 2*sigmoid(z) is -tanh(z/2): no float64 cancellation near 0 (1.7e-18)
        -np.tanh(z / 2) / ((1 + np.exp(-z)) * (1 + np.exp(z))),
    ),
    "log": lambda z: (np.log(z), 1 / z, -1 / z**2),
    "recip": lambda z: (1 / z, -1 / z**2, 2 / z**3),
}

_Hyper = tuple[np.float32, np.float32, np.float32, np.float32]


def _hmul(a: _Hyper, b: _Hyper) -> _Hyper:
    return (
        a[0] * b[0],
        a[0] * b[1] + a[1] * b[0],
        a[0] * b[2] + a[2] * b[0],
        a[0] * b[3] + a[1] * b[2] + a[2] * b[1] + a[3] * b[0],
    )


def _hfunc(name: str, a: _Hyper) -> _Hyper:
    d0, d1, d2 = (np.float32(v) for v in _LOCAL[name](np.float64(a[0])))
    return (d0, d1 * a[1], d1 * a[2], d2 * a[1] * a[2] + d1 * a[3])


def _hyper(tree: Any, x: np.float32) -> _Hyper:
    zero, one = np.float32(0), np.float32(1)
    if tree == "x":
        return (x, one, one, zero)
    if isinstance(tree, str):
        return (np.float32(float(tree)), zero, zero, zero)
    op, *args = tree
    parts = [_hyper(arg, x) for arg in args]
    if op in ("+", "-"):
        a, b = parts
        return tuple(p + q if op == "+" else p - q for p, q in zip(a, b, strict=True))  # type: ignore[return-value]
    if op == "*":
        return _hmul(*parts)
    if op == "/":  # a / (1 + b*b)
        a, b = parts
        bb = _hmul(b, b)
        return _hmul(a, _hfunc("recip", (one + bb[0], bb[1], bb[2], bb[3])))
    if op == "log":  # log(1 + a*a)
        aa = _hmul(parts[0], parts[0])
        return _hfunc("log", (one + aa[0], aa[1], aa[2], aa[3]))
    return _hfunc(op, parts[0])


def _text(tree: Any) -> str:
    if isinstance(tree, str):
        return tree
    op, *args = tree
    inner = [_text(arg) for arg in args]
    if op in ("+", "-", "*"):
        return f"({inner[0]} {op} {inner[1]})"
    if op == "/":
        return f"({inner[0]} / (1 + {inner[1]}*{inner[1]}))"
    if op == "log":
        return f"log(1 + {inner[0]}*{inner[0]})"
    return f"{op}({inner[0]})"


_TREES = st.recursive(
    st.sampled_from(["x", "x", "2", "0.5", "0.1", "3"]),
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["+", "-", "*", "/"]), inner, inner),
        st.tuples(st.sampled_from(["sin", "exp", "tanh", "sigmoid", "log"]), inner),
    ),
    max_leaves=5,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=_TREES, x=st.floats(-2, 2, allow_nan=False, width=32), order=st.sampled_from([1, 2]))
def test_random_expressions_in_float32_stay_within_the_floor(
    tree: Any, x: float, order: int
) -> None:
    text = _text(tree)
    directions = ("x",) * order
    with np.errstate(all="ignore"):
        d32 = float(_hyper(tree, np.float32(x))[1 if order == 1 else 3])
    truth = float(exact_derivative(text, {"x": [x]}, directions)[0])
    floor = float(floor_of(text, {"x": [x]}, directions).floor[0])
    assume(np.isfinite(d32) and np.isfinite(truth) and np.isfinite(floor))
    assert abs(d32 - truth) <= floor, (text, x, d32, truth, floor)


@pytest.mark.parametrize(
    ("text", "directions"),
    [
        ("2*x**3 + 4*x**2 + 5*x + 6", ("x",)),
        ("sin(x)*exp(x) / (1 + x*x)", ("x", "x")),
        ("tanh(x)**2 - sigmoid(x) + log(x)", ("x", "x", "x")),
        ("asin(x/4) + acos(x/5) + atan(x) + tan(x)", ("x", "x")),
        ("sqrt(x) + log2(x) + log10(x) + x**(1/3) + x**x + abs(x - 1)", ("x",)),
        ("sinh(x)*cosh(x) + pi*e*x", ("x", "x")),
        ("x*y*sin(x*y)", ("x", "y")),
    ],
)
def test_points_and_sweeps_agree(text: str, directions: tuple[str, ...]) -> None:
    points = {"x": [f32(v) for v in (0.3, 1.7, 2.9)], "y": [f32(v) for v in (-1.1, 0.4, 2.2)]}
    sweep = floor_of(text, points, directions)
    exact = floor_of(text, points, directions, exact=True)
    assert np.all(sweep.floor > 0)
    np.testing.assert_allclose(sweep.floor, exact.floor, rtol=0.01)
    np.testing.assert_array_equal(sweep.subnormal, exact.subnormal)


def test_mixed_partial_bounds_its_float32_formula() -> None:
    text = "x*y*sin(x*y)"
    xs = [f32(v) for v in (0.3, 1.25, -2.7, 3.1)]
    ys = [f32(v) for v in (0.9, -1.6, 2.3, 2.05)]
    points = {"x": xs, "y": ys}
    truth = exact_derivative(text, points, ("x", "y"))
    floor = floor_of(text, points, ("x", "y")).floor
    for x, y, t, bound in zip(xs, ys, truth, floor, strict=True):
        w = np.float32(x) * np.float32(y)
        s, c = sin32(w), cos32(w)
        d32 = s + np.float32(3) * w * c - (w * w) * s  # sin w + 3w cos w - w² sin w
        assert abs(float(d32) - t) <= bound
        assert bound <= 100 * U32 * (1 + 3 * abs(w) + w * w)


@pytest.mark.parametrize("exact", [False, True])
def test_fourth_derivative_of_exp(exact: bool) -> None:
    floor = floor_of("exp(x)", {"x": [1.0, -2.0]}, ("x",) * 4, exact=exact).floor
    # one term, exp'''' · 1·1·1·1: the local derivative and four products rounded
    np.testing.assert_allclose(floor, 5 * U32 * np.exp([1.0, -2.0]), rtol=1e-9)


def test_subnormal_values_are_flagged() -> None:
    tiny = f32(-3e-39)
    assert 0 < abs(tiny) < np.finfo(np.float32).tiny
    for exact in (False, True):
        found = floor_of("abs(x)", {"x": [tiny, -3.0]}, exact=exact)
        assert found.subnormal.tolist() == [True, False]
    # an intermediate value counts too, an input in float64 range does not
    assert floor_of("exp(x)", {"x": [-100.0]}).subnormal.tolist() == [True]
    assert floor_of("x", {"x": [tiny]}, dtype="float64").subnormal.tolist() == [False]


@pytest.mark.parametrize("text", ["log(x)", "sqrt(x)", "asin(x - 1)"])
@pytest.mark.parametrize("exact", [False, True])
def test_undefined_points_give_nan(text: str, exact: bool) -> None:
    floor = floor_of(text, {"x": [-1.0, 0.5]}, exact=exact).floor
    assert np.isnan(floor[0]) and np.isfinite(floor[1]) and floor[1] > 0


def test_unused_direction_and_constants_have_no_floor() -> None:
    points = {"x": [0.5, 2.0], "y": [1.0, 3.0]}
    assert floor_of("sin(x) + 3", points, ("y",)).floor.tolist() == [0.0, 0.0]
    assert floor_of("x", points, ("x",)).floor.tolist() == [0.0, 0.0]
    assert floor_of("x*(2*3)", points, ("x", "x")).floor.tolist() == [0.0, 0.0]


def test_floor_scales_with_the_dtype() -> None:
    floors = {
        dt: floor_of("sin(x)", {"x": [1.0]}, dtype=dt).floor[0]
        for dt in ("float16", "float32", "float64")
    }
    # float16's underflow eta (2**-25) is no longer negligible next to u = 2**-11
    assert floors["float16"] / floors["float32"] == pytest.approx(2.0**13, rel=1e-3)
    assert floors["float32"] / floors["float64"] == pytest.approx(2.0**29)
    assert floor_of("sin(x)", {"x": [1.0]}, dtype="bfloat16").floor[0] == pytest.approx(
        floors["float32"] * 2.0**16
    )


def test_rounded_exponent_is_owed_its_error() -> None:
    x = 1000.0
    p = mpmath.mpf(1) / 3
    held = mpmath.mpf(float(np.float32(1 / 3)))
    gap = float(abs(held * mpmath.power(x, held - 1) - p * mpmath.power(x, p - 1)))
    assert gap > 0.5 * U32 * float(p * mpmath.power(x, p - 1))  # the exponent matters here
    for exact in (False, True):
        assert floor_of("x**(1/3)", {"x": [x]}, exact=exact).floor[0] >= gap


def _jet_value(text: str, x: float, directions: tuple[str, ...], exact: bool) -> float:
    """The derivative the jets carry (not the floor), in either arithmetic."""
    arith = FloorArith(exact)
    with mpmath.workprec(80):
        floors = JetFloors(arith, len(directions), "float64")
        env = {"x": floors.seed(np.array([x]), "x", directions)}
        jet = lower(parse(text), floor_ops(floors), env)
        return float(arith.to_float(jet.c[floors.full])[0])


def call_of(name: str, arg: str) -> str:
    """A call of ``name`` on ``arg`` (and on x/2 + 1.1 for a second input), defined and
    away from every kink at x = 0.7, with the table's default parameters."""
    if name == "acosh":
        arg = f"{arg} + 1"
    if name == "clip":
        return f"clip({arg}, -1, 1)"
    if FUNCTIONS[name].arity == 2:
        return f"{name}({arg}, x/2 + 1.1)"
    return f"{name}({arg})"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jets_carry_the_right_derivative(name: str) -> None:
    """Orders 1 to 4, in both arithmetics (one exact reference for all of them)."""
    text = f"{call_of(name, 'x*x/3 + 0.2')} * (x + 1)**-2 + x**x"
    labels = tuple(",".join("x" * order) for order in range(1, 5))
    truths = reference(parse(text), {"x": np.array([0.7])}, labels).derivatives
    for order, key in enumerate(labels, 1):
        truth = float(truths[key][0])
        for exact in (False, True):
            found = _jet_value(text, 0.7, ("x",) * order, exact)
            assert found == pytest.approx(truth, rel=1e-11), (order, exact)


def test_directions_of() -> None:
    assert directions_of("x", 3) == ("x", "x", "x")
    assert directions_of("x", 1) == ("x",)
    assert directions_of("x,y", 2) == ("x", "y")
    assert directions_of("y,x,x", 3) == ("y", "x", "x")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_literals_are_held_as_the_dtype_rounds_them(dtype: str) -> None:
    from fractions import Fraction

    from autograd_cli.core.dtypes import missing, round_to

    if missing(dtype):
        pytest.skip(missing(dtype))
    rng = np.random.default_rng(1)
    values = rng.standard_normal(500) * 10.0 ** rng.integers(-45, 39, 500)
    values = np.concatenate([values, [1e-50, 3e-39, 65504.0, 65519.9, 65520.0, 1e-8]])
    floors = JetFloors(FloorArith(False), 1, dtype)
    expected = np.asarray(round_to(values, dtype)).astype(np.float64)
    held = [floors.held(Fraction(v)) for v in values]
    found = np.array(
        [
            np.copysign(np.inf, v) if h is None else float(h)
            for v, h in zip(values, held, strict=True)
        ]
    )
    np.testing.assert_array_equal(found, expected)


# --- the ML and special functions ------------------------------------------------------

_NEW_POINTS = {"x": [f32(v) for v in (0.3, 1.7, 2.9)], "y": [f32(v) for v in (-1.1, 0.4, 2.2)]}


@pytest.mark.parametrize(
    ("text", "directions"),
    [
        ("gelu(x)*erf(x) + softplus(x) - log_sigmoid(-x) + erfc(x)", ("x", "x")),
        ("lgamma(x + 3) + digamma(x + 2) + expm1(x) + log1p(x)", ("x", "x", "x")),
        ("atan2(y, x) + hypot(x, y)*xlogy(x, y*y)", ("x", "y")),
        ("clip(x, -1, 2) + leaky_relu(x - 1, 0.2) + elu(x - 2, 1.5) + relu6(4*x)", ("x",)),
        ("sinc(x) + erfinv(x/4) + asinh(x) + acosh(x + 1) + atanh(x/4) + rsqrt(x)", ("x", "x")),
        ("mish(x) + gelu_tanh(x) + selu(x - 1) + silu(x) + softsign(x) + hard_sigmoid(x)", ("x",)),
        ("minimum(x, y)*maximum(x*x, y) + square(x) + sign(x)*floor(3*x)", ("x", "y")),
    ],
)
def test_new_functions_points_and_sweeps_agree(text: str, directions: tuple[str, ...]) -> None:
    sweep = floor_of(text, _NEW_POINTS, directions)
    exact = floor_of(text, _NEW_POINTS, directions, exact=True)
    assert np.all(sweep.floor > 0) and np.all(np.isfinite(sweep.floor))
    np.testing.assert_allclose(sweep.floor, exact.floor, rtol=0.01)


def _typical(name: str) -> str:
    """``name`` at a typical argument 0.5*x + 0.1 (in the domain for x in [0.3, 1.2])."""
    spec = FUNCTIONS[name]
    arg = "x + 1.5" if name == "acosh" else "0.5*x + 0.1"
    args = [arg, "x/2 + 1"][: spec.arity]
    required = ["-2", "2"][: sum(p.default is None for p in spec.params)]
    return f"{name}({', '.join(args + required)})"


_SMOOTH = sorted(set(FUNCTIONS) - {"sign", "floor", "relu", "relu6", "abs", "hard_sigmoid"})


@pytest.mark.parametrize("name", _SMOOTH)
def test_floor_is_a_few_roundings_of_the_derivative(name: str) -> None:
    """At typical points the floor is positive and a few units of the dtype's rounding
    of the derivative's size (more for a composition such as gelu_tanh, never 1000)."""
    text = _typical(name)
    xs = [f32(v) for v in (0.3, 0.7, 1.2)]
    truth = np.abs(exact_derivative(text, {"x": xs}, ("x",)).astype(np.float64))
    for dtype, u in (("float32", U32), ("float64", 2.0**-53)):
        floor = floor_of(text, {"x": xs}, dtype=dtype).floor
        assert np.all(floor > 0), (name, dtype, floor)
        assert np.all(floor <= 64 * u * np.maximum(truth, 1.0)), (name, dtype, floor / u, truth)


def test_floor_scales_with_the_dtype_for_special_functions() -> None:
    for text in ("erf(x)", "lgamma(x)", "erfinv(x/2)", "atan2(x, 0.5)"):
        f32_, f64_ = (
            floor_of(text, {"x": [1.25]}, dtype=dt).floor[0] for dt in ("float32", "float64")
        )
        assert f32_ / f64_ == pytest.approx(2.0**29, rel=1e-6), text


@pytest.mark.parametrize(
    ("text", "near", "far"),
    [
        ("relu(x - 0.1)", 0.1, 0.5),  # x - 0.1 is rounded: its sign is uncertain at 0.1
        ("leaky_relu(x - 0.1, 0.2)", 0.1, 0.5),
        ("elu(x - 0.1, 2)", 0.1, 0.5),
        ("clip(x - 0.1, -1, 0.4)", 0.5, 0.3),
        ("maximum(x - 0.1, 0.0)", 0.1, 0.5),
        ("abs(x - 0.1)", 0.1, 0.5),
    ],
)
def test_a_kink_within_rounding_owes_the_jump(text: str, near: float, far: float) -> None:
    """Where the rounded argument may sit on either side of a kink, a framework may
    legitimately take either side's derivative: the floor owes the jump; away from the
    kink it owes a rounding."""
    floors = floor_of(text, {"x": [f32(near), f32(far)]}).floor
    assert floors[0] >= 0.8 and floors[1] < 1e-6, (text, floors)


def test_a_jump_within_rounding_owes_its_height() -> None:
    # floor(10*x) at x = 0.3 (float32 0.30000001): 10*x rounds to 3.0000002 or 3
    found = floor_of("floor(10*x)*x", {"x": [f32(0.3), f32(0.35)]}).floor
    assert found[0] >= 1 and found[1] < 1e-5
    assert floor_of("sign(x - 0.1)*x", {"x": [f32(0.1)]}).floor[0] >= 1


# The derivative kernels of the composed activations as PyTorch writes them (aten's
# GeluKernel, silu/mish backward), in float32 with correctly rounded primitives and local
# derivatives: the floor of the composition must cover them at every point (the model
# owes every rounding of the composition, and no cancelling local derivative).
_SQRT1_2 = np.float32(math.sqrt(0.5))
_ALPHA = np.float32(2 / math.sqrt(math.pi) * math.sqrt(0.5) * 0.5)
_BETA = np.float32(math.sqrt(2) * 2 / math.sqrt(math.pi) * 0.5)
_KAPPA = np.float32(0.044715)
erf32 = rounded(lambda v: math.erf(v))
sigmoid32 = rounded(lambda v: 1 / (1 + math.exp(-v)))
softplus32 = rounded(lambda v: math.log1p(math.exp(v)) if v < 30 else v)


def _gelu_grad(x: np.float32) -> np.float32:
    cdf = np.float32(0.5) * (np.float32(1) + erf32(x * _SQRT1_2))
    pdf = exp32(np.float32(-0.5) * x * x) * _ALPHA
    return cdf + x * pdf


def _gelu_tanh_grad(x: np.float32, *, naive: bool = False) -> np.float32:
    """aten's formula; its tanh' is 1 - t*t, which cancels in the tails (``naive``):
    the model owes a correctly rounded sech² and does not excuse that."""
    x_sq = x * x
    inner = _BETA * (x + _KAPPA * x_sq * x)
    t = tanh32(inner)
    left, right = np.float32(0.5) * x, np.float32(1) + t
    slope = np.float32(1) - t * t if naive else sech2_32(inner)
    right_derivative = slope * _BETA * (np.float32(1) + np.float32(3) * _KAPPA * x_sq)
    return np.float32(0.5) * right + left * right_derivative


def _silu_grad(x: np.float32) -> np.float32:
    s = sigmoid32(x)
    return s * (np.float32(1) + x * (np.float32(1) - s))


def _mish_grad(x: np.float32) -> np.float32:
    """aten's formula, with tanh' correctly rounded (sech², not 1 - t*t: see gelu_tanh)."""
    sp = softplus32(x)
    return tanh32(sp) + x * sigmoid32(x) * sech2_32(sp)


@pytest.mark.parametrize(
    ("text", "kernel"),
    [
        ("gelu(x)", _gelu_grad),
        ("gelu_tanh(x)", _gelu_tanh_grad),
        ("silu(x)", _silu_grad),
        ("mish(x)", _mish_grad),
    ],
)
def test_composed_activations_kernels_stay_within_the_floor(
    text: str, kernel: Callable[[np.float32], np.float32]
) -> None:
    xs = np.float32(np.linspace(-6, 6, 97))
    points = {"x": xs.astype(np.float64).tolist()}
    truth = exact_derivative(text, points, ("x",)).astype(np.float64)
    floor = floor_of(text, points).floor
    with np.errstate(all="ignore"):
        computed = np.array([float(kernel(x)) for x in xs])
    error = np.abs(computed - truth)
    assert np.all(error <= floor), (text, xs[np.argmax(error - floor)])


def test_a_cancelling_tanh_derivative_in_gelu_tanh_is_not_excused() -> None:
    x = np.float32(-5)
    truth = float(exact_derivative("gelu_tanh(x)", {"x": [float(x)]}, ("x",))[0])
    floor = floor_of("gelu_tanh(x)", {"x": [float(x)]}).floor[0]
    assert abs(float(_gelu_tanh_grad(x)) - truth) <= floor
    assert abs(float(_gelu_tanh_grad(x, naive=True)) - truth) > 10 * floor


@pytest.mark.parametrize("case", ML_CORPUS, ids=[c.text for c in ML_CORPUS])
def test_ml_corpus_floors_are_finite_in_both_arithmetics(case: Case) -> None:
    """At every corpus point (in each function's domain, off its kinks), in float32."""
    inputs = {k: v.astype(np.float64) for k, v in case.inputs("float32").items()}
    for name in case.variables:
        sweep = noise_floor(case.expr, inputs, (name,), "float32")
        exact = noise_floor(case.expr, inputs, (name,), "float32", exact=True)
        assert np.all(np.isfinite(sweep.floor)) and np.all(sweep.floor > 0), sweep.floor
        np.testing.assert_allclose(sweep.floor, exact.floor, rtol=0.01)


def test_where_a_derivative_of_the_expression_leaves_the_range() -> None:
    """The floor notes where a value or derivative of some subexpression is beyond the
    dtype: clip(lgamma(x), 1, 2) at -1e-154 has lgamma'''' of 6e616 (times clip's 0)."""
    from autograd_cli.expr.parser import parse
    from autograd_cli.truth.noise_floor import noise_floor

    at = {"x": np.array([-1e-154, 0.5])}
    beyond = noise_floor(parse("clip(lgamma(x), 1, 2)"), at, ("x",) * 4, "float64", exact=True)
    assert beyond.overflow is not None and beyond.overflow.tolist() == [True, False]
    inside = noise_floor(parse("sin(x)"), at, ("x",) * 4, "float64", exact=True)
    assert inside.overflow is not None and not inside.overflow.any()
    # log10''(c) = -3.4e-74 times c'**2 = 1.3e73 (c = cosh(...) = 3.6e36): 0.43, from
    # factors that are no float32; all three frameworks lose the term
    product = noise_floor(parse("log10(cosh(acosh(x) - x))"), {"x": np.array([90.0, 3.0])},
                          ("x", "x"), "float32", exact=True)
    assert product.overflow is not None and product.overflow.tolist() == [True, False]
