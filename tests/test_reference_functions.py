"""The exact reference of every ML and special function against an independent one:
mpmath.diff of a direct mpmath implementation (not SymPy's derivative), at typical
points and at the edges; kinks and poles as the reference defines them; parameters
at their dtype-rounded values; the vectorized sweep reference against the point one."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import pytest
from corpus import ELEMENTARY_FUNCTIONS

from autograd_cli.expr.functions import FUNCTIONS, SELU_ALPHA, SELU_SCALE
from autograd_cli.expr.parser import parse
from autograd_cli.truth.params import rounded_parameter, with_rounded_parameters
from autograd_cli.truth.point import reference
from autograd_cli.truth.symbolic import to_sympy
from autograd_cli.truth.vectorized import ACCEPT_BITS, SweepReference

mp = mpmath
Y = 0.8  # the second input of the two-argument functions


def _frac(value: Any) -> Any:
    return mp.mpf(value.numerator) / value.denominator


def _gelu_tanh(x: Any) -> Any:
    u = mp.sqrt(2 / mp.pi) * (x + mp.mpf(44715) / 10**6 * x**3)
    return x / 2 * (1 + mp.tanh(u))


def _elu(x: Any, alpha: Any = 1) -> Any:
    return x if x > 0 else alpha * mp.expm1(x)


#: name -> (direct mpmath function of x (y fixed at Y), points away from kinks/poles)
DIRECT: dict[str, tuple[Any, tuple[float, ...]]] = {
    "log1p": (mp.log1p, (-0.7, 0.3, 5.0)),
    "expm1": (mp.expm1, (-3.0, 0.01, 2.0)),
    "erf": (mp.erf, (-2.2, 0.4, 1.7)),
    "erfc": (mp.erfc, (-1.0, 0.6, 3.5)),
    "erfinv": (mp.erfinv, (-0.9, 0.2, 0.97)),
    "lgamma": (lambda x: mp.re(mp.loggamma(x)), (-2.5, -0.3, 0.7, 1.5, 4.2)),
    "digamma": (lambda x: mp.psi(0, x), (-2.5, -0.3, 0.7, 4.2)),
    "asinh": (mp.asinh, (-3.0, 0.5)),
    "acosh": (mp.acosh, (1.3, 4.0)),
    "atanh": (mp.atanh, (-0.8, 0.3)),
    "softplus": (lambda x: mp.log(1 + mp.exp(x)), (-5.0, 0.3, 4.0)),
    "log_sigmoid": (lambda x: -mp.log(1 + mp.exp(-x)), (-4.0, 0.3, 5.0)),
    "relu": (lambda x: max(x, 0), (-1.5, 0.7)),
    "relu6": (lambda x: min(max(x, 0), 6), (-1.0, 2.5, 7.0)),
    "leaky_relu": (lambda x: x if x >= 0 else mp.mpf("0.01") * x, (-2.0, 1.5)),
    "elu": (_elu, (-2.0, 1.5)),
    "selu": (lambda x: _frac(SELU_SCALE) * _elu(x, _frac(SELU_ALPHA)), (-2.0, 1.5)),
    "silu": (lambda x: x / (1 + mp.exp(-x)), (-3.0, 0.4, 2.0)),
    "gelu": (lambda x: x / 2 * (1 + mp.erf(x / mp.sqrt(2))), (-3.0, -0.4, 1.1)),
    "gelu_tanh": (_gelu_tanh, (-3.0, -0.4, 1.1)),
    "softsign": (lambda x: x / (1 + abs(x)), (-2.0, 0.5)),
    "hard_sigmoid": (lambda x: min(max(x + 3, 0), 6) / 6, (-4.0, 0.5, 3.5)),
    "mish": (lambda x: x * mp.tanh(mp.log(1 + mp.exp(x))), (-3.0, 0.2, 2.5)),
    "minimum": (lambda x: min(x, Y), (-1.0, 2.0)),
    "maximum": (lambda x: max(x, Y), (-1.0, 2.0)),
    "clip": (lambda x: min(max(x, -1), 2), (-3.0, 0.5, 2.5)),
    "atan2": (lambda x: mp.atan2(x, Y), (-2.0, 0.3)),
    "hypot": (lambda x: mp.sqrt(x**2 + Y**2), (-2.0, 0.3)),
    "xlogy": (lambda x: x * mp.log(Y), (-2.0, 0.3)),
    "sinc": (lambda x: mp.sinpi(x) / (mp.pi * x), (-2.3, 0.4, 1.0, 3.7)),
    "sign": (mp.sign, (-2.0, 0.5)),
    "floor": (mp.floor, (-2.5, 0.3)),
    "square": (lambda x: x * x, (-1.5, 3.0)),
    "rsqrt": (lambda x: 1 / mp.sqrt(x), (0.3, 2.0)),
}
NEW = sorted(DIRECT)
HIGHER = ("erf", "erfinv", "lgamma", "digamma", "gelu", "softplus", "sinc", "mish")


def text_of(name: str) -> str:
    if FUNCTIONS[name].arity == 2:
        return f"{name}(x, y)"
    return f"{name}(x, -1, 2)" if name == "clip" else f"{name}(x)"


def inputs_of(name: str, xs: tuple[float, ...] | np.ndarray) -> dict[str, np.ndarray]:
    x = np.asarray(xs, dtype=np.float64)
    return {"x": x, "y": np.full(x.shape, Y)} if FUNCTIONS[name].arity == 2 else {"x": x}


def test_the_table_covers_every_new_function() -> None:
    old = set(ELEMENTARY_FUNCTIONS)
    assert set(FUNCTIONS) - old == set(NEW)


@pytest.mark.parametrize("name", NEW)
def test_derivatives_match_mpmath_diff_of_a_direct_implementation(name: str) -> None:
    function, points = DIRECT[name]
    orders = (1, 2, 3, 4) if name in HIGHER else (1, 2)
    labels = tuple(",".join("x" * 1 for _ in range(n)) for n in orders)
    ref = reference(parse(text_of(name)), inputs_of(name, points), labels)
    with mp.workprec(200):
        for i, x in enumerate(points):
            expected = float(function(mp.mpf(x)))
            assert ref.values[i] == pytest.approx(expected, rel=1e-14, abs=1e-300), (name, x)
            for n, label in zip(orders, labels, strict=True):
                exact = float(mp.diff(function, mp.mpf(x), n))
                got = ref.derivatives[label][i]
                assert got == pytest.approx(exact, rel=1e-12, abs=1e-40), (name, x, n)


def test_sinc_at_and_near_zero_orders_1_to_4() -> None:
    xs = (0.0, 1e-300, 1e-30, -1e-8, 1e-3)
    ref = reference(parse("sinc(x)"), {"x": np.array(xs)}, ("x", "x,x", "x,x,x", "x,x,x,x"))
    assert ref.values[0] == 1.0 and ref.values[1] == 1.0
    closed = (0.0, -(math.pi**2) / 3, 0.0, math.pi**4 / 5)
    for label, at_zero in zip(("x", "x,x", "x,x,x", "x,x,x,x"), closed, strict=True):
        assert ref.derivatives[label][0] == pytest.approx(at_zero, rel=1e-15, abs=0)
    # odd orders near 0 by the series' first term: -pi**2 x/3, pi**4 x/5
    assert ref.derivatives["x"][2] == pytest.approx(-(math.pi**2) * 1e-30 / 3, rel=1e-15)
    assert ref.derivatives["x,x,x"][3] == pytest.approx(-1e-8 * math.pi**4 / 5, rel=1e-12)
    with mp.workprec(200):
        exact = mp.diff(lambda t: mp.sin(mp.pi * t) / (mp.pi * t), mp.mpf(1e-3), 4)
    assert ref.derivatives["x,x,x,x"][4] == pytest.approx(float(exact), rel=1e-12)


def test_kinks_ties_poles_and_domain_edges() -> None:
    def at(text: str, x: float, label: str = "x", y: float = Y) -> tuple[float, float]:
        ref = reference(
            parse(text),
            {"x": np.array([x]), "y": np.array([y])} if "y" in text else {"x": np.array([x])},
            (label,),
        )
        return float(ref.values[0]), float(ref.derivatives[label][0])

    # a kink's derivative is the midpoint of the one-sided ones (abs'(0) = sign(0) = 0)
    assert at("abs(x)", 0.0)[1] == 0.0
    assert at("relu(x)", 0.0)[1] == 0.5
    assert at("leaky_relu(x, 0.25)", 0.0)[1] == 0.625
    assert at("maximum(x, y)", 0.5, y=0.5)[1] == 0.5
    assert at("clip(x, -1, 1)", 1.0)[1] == 0.5
    assert at("elu(x)", 0.0)[1] == 1.0  # alpha = 1: C1 at 0
    assert math.isnan(at("relu(x)", 0.0, "x,x")[1])
    assert math.isnan(at("floor(x)", 2.0)[1]) and at("floor(x)", 2.5)[1] == 0.0
    assert math.isnan(at("sign(x)", 0.0)[1]) and at("sign(x)", 0.0)[0] == 0.0
    assert all(math.isnan(v) for v in at("lgamma(x)", -2.0))
    assert math.isnan(at("digamma(x)", 0.0)[0])
    assert at("erfinv(x)", 1.0) == (math.inf, math.inf)
    assert math.isnan(at("erfinv(x)", 1.5)[0])
    assert at("atan2(x, y)", 0.0, y=0.0)[0] == 0.0
    assert math.isnan(at("atan2(x, y)", 0.0, y=0.0)[1])
    # xlogy: 0 at x = 0 whatever y > 0 or < 0, and its x-derivative there is log(y)
    assert at("xlogy(x, y)", 0.0, y=-1.0)[0] == 0.0
    assert at("xlogy(x, y)", 0.0, y=3.0)[1] == pytest.approx(math.log(3.0), rel=1e-16)


@pytest.mark.parametrize(
    ("text", "x", "direct"),
    [
        ("log1p(x)", 1e-30, mp.log1p),
        ("expm1(x)", -1e-20, mp.expm1),
        ("softplus(x)", -100.0, lambda t: mp.log1p(mp.exp(t))),
        ("softplus(x)", 100.0, lambda t: mp.log1p(mp.exp(t))),
        ("erfc(x)", 10.0, mp.erfc),
        ("log_sigmoid(x)", -100.0, lambda t: -mp.log1p(mp.exp(-t))),
        ("gelu(x)", -30.0, lambda t: t / 2 * mp.erfc(-t / mp.sqrt(2))),
    ],
)
def test_cancelling_and_extreme_points_are_exact(text: str, x: float, direct: Any) -> None:
    ref = reference(parse(text), {"x": np.array([x])}, ("x",))
    with mp.workprec(400):
        assert ref.values[0] == float(direct(mp.mpf(x)))
        assert ref.derivatives["x"][0] == float(mp.diff(direct, mp.mpf(x)))


def test_parameters_are_judged_at_their_dtype_rounded_values() -> None:
    assert rounded_parameter(Fraction("0.01"), "float32") == Fraction(float(np.float32(0.01)))
    expr = parse("leaky_relu(x, 0.01) + clip(x, -0.1, 0.3)")
    x = {"x": np.array([-1.0, 0.5])}
    for dtype, slope in (("float32", float(np.float32(0.01))), ("float64", 0.01)):
        ref = reference(with_rounded_parameters(expr, dtype), x, ("x",))
        assert ref.derivatives["x"][0] == slope  # exactly the float the kernel multiplies by
    ref = reference(with_rounded_parameters(expr, "float32"), x, ("x",))
    assert ref.values[1] == 0.5 + float(np.float32(0.3))  # clip's hi, rounded too
    assert with_rounded_parameters(parse("sin(0.1*x)"), "float32") == parse("sin(0.1*x)")
    assert "Min(0, x)/100" in str(to_sympy(parse("leaky_relu(x)")))  # unrounded: exact


#: Each function's small sweep grid (kinks, ties and poles included).
GRID: dict[str, tuple[float, float]] = {
    "erfinv": (-1.0, 1.0),
    "atanh": (-1.0, 1.0),
    "acosh": (0.5, 5.0),
    "rsqrt": (0.0, 4.0),
    "log1p": (-1.5, 4.0),
}


@pytest.mark.parametrize("name", NEW)
def test_sweep_reference_agrees_with_the_point_reference(name: str) -> None:
    low, high = GRID.get(name, (-7.0, 7.0))
    x = np.concatenate([np.linspace(low, high, 57), [0.0, 1e-30, -1e-8, 0.5, 6.0, Y, 2.0]])
    inputs = inputs_of(name, x)
    labels = ("x", "x,x")
    exact = reference(parse(text_of(name)), inputs, labels)
    for dtype in ("float32", "float64"):
        for label in labels:
            truth = SweepReference(parse(text_of(name)), (label,), bits=ACCEPT_BITS[dtype])(inputs)
            assert truth.values is not None
            for got, want in (
                (truth.values[0], exact.values),
                (truth.derivatives[label][0], exact.derivatives[label]),
            ):
                same_nan = np.isnan(got) == np.isnan(want)
                assert same_nan.all(), (name, dtype, label, x[~same_nan])
                with np.errstate(invalid="ignore"):
                    close = np.abs(got - want) <= 2.0**-46 * np.abs(want)
                ok = np.isnan(want) | (got == want) | close
                assert ok.all(), (name, dtype, label, x[~ok], got[~ok], want[~ok])
