"""The noise floor: large where terms cancel, tiny where a lone function is right.

Every claim is checked against real float32 arithmetic: a derivative evaluated as
written, each primitive correctly rounded (computed in float64, rounded once), must
land within the floor of the exact derivative; and answers that are really wrong
(0 for sigmoid'(20), 1 - tanh² at 3) must land outside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autograd_cli.core.model import label
from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.parser import parse
from autograd_cli.expr.walk import lower
from autograd_cli.truth import reference
from autograd_cli.truth.noise_floor import Floor, _Arith, _Floors, directions_of, noise_floor

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
    arith = _Arith(exact)
    with mpmath.workprec(80):
        floors = _Floors(arith, len(directions), "float64")
        env = {"x": floors.seed(np.array([x]), "x", directions)}
        jet = lower(parse(text), floors.ops(), env)
        return float(arith.to_float(jet.c[floors.full])[0])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("exact", [False, True])
def test_jets_carry_the_right_derivative(name: str, order: int, exact: bool) -> None:
    text = f"{name}(x*x/3 + 0.2) * (x + 1)**-2 + x**x"
    directions = ("x",) * order
    truth = float(exact_derivative(text, {"x": [0.7]}, directions)[0])
    assert _jet_value(text, 0.7, directions, exact) == pytest.approx(truth, rel=1e-11)


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
    floors = _Floors(_Arith(False), 1, dtype)
    expected = np.asarray(round_to(values, dtype)).astype(np.float64)
    held = [floors.held(Fraction(v)) for v in values]
    found = np.array(
        [
            np.copysign(np.inf, v) if h is None else float(h)
            for v, h in zip(values, held, strict=True)
        ]
    )
    np.testing.assert_array_equal(found, expected)
