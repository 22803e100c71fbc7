"""Properties over generated input (hypothesis).

1. Random valid expressions from the grammar get the exact derivative from every
   autodiff backend, in float64, wherever the derivative is defined and the point is
   well conditioned (see ``judge`` for the tolerance and ``well_conditioned`` for the
   points that are skipped, and why).
2. Random text and bytes only ever give a clean error: in-process, each layer raises
   its own error type and nothing else; through the real command, a handful of examples
   per input (expression, --at, --range, config file, suite file) exit 2 with the
   message on stderr, empty stdout and no traceback.

The parser's own totality over random text and bytes is in test_parser.py; the
coverage-guided fuzzer in fuzz/fuzz_parser.py. Example counts are small on purpose:
the frameworks are real and the command runs in a fresh interpreter each time.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from autograd_cli import truth
from autograd_cli.backends.base import Backend, Unsupported
from autograd_cli.comparison.verdicts import Tolerance, errors
from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.nodes import Call, Expr, variables
from autograd_cli.expr.parser import ExpressionError, parse
from autograd_cli.expr.walk import lower
from autograd_cli.inputs import InputError, build_request
from autograd_cli.suite.config import ConfigError, load_config
from autograd_cli.suite.run import load_suite

ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------ 1. agreement


def expressions(max_leaves: int = 6) -> st.SearchStrategy[str]:
    """Expression text from the grammar: numbers exact in binary (so a literal means the
    same to every backend), x and y, the five operators, unary minus, every function
    with its inputs and a valid number of parameters (defaults fill the rest)."""
    leaves = st.sampled_from(["x", "y", "x", "y", "0.5", "1.5", "2", "3", "0.25", "pi"])
    params = st.lists(st.sampled_from(["0.5", "-0.25", "2", "-1", "1.5"]), max_size=2)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        )
        negation = inner.map(lambda s: f"-{s}")
        call = st.tuples(st.sampled_from(sorted(FUNCTIONS)), inner, inner, params).map(call_text)
        return binary | negation | call

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def call_text(drawn: tuple[str, str, str, list[str]]) -> str:
    """``name`` called on its inputs (one or two of those drawn) and on as many of the
    drawn parameters as it takes, at least its required ones."""
    name, a, b, params = drawn
    spec = FUNCTIONS[name]
    required = sum(p.default is None for p in spec.params)
    given = [*params, "-1", "2"][: max(required, min(len(params), len(spec.params)))]
    return f"{name}({', '.join([a, b][: spec.arity] + given)})"


@dataclass(frozen=True)
class Dual:
    """A value, its derivative, and the sum of the absolute values of the chain-rule
    terms that make up that derivative: the scale of the derivative's rounding error."""

    v: float
    d: float
    m: float


def _sigmoid(u: float) -> float:
    return 1 / (1 + math.exp(-u)) if u >= 0 else math.exp(u) / (1 + math.exp(u))


def _softplus(u: float) -> float:
    return max(u, 0.0) + math.log1p(math.exp(-abs(u)))


def _phi(u: float) -> float:
    return math.exp(-u * u / 2) / math.sqrt(2 * math.pi)


def _sinc_slope(u: float) -> float:
    t = math.pi * u
    return 0.0 if u == 0 else (math.cos(t) * t - math.sin(t)) / (math.pi * u * u)


def _gelu_tanh(u: float) -> tuple[float, float]:
    c, k = math.sqrt(2 / math.pi), 0.044715
    t = math.tanh(c * (u + k * u**3))
    return 0.5 * u * (1 + t), 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * c * (1 + 3 * k * u * u)


def _elu(u: float, alpha: float) -> tuple[float, float]:
    return (u, 1.0) if u > 0 else (alpha * math.expm1(u), alpha * math.exp(u))


def _special(name: str) -> Callable[..., float]:
    from scipy import special

    return getattr(special, name)  # type: ignore[no-any-return]


_SELU = (1.6732632423543772, 1.0507009873554805)  # alpha, scale
_Rule = tuple[Callable[..., float], Callable[..., tuple[float, ...]]]

#: Each function's value and its partials by its inputs, at the inputs then parameters.
_CALCULUS: dict[str, _Rule] = {
    "sin": (math.sin, lambda u: (math.cos(u),)),
    "cos": (math.cos, lambda u: (-math.sin(u),)),
    "tan": (math.tan, lambda u: (1 / math.cos(u) ** 2,)),
    "asin": (math.asin, lambda u: (1 / math.sqrt(1 - u * u),)),
    "acos": (math.acos, lambda u: (-1 / math.sqrt(1 - u * u),)),
    "atan": (math.atan, lambda u: (1 / (1 + u * u),)),
    "sinh": (math.sinh, lambda u: (math.cosh(u),)),
    "cosh": (math.cosh, lambda u: (math.sinh(u),)),
    "tanh": (math.tanh, lambda u: (1 - math.tanh(u) ** 2,)),
    "asinh": (math.asinh, lambda u: (1 / math.sqrt(1 + u * u),)),
    "acosh": (math.acosh, lambda u: (1 / math.sqrt(u * u - 1),)),
    "atanh": (math.atanh, lambda u: (1 / (1 - u * u),)),
    "exp": (math.exp, lambda u: (math.exp(u),)),
    "expm1": (math.expm1, lambda u: (math.exp(u),)),
    "log": (math.log, lambda u: (1 / u,)),
    "log1p": (math.log1p, lambda u: (1 / (1 + u),)),
    "log2": (math.log2, lambda u: (1 / (u * math.log(2)),)),
    "log10": (math.log10, lambda u: (1 / (u * math.log(10)),)),
    "sqrt": (math.sqrt, lambda u: (0.5 / math.sqrt(u),)),
    "rsqrt": (lambda u: 1 / math.sqrt(u), lambda u: (-0.5 / (u * math.sqrt(u)),)),
    "square": (lambda u: u * u, lambda u: (2 * u,)),
    "abs": (abs, lambda u: (math.copysign(1.0, u),)),
    "sign": (lambda u: float(int(u > 0) - int(u < 0)), lambda u: (0.0,)),
    "floor": (lambda u: float(math.floor(u)), lambda u: (0.0,)),
    "atan2": (math.atan2, lambda v, u: (u / (u * u + v * v), -v / (u * u + v * v))),
    "hypot": (math.hypot, lambda u, v: (u / math.hypot(u, v), v / math.hypot(u, v))),
    "minimum": (min, lambda u, v: (float(u <= v), float(u > v))),
    "maximum": (max, lambda u, v: (float(u >= v), float(u < v))),
    "clip": (lambda u, lo, hi: min(max(u, lo), hi), lambda u, lo, hi: (float(lo < u < hi),)),
    "xlogy": (lambda u, v: 0.0 if u == 0 else u * math.log(v), lambda u, v: (math.log(v), u / v)),
    "sinc": (lambda u: 1.0 if u == 0 else math.sin(math.pi * u) / (math.pi * u),
             lambda u: (_sinc_slope(u),)),
    "erf": (math.erf, lambda u: (2 / math.sqrt(math.pi) * math.exp(-u * u),)),
    "erfc": (math.erfc, lambda u: (-2 / math.sqrt(math.pi) * math.exp(-u * u),)),
    "erfinv": (lambda u: _special("erfinv")(u) if abs(u) < 1 else math.log(-1),
               lambda u: (math.sqrt(math.pi) / 2 * math.exp(_special("erfinv")(u) ** 2),)),
    "lgamma": (math.lgamma, lambda u: (float(_special("psi")(u)),)),
    "digamma": (lambda u: float(_special("psi")(u)) if u > 0 or u != math.floor(u)
                else math.log(-1), lambda u: (float(_special("polygamma")(1, u)),)),
    "sigmoid": (_sigmoid, lambda u: (_sigmoid(u) * _sigmoid(-u),)),
    "log_sigmoid": (lambda u: -_softplus(-u), lambda u: (_sigmoid(-u),)),
    "softplus": (_softplus, lambda u: (_sigmoid(u),)),
    "relu": (lambda u: max(u, 0.0), lambda u: (float(u > 0),)),
    "relu6": (lambda u: min(max(u, 0.0), 6.0), lambda u: (float(0 < u < 6),)),
    "leaky_relu": (lambda u, s: u if u >= 0 else s * u, lambda u, s: (1.0 if u >= 0 else s,)),
    "elu": (lambda u, a: _elu(u, a)[0], lambda u, a: (_elu(u, a)[1],)),
    "selu": (lambda u: _SELU[1] * _elu(u, _SELU[0])[0],
             lambda u: (_SELU[1] * _elu(u, _SELU[0])[1],)),
    "silu": (lambda u: u * _sigmoid(u),
             lambda u: (_sigmoid(u) + u * _sigmoid(u) * _sigmoid(-u),)),
    "gelu": (lambda u: u * math.erfc(-u / math.sqrt(2)) / 2,
             lambda u: (math.erfc(-u / math.sqrt(2)) / 2 + u * _phi(u),)),
    "gelu_tanh": (lambda u: _gelu_tanh(u)[0], lambda u: (_gelu_tanh(u)[1],)),
    "softsign": (lambda u: u / (1 + abs(u)), lambda u: (1 / (1 + abs(u)) ** 2,)),
    "hard_sigmoid": (lambda u: min(max(u + 3, 0.0), 6.0) / 6, lambda u: (float(-3 < u < 3) / 6,)),
    "mish": (lambda u: u * math.tanh(_softplus(u)),
             lambda u: (math.tanh(_softplus(u))
                        + u * (1 - math.tanh(_softplus(u)) ** 2) * _sigmoid(u),)),
}


def _call(name: str) -> Callable[..., Dual]:
    f, partials = _CALCULUS[name]
    arity = FUNCTIONS[name].arity

    def call(*args: Any) -> Dual:
        duals, params = args[:arity], [float(p) for p in args[arity:]]
        values = [a.v for a in duals]
        slopes = partials(*values, *params)
        d = sum(g * a.d for g, a in zip(slopes, duals, strict=True))
        m = sum(abs(g) * a.m for g, a in zip(slopes, duals, strict=True))
        return Dual(float(f(*values, *params)), float(d), float(m))

    return call


def _power(a: Dual, b: Dual) -> Dual:
    v = math.pow(a.v, b.v)
    slope = b.v * math.pow(a.v, b.v - 1) if b.v != 0 else 0.0
    d, m = slope * a.d, abs(slope) * a.m
    if b.d != 0 or b.m != 0:
        log_a = math.log(a.v)
        d, m = d + v * log_a * b.d, m + abs(v * log_a) * b.m
    return Dual(v, d, m)


#: Forward mode over Python floats through the project's own tree-walker. math raises on
#: a domain error (log(-1), 0**-1) and on overflow, which marks the point undefined.
DUAL_OPS: dict[str, Callable[..., Dual]] = {
    "num": lambda value: Dual(float(value), 0.0, 0.0),
    "pi": lambda: Dual(math.pi, 0.0, 0.0),
    "e": lambda: Dual(math.e, 0.0, 0.0),
    "neg": lambda a: Dual(-a.v, -a.d, a.m),
    "pos": lambda a: a,
    "add": lambda a, b: Dual(a.v + b.v, a.d + b.d, a.m + b.m),
    "sub": lambda a, b: Dual(a.v - b.v, a.d - b.d, a.m + b.m),
    "mul": lambda a, b: Dual(a.v * b.v, a.d * b.v + a.v * b.d,
                             a.m * abs(b.v) + abs(a.v) * b.m),
    "div": lambda a, b: Dual(a.v / b.v, a.d / b.v - a.v * b.d / (b.v * b.v),
                             a.m / abs(b.v) + abs(a.v) * b.m / (b.v * b.v)),
    "pow": _power,
    **{name: _call(name) for name in FUNCTIONS},
}


def error_scale(expr: Expr, point: dict[str, float], wrt: str) -> float | None:
    """The sum of |chain-rule terms| of d expr/d wrt at ``point`` (>= |derivative|), or
    None where some intermediate value is undefined or not finite in float64."""
    env = {name: Dual(value, float(name == wrt), float(name == wrt))
           for name, value in point.items()}
    try:
        result = lower(expr, DUAL_OPS, env)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    finite = all(math.isfinite(t) for t in (result.v, result.d, result.m))
    return result.m if finite else None


#: Relative tolerance on the error scale S (S >= |exact f'|). Reverse or forward mode
#: in float64 computes each chain-rule term with a relative error of a few eps per
#: operation, so |computed - exact| <= c * n * eps * S with n the number of operations
#: (at most ~20 here) and c a few ULPs of libm: about 1e-14 * S. 1e-9 leaves five orders
#: of magnitude of margin and still fails any wrong derivative rule (an error of 1e-9
#: relative is 4.5 million ULPs).
RTOL = 1e-9
#: Points are skipped where values or derivatives leave this range (overflow-prone).
HUGE = 1e8
#: A point is well conditioned when the exact f' moves by at most this fraction when
#: each variable moves by DELTA (relative): no pole, kink or domain edge is near.
SMOOTH = 1e-3
DELTA = 1e-6

CANDIDATES = ({"x": 0.3, "y": 0.45}, {"x": 1.7, "y": -1.3}, {"x": -0.8, "y": 1.9},
              {"x": 2.6, "y": 0.8}, {"x": -2.2, "y": 1.15})


def _frameworks() -> list[type[Backend]]:
    """The autodiff backends installed here: torch, tensorflow, and jax once it imports."""
    found = []
    for module, name in (("torch", "TorchBackend"), ("tensorflow", "TensorFlowBackend"),
                         ("jax", "JaxBackend")):
        try:
            cls = getattr(importlib.import_module(f"autograd_cli.backends.{module}"), name)
        except (ImportError, AttributeError):
            continue
        if cls.is_installed():
            found.append(cls)
    return found


FRAMEWORKS = _frameworks()

#: Framework kernels measured beyond RTOL in float64 (real findings, reported by the
#: command as inaccurate, not wiring to test here): TensorFlow 2.21's gelu and gelu_tanh
#: (value and gradient 4e-9 to 3e-8 relative: float32-accurate kernels); the gradients
#: of elu and selu taken from their output (y + alpha cancels: relative 1e-16/e^x,
#: beyond 1e-9 below x = -16) in TensorFlow and JAX; torch's softplus, the identity
#: beyond x = 20 (its derivative 1 instead of 1 - 2e-9), and its hardsigmoid gradient,
#: 1/6 as a float32 constant (0.1666666716337204) in float64.
KNOWN_INACCURATE: dict[str, frozenset[str]] = {
    "tensorflow": frozenset({"gelu", "gelu_tanh", "elu", "selu", "leaky_relu", "xlogy"}),
    "jax": frozenset({"elu", "selu"}),
    "torch": frozenset({"softplus", "hard_sigmoid"}),
}


def functions_of(expr: Expr) -> set[str]:
    """The functions an expression calls."""
    found = {expr.func} if isinstance(expr, Call) else set()
    for child in (getattr(expr, "operand", None), getattr(expr, "left", None),
                  getattr(expr, "right", None), *getattr(expr, "args", ())):
        if child is not None:
            found |= functions_of(child)
    return found


def well_conditioned(expr: Expr, names: tuple[str, ...]) -> tuple[list[dict[str, float]],
                                                                   dict[str, np.ndarray]]:
    """The candidate points where every partial is defined, moderate and smooth, with
    its error scale S per partial. The exact reference decides definedness and
    smoothness (at the point and at x*(1 +- DELTA) for each variable); the float64
    forward walk must also stay real and finite, since the backends walk the same way."""
    rows: list[dict[str, float]] = []
    for point in CANDIDATES:
        base = {name: point[name] for name in names}
        rows.append(base)
        for name in names:
            for sign in (1, -1):
                moved = dict(base)
                moved[name] = base[name] * (1 + sign * DELTA)
                rows.append(moved)
    inputs = {name: np.array([r[name] for r in rows], dtype=np.float64) for name in names}
    ref = truth.reference(expr, inputs, names)
    stride = 1 + 2 * len(names)
    kept: list[dict[str, float]] = []
    scales: dict[str, list[float]] = {name: [] for name in names}
    for i in range(0, len(rows), stride):
        values = ref.values[i : i + stride]
        ok = bool(np.all(np.isfinite(values))) and abs(values[0]) <= HUGE
        found: dict[str, float] = {}
        for name in names:
            exact = ref.derivatives[name][i : i + stride]
            scale = error_scale(expr, rows[i], name) if ok else None
            ok = (scale is not None and bool(np.all(np.isfinite(exact)))
                  and abs(exact[0]) <= HUGE and scale <= HUGE
                  and bool(np.all(np.abs(exact[1:] - exact[0]) <= SMOOTH * abs(exact[0]))))
            if not ok:
                break
            assert scale is not None
            found[name] = scale
        if ok:
            kept.append(rows[i])
            for name in names:
                scales[name].append(found[name])
    return kept, {name: np.array(s) for name, s in scales.items()}


@pytest.mark.skipif(not FRAMEWORKS, reason="no autodiff framework installed")
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(expressions())
def test_backends_agree_with_the_exact_derivative(text: str) -> None:
    try:
        expr = parse(text)
    except ExpressionError:  # a constant part overflows or has a huge exponent
        assume(False)
        raise
    names = variables(expr)
    assume(names)
    points, scales = well_conditioned(expr, names)
    assume(points)
    inputs = {name: np.array([p[name] for p in points], dtype=np.float64) for name in names}
    ref = truth.reference(expr, inputs, names)
    for cls in FRAMEWORKS:
        if cls.unsupported(expr):  # no native op for a function: a row that says so
            continue
        if functions_of(expr) & KNOWN_INACCURATE.get(cls.name, frozenset()):
            continue
        try:
            result = cls().evaluate(expr, inputs, names, "float64")
        except Unsupported:  # the framework does not implement this derivative
            continue
        for name in names:
            computed = np.asarray(result.derivatives[name], dtype=np.float64)
            judged = errors(computed, ref.derivatives[name], ref.derivatives_lo[name],
                            "float64", Tolerance(rtol=RTOL, atol=0.0))
            bound = RTOL * scales[name]
            bad = np.flatnonzero(~(judged.absolute <= bound))
            note(f"{cls.name} d/d{name}: {computed} vs {ref.derivatives[name]}")
            assert bad.size == 0, (
                f"{cls.name} d/d{name} of {text} at {points[bad[0]]}: "
                f"{computed[bad[0]]!r}, exact {ref.derivatives[name][bad[0]]!r}, "
                f"error {judged.absolute[bad[0]]:.3g} > {bound[bad[0]]:.3g}"
            )


def test_error_scale_is_at_least_the_derivative() -> None:
    """The oracle's own check: S bounds |f'|, and equals it when nothing cancels."""
    expr = parse("sin(x)**2 + cos(x)**2")
    point = {"x": 0.7}
    scale = error_scale(expr, point, "x")
    assert scale is not None and math.isclose(scale, 4 * math.sin(0.7) * math.cos(0.7))
    assert error_scale(parse("x*x*x"), {"x": 2.0}, "x") == pytest.approx(12.0)
    assert error_scale(parse("log(x)"), {"x": -1.0}, "x") is None


# ------------------------------------------------------------ 2. clean errors, in-process


def mutations() -> st.SearchStrategy[str]:
    """Valid expressions with a few characters inserted, deleted or replaced: the near
    misses a user types, which reach the deepest error paths."""
    noise = st.sampled_from([*"()+-*/^.,=e0x _'[]{}#!×²\t\n", "**", "2x", "sin", "1e999"])

    @st.composite
    def mutated(draw: st.DrawFn) -> str:
        text = draw(expressions(max_leaves=8))
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(text)))
            action = draw(st.sampled_from(["insert", "delete", "replace"]))
            piece = draw(noise)
            if action == "insert":
                text = text[:at] + piece + text[at:]
            elif action == "delete":
                text = text[:at] + text[at + 1 :]
            else:
                text = text[:at] + piece + text[at + len(piece) :]
        return text

    return mutated()


@settings(max_examples=300, deadline=None)
@given(mutations())
def test_near_miss_expressions_parse_or_raise_expression_error(text: str) -> None:
    try:
        parse(text)
    except ExpressionError as error:
        assert error.render().startswith("error: ")


def points_text() -> st.SearchStrategy[str]:
    number = st.one_of(
        st.floats().map(repr), st.integers().map(str),
        st.from_regex(r"[-+]?[0-9_.]{0,8}([eE][-+]?[0-9]{0,4})?", fullmatch=True),
        st.sampled_from(["inf", "-nan", "1e400", "0x10", "1,5", "", " "]),
    )
    item = st.one_of(number, st.tuples(st.sampled_from(["x", "y", "z", " x ", ""]), number)
                     .map(lambda t: f"{t[0]}={t[1]}"))
    return st.one_of(st.lists(item, max_size=4).map(",".join), st.text(max_size=30))


@settings(max_examples=200, deadline=None)
@given(points_text(), st.sampled_from(["x", "x*y"]))
def test_any_point_text_builds_or_raises_input_error(text: str, expression: str) -> None:
    try:
        request = build_request(expression, [text], backends=("analytic",))
    except InputError as error:
        assert str(error) and "\n" not in str(error)
        return
    assert request.size == 1


KEYS = ["name", "description", "expression", "at", "range", "num", "step", "wrt", "dtype",
        "backends", "rtol", "atol", "max-ulps", "max_ulps", "timeout", "order", "mode",
        "strict", "expect", "plot", "format", "jobs", "verbose", "device", "no-isolate",
        "bogus"]


def _toml_float(value: float) -> str:
    return {math.inf: "inf", -math.inf: "-inf"}.get(value, "nan" if value != value
                                                     else repr(value))


def toml_documents() -> st.SearchStrategy[str]:
    """TOML-ish text: plausible keys and values, headers, and junk, in any order."""
    value = st.one_of(
        st.integers(-(10**20), 10**20).map(str),
        st.floats().map(_toml_float),
        st.text(max_size=16).map(json.dumps),
        st.sampled_from(['"x"', '"2*x**3 + 1"', '"sin(x"', '"x*y"', '"float64"', '"float8"',
                         '["analytic"]', '["torch", "nope"]', "[0.5, 1]", "[-4, 4]", "[4, -4]",
                         "{x = 1, y = 2}", '"x=1,y=2"', "true", "[[1]]", "{}", "[]",
                         '"out.png"', '"6*x**2"', "1e999", "10001"]),
        st.text(max_size=12),
    )
    line = st.one_of(
        st.tuples(st.sampled_from(KEYS), value).map(lambda kv: f"{kv[0]} = {kv[1]}"),
        st.sampled_from(["[defaults]", "[[case]]", "[case]", "[tool.gradcheck]", "[tool]",
                         'name = "s"', 'expression = "x"', "at = 1"]),
        st.text(max_size=24),
    )
    return st.lists(line, max_size=14).map("\n".join)


@contextmanager
def written(text: str | bytes, name: str) -> Iterator[Path]:
    """``text`` as the file ``name`` in a fresh folder (hypothesis runs many examples
    in one test call, so pytest's tmp_path would be shared)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        yield path


@settings(max_examples=150, deadline=None)
@given(toml_documents())
def test_any_suite_text_loads_or_raises_config_error(text: str) -> None:
    with written(text, "suite.toml") as path:
        try:
            loaded = load_suite(path)
        except ConfigError as error:
            assert error.render().startswith("error: ")
            return
    assert loaded.cases


@settings(max_examples=150, deadline=None)
@given(toml_documents(), st.sampled_from(["gradcheck.toml", "pyproject.toml"]))
def test_any_config_text_loads_or_raises_config_error(text: str, name: str) -> None:
    with written(text, name) as path:
        try:
            load_config(path)
        except ConfigError as error:
            assert error.render().startswith("error: ")


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_any_file_bytes_load_or_raise_config_error(data: bytes) -> None:
    with written(data, "suite.toml") as path, suppress(ConfigError):
        load_suite(path)


# ----------------------------------------------------------- 2. clean errors, the command

CLI_EXAMPLES = settings(max_examples=8, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def command(*args: str | bytes, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "autograd_cli", *args], capture_output=True,
                          env=env, cwd=cwd, timeout=120, stdin=subprocess.DEVNULL)


def assert_refused(result: subprocess.CompletedProcess[bytes], message: str = "") -> None:
    """Exit 2, the message on stderr, nothing on stdout, no traceback."""
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, (result.returncode, stderr[-1500:])
    assert result.stdout == b"", result.stdout[:500]
    assert "Traceback" not in stderr, stderr[-1500:]
    assert stderr.startswith("error: ") or "\nerror: " in stderr, stderr[:500]
    assert message in stderr, (message, stderr[:1500])


def _refused_in_process(call: Callable[[], Any]) -> str | None:
    """The message of the clean error ``call`` raises, or None if it succeeds."""
    try:
        call()
    except (ExpressionError, InputError, ConfigError) as error:
        return getattr(error, "message", None) or str(error)
    return None


@CLI_EXAMPLES
@given(st.text(min_size=1, max_size=60).filter(lambda s: "\x00" not in s))
def test_command_refuses_bad_expressions(text: str) -> None:
    message = _refused_in_process(lambda: build_request(text, ["1"], backends=("analytic",)))
    assume(message is not None)
    assert message is not None
    assert_refused(command("--at", "1", "--backends", "analytic", "--", text), message)


@CLI_EXAMPLES
@given(st.binary(min_size=1, max_size=60).filter(lambda b: b"\x00" not in b))
def test_command_refuses_bad_bytes(data: bytes) -> None:
    text = os.fsdecode(data)
    assume(_refused_in_process(lambda: build_request(text, ["1"], backends=("analytic",))))
    assert_refused(command("--at", "1", "--backends", "analytic", "--", data))


@CLI_EXAMPLES
@given(points_text().filter(lambda s: "\x00" not in s))
def test_command_refuses_bad_points(text: str) -> None:
    message = _refused_in_process(lambda: build_request("x*y", [text], backends=("analytic",)))
    assume(message is not None)
    assert message is not None
    assert_refused(command("x*y", "--at", text, "--backends", "analytic"), message)


def range_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.floats().map(repr),
        st.from_regex(r"[-+]?[0-9_.]{0,6}([eE][-+]?[0-9]{0,3})?", fullmatch=True),
        st.text(max_size=10),
    ).filter(lambda s: "\x00" not in s)


@CLI_EXAMPLES
@given(range_text(), range_text(), st.sampled_from([None, "3", "0", "1e12", "x", "2.5"]))
def test_command_refuses_bad_ranges(start: str, stop: str, num: str | None) -> None:
    from autograd_cli.comparison import sweep

    def build() -> None:
        sweep.build_sweep("x", (start, stop), num=num, backends=("analytic",))

    message = _refused_in_process(build)
    assume(message is not None)
    args = ["x", "--range", start, stop, "--backends", "analytic"]
    assert_refused(command(*args, *(["--num", num] if num is not None else [])))


@CLI_EXAMPLES
@given(toml_documents())
def test_command_refuses_bad_config_files(text: str) -> None:
    with written(text, "gradcheck.toml") as path:
        message = _refused_in_process(lambda: load_config(path))
        assume(message is not None)
        assert message is not None
        result = command("x", "--at", "1", "--backends", "analytic", cwd=path.parent)
        assert_refused(result, message.splitlines()[0])
        assert sorted(p.name for p in path.parent.iterdir()) == ["gradcheck.toml"]


@CLI_EXAMPLES
@given(toml_documents())
def test_command_refuses_bad_suite_files(text: str) -> None:
    with written(text, "suite.toml") as path:
        message = _refused_in_process(lambda: load_suite(path))
        assume(message is not None)
        assert message is not None
        junit = path.parent / "out.xml"
        result = command("suite", str(path), "--junit", str(junit), cwd=path.parent)
        assert_refused(result, message.splitlines()[0])
        assert not junit.exists()
