"""The exact reference: SymPy's derivative text and mpmath's double-double values."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy
from corpus import CORPUS, TUTORIAL, parse

from autograd_cli.expr.nodes import Binary, Num, Span, Var
from autograd_cli.expr.walk import REQUIRED_OPS, missing_ops
from autograd_cli.truth.point import PRECISIONS, reference, round_double_double
from autograd_cli.truth.symbolic import derivative, format_sympy, sympy_ops, to_sympy


def _at(text: str, wrt: tuple[str, ...] = ("x",), **points: list[float]):  # type: ignore[no-untyped-def]
    inputs = {name: np.array(values, dtype=np.float64) for name, values in points.items()}
    return reference(parse(text), inputs, wrt)


def _exact(hi: float, lo: float) -> Fraction:
    return Fraction(hi) + Fraction(lo)


def test_tutorial_at_one_half() -> None:
    ref = reference(parse(TUTORIAL), {"x": np.array([0.5], dtype=np.float32)}, ("x",))
    assert ref.values.tolist() == [9.75] and ref.values_lo.tolist() == [0.0]
    assert ref.derivatives["x"].tolist() == [10.5] and ref.derivatives_lo["x"].tolist() == [0.0]
    assert ref.expression == "2*x**3 + 4*x**2 + 5*x + 6"
    assert ref.derivative_expressions == {"x": "6*x**2 + 8*x + 5"}
    assert ref.values.dtype == np.float64


def test_double_double_of_a_third() -> None:
    ref = _at("x/3", x=[1.0, 0.1])
    third = _exact(ref.values[0], ref.values_lo[0])
    assert ref.values[0] == 1 / 3 and ref.values_lo[0] != 0
    assert abs(third - Fraction(1, 3)) <= Fraction(1, 3) * Fraction(1, 2**106)
    # 0.1 as the double the backends saw, not as one tenth
    tenth = _exact(ref.values[1], ref.values_lo[1])
    assert abs(tenth - Fraction(0.1) / 3) <= Fraction(1, 30) * Fraction(1, 2**106)
    assert abs(tenth - Fraction(1, 30)) > Fraction(1, 30) * Fraction(1, 2**60)


def test_transcendental_value_to_double_double_accuracy() -> None:
    ref = _at("sin(x) + exp(x)", x=[0.7])
    with mpmath.workprec(400):
        x = mpmath.mpf(0.7)
        f = mpmath.sin(x) + mpmath.exp(x)
        df = mpmath.cos(x) + mpmath.exp(x)
        for hi, lo, truth in (
            (ref.values, ref.values_lo, f),
            (ref.derivatives["x"], ref.derivatives_lo["x"], df),
        ):
            got = mpmath.mpf(hi[0]) + mpmath.mpf(lo[0])
            assert abs(got - truth) <= abs(truth) * mpmath.ldexp(1, -105)
            assert hi[0] == float(truth) and abs(lo[0]) <= np.spacing(hi[0]) / 2


def test_precision_rises_where_the_expression_cancels() -> None:
    ref = _at("exp(x) - 1 - x", x=[1e-20])
    x = Fraction(1e-20)
    series = x**2 / 2 + x**3 / 6
    got = _exact(ref.values[0], ref.values_lo[0])
    assert abs(got - series) <= series * Fraction(1, 2**100)
    assert ref.precision_bits > PRECISIONS[1]


def test_exact_zero_after_cancellation() -> None:
    ref = _at("(x + 1)**2 - x**2 - 2*x - 1", x=[0.1, 3.0])
    assert ref.values.tolist() == [0.0, 0.0]


def test_a_cancellation_complete_at_two_precisions_is_not_taken_for_zero() -> None:
    """softsign'(x) = 1/(1+|x|) - |x|/(1+|x|)**2 cancels to 0 at 160 and 256 bits at
    -1.341e154; it is 1/(1+|x|)**2, a subnormal (a hunt reported JAX wrong against 0)."""
    ref = _at("softsign(x)", ("x",), x=[-1.341e154])
    exact = 1 / (1 + abs(Fraction(-1.341e154))) ** 2
    assert ref.derivatives["x"][0] == float(exact) > 0
    assert ref.precision_bits == PRECISIONS[-1]


def test_partials_of_several_variables() -> None:
    ref = _at("x**2*y", ("x", "y", "z"), x=[3.0, -1.0], y=[2.0, 0.5])
    assert ref.derivative_expressions == {"x": "2*x*y", "y": "x**2", "z": "0"}
    assert ref.values.tolist() == [18.0, 0.5]
    assert ref.derivatives["x"].tolist() == [12.0, -1.0]
    assert ref.derivatives["y"].tolist() == [9.0, 1.0]
    assert ref.derivatives["z"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abs(x)", "sign(x)"),
        ("log2(x)", "1/(x*log(2))"),
        ("log10(x)", "1/(x*log(10))"),
        ("sigmoid(x)", "exp(-x)/(1 + exp(-x))**2"),
        ("e**x + pi", "exp(x)"),
    ],
)
def test_derivative_text(text: str, expected: str) -> None:
    assert format_sympy(derivative(parse(text), "x")) == expected


def test_format_speaks_our_language() -> None:
    assert format_sympy(to_sympy(parse("pi*x - e + abs(x)"))) == "pi*x + abs(x) - e"


def test_undefined_points_give_nan_or_signed_infinity() -> None:
    assert np.isnan(_at("1/x", x=[0.0]).values).all()
    assert np.isnan(_at("1/x", x=[0.0]).derivatives["x"]).all()
    log = _at("log(x)", x=[0.0, -1.0])
    assert np.isneginf(log.values[0]) and np.isnan(log.values[1])
    sqrt = _at("sqrt(x)", x=[0.0, -1.0])
    assert sqrt.values[0] == 0.0 and np.isnan(sqrt.values[1])
    assert np.isnan(sqrt.derivatives["x"]).all()
    assert np.isnan(_at("asin(x)", x=[2.0]).values).all()
    assert np.isnan(_at("x**0.5", x=[-4.0]).values).all()
    assert np.isnan(_at("sqrt(-1) + x", x=[1.0]).values).all()
    assert np.isneginf(_at("log(0) + x", x=[1.0]).values).all()
    assert _at("(-8)**x", x=[3.0]).values.tolist() == [-512.0]
    assert np.isnan(_at("(-8)**x", x=[1 / 3]).values).all()


def test_beyond_float64_is_infinite_or_zero() -> None:
    ref = _at("exp(x)", x=[1000.0, -1000.0, 1e300])
    assert ref.values.tolist() == [np.inf, 0.0, np.inf]
    nine, four_hundred = Num(Fraction(9), "9.0", Span(0, 3)), Num(Fraction(400), "400", Span(5, 8))
    power = Binary("pow", nine, four_hundred, Span(0, 8))  # the parser refuses this one
    assert to_sympy(power) == sympy.Integer(9) ** 400
    big = reference(
        Binary("add", power, Var("x", Span(11, 12)), Span(0, 12)), {"x": np.array([1.0])}, ("x",)
    )
    assert np.isposinf(big.values).all() and big.derivatives["x"].tolist() == [1.0]
    assert np.isposinf(_at("exp(exp(exp(x)))", x=[10.0]).values).all()


def test_huge_exact_power_is_refused() -> None:
    ten = Num(Fraction(10), "10", Span(0, 2))
    huge = Num(Fraction(100000), "100000", Span(4, 10))
    with pytest.raises(ValueError, match="too large"):
        to_sympy(Binary("pow", ten, huge, Span(0, 10)))


def test_sympy_ops_table_is_complete() -> None:
    assert missing_ops(sympy_ops()) == set()
    assert set(sympy_ops()) == set(REQUIRED_OPS)


def test_no_text_reaches_sympy_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety contract: every SymPy object is built from our tree, never from text."""
    import sys

    import sympy.parsing.sympy_parser as sympy_parser

    lambdify_module = sys.modules["sympy.utilities.lambdify"]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"text reached SymPy: {args!r}")

    monkeypatch.setattr(sympy_parser, "parse_expr", refuse)
    monkeypatch.setattr(lambdify_module, "lambdify", refuse)
    monkeypatch.setattr(sympy, "lambdify", refuse)
    for case in CORPUS:
        ref = reference(case.expr, case.inputs("float64"), case.variables)
        assert np.isfinite(ref.values).all(), case.text


def test_round_double_double_breaks_float32_ties_by_lo() -> None:
    midpoint = 1 + 2.0**-24  # halfway between float32 1 and 1 + 2**-23
    hi = np.array([midpoint, midpoint, midpoint, 2.5])
    lo = np.array([2.0**-80, -(2.0**-80), 0.0, 1e-30])
    rounded = round_double_double(hi, lo, "float32")
    assert rounded.dtype == np.float32
    assert rounded.tolist() == [1 + 2.0**-23, 1.0, 1.0, 2.5]
    assert round_double_double(hi, lo, "float64").tolist() == hi.tolist()
