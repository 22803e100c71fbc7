"""Kinks, corners, ties, jumps, poles and domain edges of the ML and special functions:
labelled at points and in sweeps, at orders 1 and 2, with parameters at their dtype
values, the intermediate range checks, and each framework's recorded convention.
No framework runs here: these are the domain layer's own decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from corpus import ELEMENTARY_FUNCTIONS

from autograd_cli.core.statuses import NONDIFFERENTIABLE, OVERFLOW, UNDEFINED, UNDERFLOW
from autograd_cli.domain import (
    SpecialRuns,
    classify,
    convention,
    conventions,
    describe,
    intermediate_findings,
    intermediate_range,
)
from autograd_cli.domain.conventions import CONVENTIONS, KINDS
from autograd_cli.domain.mp_ops import mp_ops
from autograd_cli.domain.numeric import partials, value
from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.parser import parse
from autograd_cli.expr.walk import REQUIRED_OPS


def labels_at(text, points, wrt=("x",), dtype=None):
    rows = [p if isinstance(p, dict) else {"x": p} for p in points]
    inputs = {name: np.array([r[name] for r in rows], dtype=np.float64) for name in rows[0]}
    labels = classify(parse(text), inputs, wrt, text, dtype=dtype)
    return [[labels.at(w, i) for w in wrt] for i in range(len(rows))]


def one(text, point, wrt="x", dtype=None):
    return labels_at(text, [point], (wrt,), dtype)[0][0]


@pytest.mark.parametrize(
    ("text", "point", "status", "words", "left", "right", "func", "kind"),
    [
        ("relu(x)", 0.0, NONDIFFERENTIABLE, "kink of relu at 0 (x = 0)", 0.0, 1.0, "relu", "kink"),
        (
            "relu(x - 1)",
            1.0,
            NONDIFFERENTIABLE,
            "kink of relu at 0 (x - 1 = 0)",
            0.0,
            1.0,
            "relu",
            "kink",
        ),
        ("relu6(x)", 6.0, NONDIFFERENTIABLE, "corner of relu6 at 6", 1.0, 0.0, "relu6", "corner"),
        ("relu6(x)", 0.0, NONDIFFERENTIABLE, "kink of relu6 at 0", 0.0, 1.0, "relu6", "kink"),
        (
            "leaky_relu(x, 0.25)",
            0.0,
            NONDIFFERENTIABLE,
            "kink of leaky_relu at 0",
            0.25,
            1.0,
            "leaky_relu",
            "kink",
        ),
        ("elu(x, 1.5)", 0.0, NONDIFFERENTIABLE, "kink of elu at 0", 1.5, 1.0, "elu", "kink"),
        (
            "selu(x)",
            0.0,
            NONDIFFERENTIABLE,
            "kink of selu at 0",
            1.758099,
            1.050701,
            "selu",
            "kink",
        ),
        (
            "hard_sigmoid(x)",
            -3.0,
            NONDIFFERENTIABLE,
            "corner of hard_sigmoid at -3",
            0.0,
            1 / 6,
            "hard_sigmoid",
            "corner",
        ),
        (
            "hard_sigmoid(x)",
            3.0,
            NONDIFFERENTIABLE,
            "corner of hard_sigmoid at 3",
            1 / 6,
            0.0,
            "hard_sigmoid",
            "corner",
        ),
        (
            "clip(x, -1, 1)",
            1.0,
            NONDIFFERENTIABLE,
            "corner of clip at hi = 1",
            1.0,
            0.0,
            "clip",
            "corner",
        ),
        (
            "clip(x, -1, 2)",
            -1.0,
            NONDIFFERENTIABLE,
            "corner of clip at lo = -1",
            0.0,
            1.0,
            "clip",
            "corner",
        ),
        (
            "maximum(x, 1 - x)",
            0.5,
            NONDIFFERENTIABLE,
            "tie of maximum: x = 1 - x",
            -1.0,
            1.0,
            "maximum",
            "tie",
        ),
        (
            "minimum(x, 2)",
            2.0,
            NONDIFFERENTIABLE,
            "tie of minimum: x = 2",
            1.0,
            0.0,
            "minimum",
            "tie",
        ),
        (
            "floor(x)",
            3.0,
            NONDIFFERENTIABLE,
            "jump of floor at 3 (x = 3): f is not continuous",
            None,
            None,
            "floor",
            "jump",
        ),
        ("sign(x - 2)", 2.0, NONDIFFERENTIABLE, "jump of sign at 0", None, None, "sign", "jump"),
        ("abs(x)", 0.0, NONDIFFERENTIABLE, "x is 0 (a kink)", -1.0, 1.0, "abs", "kink"),
        ("lgamma(x)", -2.0, UNDEFINED, "pole of lgamma at -2", None, None, "lgamma", "pole"),
        ("digamma(x)", 0.0, UNDEFINED, "pole of digamma at 0", None, None, "digamma", "pole"),
        (
            "erfinv(x)",
            1.0,
            UNDEFINED,
            "pole of erfinv at 1 (x = 1: erfinv(1) = inf)",
            None,
            None,
            "erfinv",
            "pole",
        ),
        ("erfinv(x)", -1.5, UNDEFINED, "outside [-1, 1]", None, None, None, None),
        ("atanh(x)", -1.0, UNDEFINED, "pole of atanh at -1", None, None, "atanh", "pole"),
        ("log1p(x)", -1.0, UNDEFINED, "pole of log1p at -1", None, None, "log1p", "pole"),
        ("log1p(x)", -3.0, UNDEFINED, "below -1", None, None, None, None),
        (
            "acosh(x)",
            1.0,
            NONDIFFERENTIABLE,
            "edge of acosh's domain at 1",
            None,
            math.inf,
            "acosh",
            "edge",
        ),
        ("acosh(x)", 0.0, UNDEFINED, "below 1", None, None, None, None),
        ("rsqrt(x)", 0.0, UNDEFINED, "pole of rsqrt at 0", None, None, "rsqrt", "pole"),
        ("rsqrt(x)", -2.0, UNDEFINED, "is negative", None, None, None, None),
    ],
)
def test_places_at_points(text, point, status, words, left, right, func, kind):
    found = one(text, point)
    assert found is not None, text
    assert (found.status, found.func, found.kind) == (status, func, kind)
    assert words in found.reason
    for got, want in ((found.left, left), (found.right, right)):
        assert (got is None) if want is None else got == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize(
    ("text", "x"),
    [
        ("relu(x)", 1.0),
        ("relu(x)", -1.0),
        ("relu(x**2)", 0.0),  # 0 on both sides
        ("x*relu(x)", 0.0),
        ("leaky_relu(x, 1)", 0.0),  # a slope of 1 is no kink
        ("elu(x)", 0.0),  # alpha = 1: C1, the first derivative exists
        ("softsign(x)", 0.0),  # C1 as well
        ("clip(x, 1, -1)", 1.0),  # lo > hi: the constant hi, no corner
        ("maximum(x, 1)", 0.5),
        ("x**2*sign(x)", 0.0),  # x*|x|: continuous and differentiable
        ("floor(x)", 2.5),
        ("digamma(x)", -2.5),
        ("lgamma(x)", 1.0),
        ("erfinv(x)", 0.999),
        ("atanh(x)", 0.5),
        ("gelu(x) + mish(x) + silu(x) + softplus(x) + log_sigmoid(x)", 0.0),
        ("sinc(x) + erf(x) + erfc(x) + expm1(x) + asinh(x) + square(x)", 0.0),
    ],
)
def test_ordinary_points_of_new_functions(text, x):
    assert one(text, x) is None


def test_order_two_labels_only_where_that_order_fails():
    """elu(alpha=1), selu's scale aside, and softsign are C1 at 0: the first derivative
    exists there, the second does not (its one-sided limits differ)."""
    for text, left, right in (("elu(x)", 1.0, 0.0), ("softsign(x)", 2.0, -2.0)):
        first, second = labels_at(text, [0.0], ("x", "x,x"))[0]
        assert first is None
        assert second is not None and second.status == NONDIFFERENTIABLE
        assert "(of the derivative by x, x)" in second.reason
        assert (second.left, second.right) == (left, right)
    relu = labels_at("relu(x)", [0.0], ("x,x",))[0][0]
    assert relu is not None and relu.status == NONDIFFERENTIABLE
    assert labels_at("floor(x)", [3.0], ("x,x",))[0][0].kind == "jump"


def test_two_argument_places_along_each_variable():
    rows = labels_at(
        "xlogy(x, y)",
        [{"x": 0.0, "y": 2.0}, {"x": 0.0, "y": -1.0}, {"x": 1.0, "y": 0.0}],
        ("x", "y"),
    )
    assert rows[0] == [None, None]  # x*log(y) with y > 0: smooth, d/dx = log(2)
    along_x, along_y = rows[1]
    assert along_x.status == NONDIFFERENTIABLE and along_x.kind == "line"
    assert along_y is None  # 0 for every y while x stays 0
    assert {s.status for s in rows[2]} == {UNDEFINED}
    origin, cut = labels_at(
        "atan2(y, x)", [{"x": 0.0, "y": 0.0}, {"x": -1.0, "y": 0.0}], ("x", "y")
    )
    assert {s.status for s in origin} == {UNDEFINED}
    assert origin[0].func == "atan2" and origin[0].kind == "origin"
    assert cut[0] is None  # along x, atan2(0, x) = pi stays put
    assert cut[1].status == NONDIFFERENTIABLE and cut[1].kind == "cut"
    hypot = labels_at("hypot(x, y)", [{"x": 0.0, "y": 0.0}], ("x", "y"))[0]
    assert [(s.left, s.right) for s in hypot] == [(-1.0, 1.0), (-1.0, 1.0)]
    tie = labels_at("maximum(x, y)", [{"x": 2.0, "y": 2.0}], ("x", "y"))[0]
    assert [(s.left, s.right) for s in tie] == [(0.0, 1.0), (0.0, 1.0)]


def test_jump_inside_a_continuous_function_is_decided_by_the_derivative():
    found = one("x*sign(x)", 0.0)  # |x|: continuous, kinked
    assert found is not None and "f is not continuous" not in found.reason
    assert (found.left, found.right) == (-1.0, 1.0)


def test_parameters_are_judged_at_their_dtype_values():
    x32 = float(np.float32(0.1))
    assert one("clip(x, 0.1, 0.9)", x32, dtype="float32") is not None
    assert one("clip(x, 0.1, 0.9)", 0.1, dtype="float32") is None
    assert one("clip(x, 0.1, 0.9)", 0.1, dtype="float64") is not None
    assert one("clip(x, 0.1, 0.9)", x32, dtype="float64") is None


def sweep_runs(text, x, dtype="float32"):
    labels = classify(parse(text), {"x": x}, ("x",), text, dtype=dtype)
    runs = SpecialRuns("x")
    runs.add(0, x, labels)
    return runs


GRID = np.linspace(-4, 4, 8001)  # through every integer and half-integer


@pytest.mark.parametrize(
    ("text", "where", "status"),
    [
        ("relu(x)", [0.0], NONDIFFERENTIABLE),
        ("maximum(x, 1 - x)", [0.5], NONDIFFERENTIABLE),
        ("relu6(2*x)", [0.0, 3.0], NONDIFFERENTIABLE),
        ("clip(x, -1.5, 2.5)", [-1.5, 2.5], NONDIFFERENTIABLE),
        ("hard_sigmoid(x)", [-3.0, 3.0], NONDIFFERENTIABLE),
        ("floor(x)", [float(k) for k in range(-4, 5)], NONDIFFERENTIABLE),
        ("sign(x)", [0.0], NONDIFFERENTIABLE),
        ("lgamma(x)", [-4.0, -3.0, -2.0, -1.0, 0.0], UNDEFINED),
        ("elu(x, 2)", [0.0], NONDIFFERENTIABLE),
        ("erfinv(x/4)", [-4.0, 4.0], UNDEFINED),
    ],
)
def test_sweeps_through_places_label_exactly_those_points(text, where, status):
    runs = sweep_runs(text, GRID)
    assert runs.counts[status] == len(where)
    assert [run["from"] for run in runs.kept] == where
    assert all(run["points"] == 1 for run in runs.kept)


def test_sweep_regions_are_one_run_each():
    runs = sweep_runs("log1p(x)", GRID)
    assert runs.counts[UNDEFINED] == 3001  # [-4, -1): below, and the pole at -1
    assert [(r["from"], r["to"]) for r in runs.kept] == [(-4.0, -1.001), (-1.0, -1.0)]
    assert "below -1" in runs.kept[0]["reason"] and "pole" in runs.kept[1]["reason"]
    assert sweep_runs("elu(x) + softsign(x)", GRID).counts[NONDIFFERENTIABLE] == 0


@pytest.mark.parametrize(
    ("text", "x", "dtype", "status"),
    [
        ("expm1(x)", 100.0, "float32", OVERFLOW),
        ("lgamma(x)", 5e36, "float32", OVERFLOW),
        ("square(x)", 1e20, "float32", OVERFLOW),
        ("rsqrt(x)", 1e-44, "float32", OVERFLOW),  # its derivative, -x**-1.5/2
        ("erfc(x)", 11.0, "float32", UNDERFLOW),
        ("erfc(x)", 28.0, "float64", UNDERFLOW),
        ("softplus(x)", -200.0, "float32", UNDERFLOW),
        ("gelu(x)", -40.0, "float32", UNDERFLOW),
    ],
)
def test_intermediate_range_of_new_functions(text, x, dtype, status):
    found = intermediate_findings(parse(text), {"x": np.array([x])}, dtype, ["x"], text)["x"][0]
    assert found is not None and found[0] == status


@pytest.mark.parametrize(
    ("text", "x", "dtype"),
    [
        ("erfc(x)", 27.0, "float64"),  # 5.2e-319: a subnormal, kept by gradual underflow
        ("elu(x)", -200.0, "float32"),  # -1
        ("relu(x)", -1.0, "float32"),  # an exact 0
        ("clip(x, -1, 1) + maximum(x, 2) + hard_sigmoid(x)", 5.0, "float32"),
        ("mish(x) + selu(x) + gelu_tanh(x)", 50.0, "float32"),
        ("xlogy(x, 2) + atan2(x, 1) + hypot(x, 1e30)", 0.0, "float32"),
    ],
)
def test_in_range_points_of_new_functions_are_not_flagged(text, x, dtype):
    assert not intermediate_range(parse(text), {"x": np.array([x])}, dtype, "x").any()


NEW = sorted(set(FUNCTIONS) - (ELEMENTARY_FUNCTIONS - {"sigmoid"}))


def _arguments(name):
    spec = FUNCTIONS[name]
    inputs = {
        "acosh": [1.75],
        "atanh": [0.375],
        "erfinv": [0.375],
        "log1p": [0.5],
        "rsqrt": [1.5],
        "xlogy": [0.75, 1.5],
    }.get(name, [0.625, -0.375][: spec.arity])
    params = [
        float(p.default) if p.default is not None else v
        for p, v in zip(spec.params, (-0.5, 1.25), strict=False)
    ]
    return inputs, params


@pytest.mark.parametrize("name", NEW)
def test_numpy_forms_agree_with_mpmath(name):
    """The screen and the range scan's float64 value and partials of every function
    against our mpmath ops (and their central difference) at an ordinary point."""
    import mpmath

    assert REQUIRED_OPS - {"num", "pi", "e"} <= set(mp_ops())
    inputs, params = _arguments(name)
    args = [np.array([v]) for v in inputs] + [np.float64(p) for p in params]
    got = value(name, args)
    with mpmath.workprec(200):
        exact = mp_ops()[name](*map(mpmath.mpf, inputs), *map(mpmath.mpf, params))
        assert float(got[0]) == pytest.approx(float(exact), rel=1e-10, abs=1e-300)
        slopes = partials(name, args, got)
        for i in range(len(inputs)):
            h = mpmath.mpf(2) ** -60
            moved = [mpmath.mpf(v) + (h if j == i else 0) for j, v in enumerate(inputs)]
            back = [mpmath.mpf(v) - (h if j == i else 0) for j, v in enumerate(inputs)]
            ops = mp_ops()[name]
            difference = (
                ops(*moved, *map(mpmath.mpf, params)) - ops(*back, *map(mpmath.mpf, params))
            ) / (2 * h)
            assert float(np.asarray(slopes[i]).ravel()[0]) == pytest.approx(
                float(difference), rel=1e-9, abs=1e-12
            ), (name, i)


def test_conventions_name_each_framework_choice():
    assert "0.5" in convention("maximum", "tie", "torch")
    assert "1 to x" in convention("maximum", "tie", "tensorflow")
    assert "0.5" in convention("clip", "corner", "jax")
    assert convention("relu", "kink", "jax").startswith("0")
    assert convention("selu", "kink", "tensorflow").startswith("scale = 1.0507")
    assert "alpha" in convention("elu", "kink", "jax", order=2)
    assert convention("maximum", "tie", "finite-diff") is None
    assert convention(None, None, "torch") is None
    assert conventions("hard_sigmoid", "corner").keys() == {"torch", "jax"}
    assert describe("tie") is not None and describe("no such kind") is None
    assert {kind for _, kind, _ in CONVENTIONS} <= KINDS.keys()


def test_labelled_points_lead_to_their_convention():
    """What classify hands back (Special.func, Special.kind) is the table's key."""
    rows = labels_at("maximum(x, y)", [{"x": 1.0, "y": 1.0}], ("x",))
    special = rows[0][0]
    assert "0.5" in convention(special.func, special.kind, "torch")
    for text, x in (
        ("relu(x)", 0.0),
        ("clip(x, 0, 1)", 1.0),
        ("digamma(x)", -2.0),
        ("floor(x)", 3.0),
        ("erfinv(x)", 1.0),
        ("acosh(x)", 1.0),
    ):
        special = one(text, x)
        assert describe(special.kind) is not None, text
        assert conventions(special.func, special.kind), text


def test_ordinary_places_with_a_framework_convention_get_a_note_not_a_label():
    """xlogy(0, y > 0) is differentiable (d/dx = log(y)); TensorFlow gives 0 there."""
    labels = classify(
        parse("xlogy(x, y)"),
        {"x": np.array([0.0, 0.5, 0.0]), "y": np.array([2.0, 2.0, -1.0])},
        ("x",),
        "xlogy(x, y)",
    )
    assert labels.at("x", 0) is None and labels.notes == {0: ("xlogy", "zero")}
    assert "log(y)" in convention(*labels.notes[0], "tensorflow")
    assert labels.at("x", 2).kind == "line"
    division = one("1/x", 0.0)
    assert division.status == UNDEFINED and (division.func, division.kind) == (None, None)


@pytest.mark.parametrize(("text", "x", "exact", "gave"), [
    # constant: min(max(x, 1), 1) = 1; torch and TF pass the gradient at the bounds,
    # JAX splits each tie in halves: 0.5 * 0.5
    ("clip(x, 1, 1)", 1.0, 0.0, {"torch": 1.0, "tensorflow": 1.0, "jax": 0.25}),
    # x itself; SymPy's formula is sign(x)**2 + 2*abs(x)*DiracDelta(x): NaN at 0
    ("abs(x)*sign(x)", 0.0, 1.0, {"torch": 0.0, "tensorflow": 0.0, "jax": 0.0}),
    # x + 1; TensorFlow gives the tie to x in both: 2
    ("maximum(x, 1) + minimum(x, 1)", 1.0, 1.0, {"torch": 1.0, "tensorflow": 2.0,
                                                 "jax": 1.0}),
])
def test_a_kink_whose_sides_agree_is_judged_against_their_common_value(text, x, exact, gave):
    """Where both one-sided derivatives agree the derivative exists and equals them (f is
    continuous: the mean value theorem), whatever the formula's Heaviside(0) = 1/2 or
    DiracDelta makes of the point; a framework's rule at the place is judged, and its
    row says why it can differ."""
    from autograd_cli import compare

    report = compare(text, at=x, backends="analytic,torch,tensorflow,jax")
    rows = {row.backend: row for row in report.rows}
    assert rows["analytic"].derivative == exact and rows["analytic"].status == "ok"
    assert {name: rows[name].derivative for name in gave} == gave
    for name, given in gave.items():
        assert rows[name].status == ("ok" if given == exact else "wrong"), name
        if given != exact:
            assert "one-sided derivatives agree" in (rows[name].reason or ""), name
