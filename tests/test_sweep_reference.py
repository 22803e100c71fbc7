"""The vectorized sweep reference against the exact, adaptive mpmath reference."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import sympy
from corpus import CORPUS, TUTORIAL, Case, parse

from autograd_cli.expr.nodes import Binary, Call, Expr, Num, Unary
from autograd_cli.truth import vectorized as sweep_reference
from autograd_cli.truth.point import reference as point_reference
from autograd_cli.truth.vectorized import (
    ACCEPT_BITS,
    Program,
    SweepReference,
    Unsupported,
    reference,
)


def _only_arithmetic(expr: Expr) -> bool:
    """+ - * / and integer powers of variables, literals and constants (pi and e are
    double-doubles to 2**-106): no functions, no fractional powers."""
    if isinstance(expr, Call):
        return False
    if isinstance(expr, Unary):
        return _only_arithmetic(expr.operand)
    if isinstance(expr, Binary):
        if expr.op == "pow" and not _integer(expr.right):
            return False
        return _only_arithmetic(expr.left) and _only_arithmetic(expr.right)
    return True


def _integer(expr: Expr) -> bool:
    if isinstance(expr, Unary):
        return _integer(expr.operand)
    return isinstance(expr, Num) and expr.value.denominator == 1


def _random_points(case: Case, dtype: str, n: int, seed: int) -> dict[str, np.ndarray]:
    """Uniform over each variable's span of the corpus points (inside its domain),
    rounded to ``dtype``, as float64 (what the backends see)."""
    rng = np.random.default_rng(seed)
    return {
        name: rng.uniform(min(values), max(values), n).astype(dtype).astype(np.float64)
        for name, values in case.points.items()
    }


def _relative_gaps(
    ours: tuple[np.ndarray, np.ndarray], truth: tuple[np.ndarray, np.ndarray]
) -> list[Fraction]:
    """|ours - truth| / |truth| exactly, per point; NaN must meet NaN, inf the same inf."""
    gaps = []
    for oh, ol, th, tl in zip(*ours, *truth, strict=True):
        if not (math.isfinite(th) and math.isfinite(oh)):
            assert (math.isnan(th) and math.isnan(oh)) or oh == th, (oh, th)
            continue
        exact = Fraction(th) + Fraction(tl)
        gap = abs(Fraction(oh) + Fraction(ol) - exact)
        gaps.append(Fraction(0) if gap == 0 else gap / abs(exact) if exact else Fraction(1))
    return gaps


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CORPUS, ids=[case.text for case in CORPUS])
def test_agrees_with_mpmath_on_the_corpus(case: Case, dtype: str) -> None:
    inputs = _random_points(case, dtype, 60, seed=len(case.text))
    wrt = case.variables
    truth = point_reference(case.expr, inputs, wrt)
    ours = reference(case.expr, inputs, wrt, bits=ACCEPT_BITS[dtype])
    worst = Fraction(0)
    pairs = [((ours.values, ours.values_lo), (truth.values, truth.values_lo))] + [
        (
            (ours.derivatives[k], ours.derivatives_lo[k]),
            (truth.derivatives[k], truth.derivatives_lo[k]),
        )
        for k in wrt
    ]
    for mine, exact in pairs:
        worst = max([worst, *_relative_gaps(mine, exact)])
    limit = 100 if _only_arithmetic(case.expr) else ACCEPT_BITS[dtype]
    assert worst <= Fraction(1, 2**limit), (case.text, float(worst))


def test_functions_are_far_more_precise_than_float64_in_practice() -> None:
    """The guarantee is the error bound (58 bits for float64); what libm delivers is
    better still: 2**-60 or better on a mixed expression."""
    case = next(c for c in CORPUS if c.text == "x*sigmoid(x) + tanh(x)/2")
    inputs = _random_points(case, "float64", 200, seed=7)
    truth = point_reference(case.expr, inputs, ("x",))
    ours = reference(case.expr, inputs, ("x",), bits=58)
    gaps = _relative_gaps(
        (ours.derivatives["x"], ours.derivatives_lo["x"]),
        (truth.derivatives["x"], truth.derivatives_lo["x"]),
    )
    assert max(gaps) <= Fraction(1, 2**60)


EDGES = np.array(
    [
        0.0,
        -0.0,
        1.0,
        -1.0,
        2.0,
        -2.0,
        0.5,
        1e-300,
        -1e-300,
        1e300,
        -1e300,
        710.0,
        -710.0,
        800.0,
        -800.0,
        1e-20,
        5e-324,
        1e20,
        1e5,
        11400.0,
        math.pi / 2,
        math.pi,
        1 - 2**-53,
        1 + 2**-52,
    ]
)


@pytest.mark.parametrize(
    "text",
    [
        "asin(x)",
        "acos(x)",
        "log(x)",
        "sqrt(x)",
        "tan(x)",
        "exp(x)",
        "cosh(x)",
        "tanh(x)",
        "sigmoid(x)",
        "log(1 + exp(x))",
        "x**0.5 + x**(1/3)",
        "x**-2",
        "(x - 1)**-3",
        "abs(x)**0.5",
        "x**x",
        "1/sin(x)",
        "x/(x - 1)",
        "exp(x)*exp(-x)",
        "x**1000",
        "(-8)**(1/3)*x",
        "0**x",
        "abs(x)",
        "x*10**300*10**300",
    ],
)
def test_domain_edges_overflow_and_underflow_match_mpmath(text: str) -> None:
    """NaN where mpmath says NaN (sqrt(-1), asin(2), 0**-1), the same infinities, and
    every finite value to the float64 target, recomputed in mpmath where needed."""
    expr = parse(text)
    inputs = {"x": EDGES}
    truth = point_reference(expr, inputs, ("x",))
    ours = reference(expr, inputs, ("x",), bits=58)
    for mine, exact in (
        ((ours.values, ours.values_lo), (truth.values, truth.values_lo)),
        (
            (ours.derivatives["x"], ours.derivatives_lo["x"]),
            (truth.derivatives["x"], truth.derivatives_lo["x"]),
        ),
    ):
        assert max(_relative_gaps(mine, exact), default=0) <= Fraction(1, 2**58), text


def test_cancellation_is_detected_and_recomputed() -> None:
    """exp(x) - 1 - x at 1e-20: long double's exp rounds to 1, so every bit cancels;
    the error bound says so and mpmath supplies x**2/2."""
    evaluator = SweepReference(parse("exp(x) - 1 - x"), ("x",), bits=58)
    truth = evaluator({"x": np.array([1e-20, 0.5])})
    assert truth.recomputed == 1
    assert truth.values is not None
    hi, lo = truth.values
    x = Fraction(1e-20)
    series = x**2 / 2 + x**3 / 6
    assert abs(Fraction(hi[0]) + Fraction(lo[0]) - series) <= series * Fraction(1, 2**100)


def test_no_point_needs_mpmath_on_a_tutorial_sweep() -> None:
    x = np.linspace(-4, 4, 100_001).astype(np.float32).astype(np.float64)
    for dtype in ("float32", "float64"):
        truth = SweepReference(parse(TUTORIAL), ("x",), bits=ACCEPT_BITS[dtype])({"x": x})
        assert truth.recomputed == 0
        hi, lo = truth.derivatives["x"]
        naive = 6 * x**2 + 8 * x + 5
        assert np.max(np.abs(hi - naive) / naive) < 2**-50
        assert np.all(np.abs(lo) <= np.spacing(np.abs(hi)) / 2)


def test_tanh_derivative_does_not_cancel_for_large_arguments() -> None:
    """SymPy's tanh' is 1 - tanh(x)**2, all cancellation once tanh(x) rounds to 1; the
    compiled copy uses sech(x)**2 and needs no mpmath (even the adaptive mpmath
    reference, seeing two precisions agree on 0, says 0 at x = 300)."""
    import mpmath

    x = np.array([20.0, 30.0, -40.0, 300.0])
    truth = SweepReference(parse("tanh(x)"), ("x",), bits=58)({"x": x})
    assert truth.recomputed == 0
    hi, lo = truth.derivatives["x"]
    with mpmath.workprec(3000):
        exact = [mpmath.sech(mpmath.mpf(v)) ** 2 for v in x.tolist()]
        for h, low, e in zip(hi.tolist(), lo.tolist(), exact, strict=True):
            assert abs(mpmath.mpf(h) + mpmath.mpf(low) - e) <= e * mpmath.mpf(2) ** -58
    assert 1e-261 < hi[3] < 1e-259


def test_functions_in_mpmath_where_long_double_is_narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where long double is only a double, functions come from mpmath, point by point."""
    monkeypatch.setattr(sweep_reference, "FUNCTIONS_IN_MPMATH", True)
    case = next(c for c in CORPUS if c.text == "cosh(x)/y - sinh(y)*log2(z)")
    inputs = _random_points(case, "float64", 20, seed=3)
    truth = point_reference(case.expr, inputs, case.variables)
    ours = reference(case.expr, inputs, case.variables, bits=58)
    for k in case.variables:
        gaps = _relative_gaps(
            (ours.derivatives[k], ours.derivatives_lo[k]),
            (truth.derivatives[k], truth.derivatives_lo[k]),
        )
        assert max(gaps) <= Fraction(1, 2**58)
    power = reference(
        parse("x**y"),
        {"x": np.array([0.5, 2.0, 3.0]), "y": np.array([1.5, -1, 2])},
        ("x", "y"),
        bits=58,
    )
    assert power.values.tolist() == pytest.approx([0.5**1.5, 0.5, 9.0], rel=1e-15)


def test_a_node_without_a_rule_is_refused_for_the_caller_to_fall_back() -> None:
    x = sympy.Symbol("x", real=True)
    with pytest.raises(Unsupported):
        Program({"f": sympy.gamma(x) + x})


def test_only_arithmetic_helper_tells_the_corpus_apart() -> None:
    assert _only_arithmetic(parse(TUTORIAL))
    assert _only_arithmetic(parse("x**-2"))
    assert not _only_arithmetic(parse("x**0.5 + x**(1/3)"))
    assert _only_arithmetic(parse("pi*x**2 - e"))
    assert not _only_arithmetic(parse("sin(x)"))


def _agrees(text: str, x: np.ndarray, bits: int) -> int:
    """The sweep reference of ``text`` and its derivative at ``x`` against the point one
    (to ``bits`` bits); how many points it left to mpmath."""
    truth = SweepReference(parse(text), ("x",), bits=bits)({"x": x})
    exact = point_reference(parse(text), {"x": x}, ("x",))
    assert truth.values is not None
    pairs = (
        (truth.values, (exact.values, exact.values_lo)),
        (truth.derivatives["x"], (exact.derivatives["x"], exact.derivatives_lo["x"])),
    )
    for got, want in pairs:
        wrong = np.abs((got[0] - want[0]) + (got[1] - want[1])) > 2.0**-bits * np.abs(want[0])
        assert not wrong.any(), (text, bits, x[wrong])
    return truth.recomputed


def test_erfinv_near_its_edges_needs_no_mpmath() -> None:
    # erfinv' = sqrt(pi)/2 e**(y**2) magnifies scipy's error by 2y**2: near +-0.99
    # only the Newton-refined erfinv meets 48 bits (float32) or 58 (float64)
    edge = np.linspace(0.98, 0.99999, 150).astype(np.float32).astype(np.float64)
    x = np.concatenate([edge, -edge])
    assert _agrees("erfinv(x)", x, ACCEPT_BITS["float32"]) == 0
    assert _agrees("erfinv(x)", x, ACCEPT_BITS["float64"]) == 0
    # a computed argument (its low word and error go through the Newton step)
    assert _agrees("erfinv(0.5*x + x**2/3)", np.linspace(0.9, 1.15, 120), 48) == 0


def test_nested_clips_stay_linear_in_size() -> None:
    # SymPy's Max/Min compare and rewrite nested arguments when evaluated (the time
    # grew ~2.6 times per level, 40 s at 8 levels): the reference builds them
    # unevaluated, so 8 nested hard_sigmoids are 8 Max and 8 Min nodes (evaluated,
    # SymPy folds them into 1 Max)
    text = "x"
    for _ in range(8):
        text = f"hard_sigmoid({text})"
    f = sweep_reference.symbolic.to_sympy(parse(text))
    assert f.count(sympy.Max) == 8 and f.count(sympy.Min) == 8
    x = np.array([-4.0, -2.99, 0.0, 0.3, 2.99, 4.0])
    truth = SweepReference(parse(text), ("x",), bits=48)({"x": x})
    assert truth.recomputed == 0
    assert truth.derivatives["x"][0].tolist() == pytest.approx([0, *[6.0**-8] * 4, 0])


def test_digamma_zeros_table_is_what_mpmath_gives() -> None:
    from autograd_cli.truth import dd_series
    from autograd_cli.truth.digamma_zeros import ZEROS

    for k in (0, len(ZEROS) - 1):
        computed = dd_series.compute_digamma_zero(k)
        assert tuple((v.hi, v.lo, v.err) for v in computed) == ZEROS[k]


def test_mish_and_sinc_need_one_long_double_function_each() -> None:
    # mish's tanh and sech of softplus are rational in exp(x) (sinc's sin and cos of
    # pi*x come from tan(pi*x/2)): one long double call per point, not four; the
    # points left to mpmath are the zeros (sinc's integers) and cancellations
    for order in ("x", "x,x"):
        f = sweep_reference.symbolic.to_sympy(parse("mish(x)"))
        d = sweep_reference.symbolic.differentiate(f, order)
        compiled = sweep_reference.compiled_form(d)
        assert {type(g) for g in compiled.atoms(sympy.Function)} == {sympy.exp}, compiled
    grid = np.linspace(-6, 6, 2001)
    assert _agrees("sinc(x)", grid, 48) < 20 and _agrees("mish(x)", grid, 48) < 20


def test_scipy_erfc_bound_holds_where_it_is_one_minus_erf() -> None:
    # the float64 pass (a float32 sweep's first) trusts scipy's erfc within its
    # allowance: on (0, 1) scipy computes 1 - erf, 15 ULPs of erfc at 0.9
    import mpmath

    from autograd_cli.truth.dd_special import FUNCTIONS, apply_f64
    from autograd_cli.truth.double_double import Value

    u = np.linspace(0.01, 1.6, 400)
    v = apply_f64(FUNCTIONS["erfc"], Value(u, 0.0, 0.0))
    with mpmath.workprec(120):
        error = [abs(mpmath.erfc(a) - b) for a, b in zip(u.tolist(), v.hi.tolist(), strict=True)]
    assert all(e <= bound for e, bound in zip(error, v.err.tolist(), strict=True))
