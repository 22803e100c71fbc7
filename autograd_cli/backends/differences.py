"""The numerics of finite differences, in numpy: the ops tables (real and complex),
the complex step, central differences with Richardson extrapolation over a ladder of
steps, and each one's error estimate. :mod:`.finite_diff` is the backend that uses them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograd_cli.backends.numpy_functions import NOT_ANALYTIC as NOT_ANALYTIC
from autograd_cli.backends.numpy_functions import complex_functions, real_functions
from autograd_cli.core.dtypes import HALF_FORMATS, finfo, numpy_dtype, round_to
from autograd_cli.core.model import partial_of
from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.nodes import Binary, Call, Expr, Unary, Var
from autograd_cli.expr.walk import lower, num_as_float

#: The complex step per dtype: powers of two, so dividing by h is exact, and small
#: enough that the truncation error (h**2 f'''/6) is far below the dtype's eps while
#: h * f' stays clear of underflow.
COMPLEX_STEPS: dict[str, int] = {"float32": -33, "float64": -66}


#: Richardson weights for central differences at h, h/2, h/4 (errors in h**2, h**4):
#: R = (D(h) - 20 D(h/2) + 64 D(h/4)) / 45.
RULE: np.ndarray = np.array([1.0, -20.0, 64.0]) / 45.0

#: Student's t at 97.5% with one degree of freedom, times the rule's noise gain:
#: numdifftools' safety factor on the difference of two extrapolations.
SAFETY: float = 12.7062047361747 * math.sqrt(float(np.sum(RULE**2)))

#: What each rounded node of the complex step may add to the derivative's error, in
#: eps of the tangent magnitude flowing through it: numpy's complex functions are
#: good to a few ulps, and sigmoid is four ops. The test corpus needs 1.6.
ROUNDING_EPS = 4

#: NaN in both parts: the complex step reads the imaginary one.
_NAN = complex(math.nan, math.nan)

#: Points per slab, so that the step ladder never makes huge temporaries.
_CHUNK = 1 << 16


def numpy_ops(dtype: str) -> dict[str, Callable[..., Any]]:
    """Every op as numpy spells it (the activation and special functions:
    :mod:`.numpy_functions`); constants are scalars of ``dtype``. :func:`complex_ops`
    starts from the same table (numpy's ufuncs take both)."""
    one = numpy_dtype(dtype).type(1)

    def constant(value: float) -> Any:
        return round_to(value, dtype)[()]

    ops: dict[str, Callable[..., Any]] = {
        "num": lambda v: constant(num_as_float(v)),
        "pi": lambda: constant(math.pi),
        "e": lambda: constant(math.e),
        "neg": np.negative,
        "pos": np.positive,
        "add": np.add,
        "sub": np.subtract,
        "mul": np.multiply,
        "div": np.divide,
        "pow": np.power,
        "sin": np.sin,
        "cos": np.cos,
        "tan": np.tan,
        "asin": np.arcsin,
        "acos": np.arccos,
        "atan": np.arctan,
        "sinh": np.sinh,
        "cosh": np.cosh,
        "tanh": np.tanh,
        "exp": np.exp,
        "log": np.log,
        "log2": np.log2,
        "log10": np.log10,
        "sqrt": np.sqrt,
        "abs": np.abs,
        "sigmoid": lambda a: one / (one + np.exp(-a)),
    }
    return ops | real_functions(dtype)


def _real_only(func: Callable[[Any], Any], inside: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``func`` on complex arguments, NaN where the real part lies outside the real
    function's open domain: there numpy's complex branch would give a value (and a
    nonsense derivative) where the real function has none."""

    def op(z: Any) -> Any:
        return np.where(inside(z), func(z), _NAN)

    return op


def _complex_pow(a: Any, b: Any) -> Any:
    """``a ** b`` off the real line; a negative base needs a real integer exponent."""
    b_real, b_imag = np.real(b), np.imag(b)
    integer = (b_imag == 0) & (b_real == np.floor(b_real))
    positive = np.real(a) > 0
    constant_zero = (np.real(a) == 0) & (np.imag(a) == 0)
    return np.where(positive | integer | constant_zero, np.power(a, b), _NAN)


def complex_ops(dtype: str) -> dict[str, Callable[..., Any]]:
    """:func:`numpy_ops` for the complex step: the same ops, with real-domain guards
    on those whose complex continuation crosses a branch cut."""
    ops = numpy_ops(dtype)

    def exact_zero(z: Any) -> Any:
        return (np.real(z) == 0) & (np.imag(z) == 0)

    def positive(z: Any) -> Any:
        return np.real(z) > 0

    def open_unit(z: Any) -> Any:
        return (np.abs(np.real(z)) < 1) | ((np.imag(z) == 0) & (np.abs(np.real(z)) <= 1))

    ops.update(
        log=_real_only(np.log, positive),
        log2=_real_only(np.log2, positive),
        log10=_real_only(np.log10, positive),
        sqrt=_real_only(np.sqrt, lambda z: positive(z) | exact_zero(z)),
        asin=_real_only(np.arcsin, open_unit),
        acos=_real_only(np.arccos, open_unit),
        pow=_complex_pow,
    )
    ops.update(complex_functions(dtype))
    return ops


def uses(expr: Expr, names: frozenset[str]) -> bool:
    """Whether ``expr`` calls any function in ``names``."""
    if isinstance(expr, Call):
        return expr.func in names or any(uses(arg, names) for arg in expr.args)
    if isinstance(expr, Unary):
        return uses(expr.operand, names)
    if isinstance(expr, Binary):
        return uses(expr.left, names) or uses(expr.right, names)
    return False


@dataclass(frozen=True)
class Estimate:
    """A derivative per point, its estimated absolute error, and the step used."""

    derivative: np.ndarray
    error: np.ndarray
    step: np.ndarray


def complex_step(
    expr: Expr, inputs: Mapping[str, np.ndarray], var: str, dtype: str
) -> Estimate:
    """``Im f(x + ih) / h`` in the complex dtype as wide as ``dtype``.

    Truncation is nil at this h; the error is rounding, as in forward-mode AD, and a
    derivative that is a small sum of large terms loses digits to cancellation. The
    estimate is a first-order running error bound, :data:`ROUNDING_EPS` eps for each
    rounded node times the sum of the absolute values of the chain rule's terms
    (:func:`tangent_magnitude`), and at least the safety factor times the spread
    between two steps (which catches a step that underflows or is too large).
    """
    cdt = np.result_type(np.dtype(dtype), np.complex64)
    eps = float(np.finfo(dtype).eps)
    ops = complex_ops(dtype)
    h = math.ldexp(1.0, COMPLEX_STEPS[dtype])
    n = len(inputs[var])
    results = []
    for step in (h, 0.75 * h):
        env: dict[str, Any] = dict(inputs)
        env[var] = np.asarray(inputs[var]).astype(cdt) + cdt.type(1j * step)
        with np.errstate(all="ignore"):
            result = np.imag(lower(expr, ops, env)).astype(np.float64) / step
        results.append(np.broadcast_to(result, (n,)))
    d, d2 = results
    with np.errstate(all="ignore"):
        magnitude = tangent_magnitude(expr, inputs, var)
        rounding = ROUNDING_EPS * _rounded_nodes(expr) * eps * magnitude
        error = np.maximum(SAFETY * np.abs(d - d2), rounding)
    return Estimate(d.copy(), error, np.full(n, h))


def _rounded_nodes(expr: Expr) -> int:
    """Nodes whose result is rounded: every op, function, literal and constant."""
    if isinstance(expr, Call):
        return 1 + sum(_rounded_nodes(arg) for arg in expr.args)
    if isinstance(expr, Unary):
        return 1 + _rounded_nodes(expr.operand)
    if isinstance(expr, Binary):
        return 1 + _rounded_nodes(expr.left) + _rounded_nodes(expr.right)
    return 0 if isinstance(expr, Var) else 1


Pair = tuple[Any, Any]


def tangent_magnitude(expr: Expr, inputs: Mapping[str, np.ndarray], var: str) -> np.ndarray:
    """Forward mode on absolute values, in float64: at each node the sum of
    ``|partial| * |tangent|`` over its arguments. The rounding error of a tangent is
    a few eps of this sum, not of the tangent itself, which cancellation can make
    far smaller."""
    real = numpy_ops("float64")
    slope = complex_ops("float64")
    h = math.ldexp(1.0, COMPLEX_STEPS["float64"])

    def function(name: str) -> Callable[..., Pair]:
        """A function of the grammar: its inputs are pairs, its parameters Fractions;
        each input's partial by the complex step in that input alone."""
        arity = FUNCTIONS[name].arity

        def op(*args: Any) -> Pair:
            pairs, params = args[:arity], args[arity:]
            values = [np.asarray(a) for a, _ in pairs]
            total: Any = 0.0
            for i, (_, m) in enumerate(pairs):
                moved = [v + 1j * h if j == i else v + 0j for j, v in enumerate(values)]
                derivative = np.imag(slope[name](*moved, *params)) / h
                total = total + np.abs(derivative) * m
            return real[name](*values, *params), total

        return op

    def constant(value: Any) -> Pair:
        return np.float64(value), 0.0

    def div(p: Pair, q: Pair) -> Pair:
        (a, m), (b, k) = p, q
        return a / b, m / np.abs(b) + np.abs(a) * k / (b * b)

    def power(p: Pair, q: Pair) -> Pair:
        (a, m), (b, k) = p, q
        value = np.power(a, b)
        through_base = np.abs(b * np.power(a, b - 1)) * m
        through_exponent = np.where(k == 0, 0.0, np.abs(value * np.log(np.abs(a))) * k)
        return value, through_base + through_exponent

    ops: dict[str, Callable[..., Pair]] = {
        name: function(name) for name in FUNCTIONS
    }
    ops.update(
        num=lambda v: constant(real["num"](v)),
        pi=lambda: constant(math.pi),
        e=lambda: constant(math.e),
        neg=lambda p: (-p[0], p[1]),
        pos=lambda p: p,
        add=lambda p, q: (p[0] + q[0], p[1] + q[1]),
        sub=lambda p, q: (p[0] - q[0], p[1] + q[1]),
        mul=lambda p, q: (p[0] * q[0], np.abs(p[0]) * q[1] + np.abs(q[0]) * p[1]),
        div=div,
        pow=power,
    )
    n = len(inputs[var])
    env = {
        name: (np.asarray(a, dtype=np.float64), np.full(n, float(name == var)))
        for name, a in inputs.items()
    }
    return np.broadcast_to(lower(expr, ops, env)[1], (n,)).astype(np.float64)


def step_ladder(dtype: str, order: int = 1) -> np.ndarray:
    """Steps for central differences, in units of the point's scale: powers of two
    from a little above the optimum for the extrapolated rule (eps**(1/7), for order N
    eps**(1/(6+N))) down to well below that of plain central differences (eps**(1/3),
    eps**(1/(2+N))). The 2-byte formats' ladders are short and start near 1, so they
    go 4 steps further down, to keep points below 1 (log(0.1)) clear of the domain's
    edge; higher orders, whose stencils reach N steps out, go 2 more per order."""
    bits = math.log2(float(finfo(dtype).eps))
    top = math.floor(bits / (6 + order)) + 2
    bottom = math.floor(bits / (2 + order)) - 2 - (4 if dtype in HALF_FORMATS else 0)
    bottom -= 2 * (order - 1)  # a wider stencil: more small steps, as for half formats
    return np.ldexp(1.0, np.arange(top, bottom - 1, -1))


def central_differences(
    expr: Expr, inputs: Mapping[str, np.ndarray], var: str, dtype: str
) -> Estimate:
    """Richardson-extrapolated central differences, the step chosen per point.

    For each step h of :func:`step_ladder` (scaled by the power of two at or below
    ``max(1, |x|)``), D(h) = (f(x+h) - f(x-h)) / (x+h - (x-h)) with the steps as
    rounded, so the rounding of x +- h costs nothing. R(h) combines D(h), D(h/2),
    D(h/4) to cancel the h**2 and h**4 terms. The error of R(h) is estimated as in
    numdifftools: the safety factor times |R(h) - R(h/2)| plus the gap to the once
    extrapolated value, floored at a rounding term; the R with the smallest estimate
    is the answer.

    ``var`` may be a label of a higher derivative ("x,x", "x,y"): D(h) is then the
    central difference applied once per variable, k times to a variable named k times
    (nodes x + (2j - k)h, j = 0..k, on a grid over the partial's variables), computed
    as k! times the divided difference over the nodes as rounded. Its error is still a
    series in h**2, so the same extrapolation applies; the rounding of f now enters
    with 1/h**N.
    """
    x = np.asarray(inputs[partial_of(var)[0]])
    n = len(x)
    derivative = np.empty(n)
    error = np.empty(n)
    step = np.empty(n)
    nodes = math.prod(k + 1 for k in _counts(var).values())
    chunk_size = max(1, 2 * _CHUNK // nodes)
    for start in range(0, n, chunk_size):
        part = slice(start, min(start + chunk_size, n))
        chunk = {name: np.asarray(a)[part] for name, a in inputs.items()}
        derivative[part], error[part], step[part] = _central_chunk(expr, chunk, var, dtype)
    for shift in _EDGE_SHIFTS:  # near a domain edge every step of the ladder crosses it
        retry = np.flatnonzero(np.isnan(derivative))
        if not retry.size:
            break
        chunk = {name: np.asarray(a)[retry] for name, a in inputs.items()}
        found = _central_chunk(expr, chunk, var, dtype, shift)
        derivative[retry], error[retry], step[retry] = found
    return Estimate(derivative, error, step)


#: Ladders moved this many powers of two down, tried in turn for points where the
#: whole ladder gave nothing (erfinv at 0.999 in float32: every step but the smallest
#: reaches past 1): smaller steps cost accuracy, which the estimate then says.
_EDGE_SHIFTS = (6, 12)


def _counts(var: str) -> dict[str, int]:
    """How many times the label differentiates by each of its variables, in order."""
    counts: dict[str, int] = {}
    for name in partial_of(var):
        counts[name] = counts.get(name, 0) + 1
    return counts


def _divided(values: np.ndarray, nodes: np.ndarray, axis: int) -> np.ndarray:
    """k! times the divided difference of ``values`` along ``axis`` over ``nodes``
    (k + 1 of them, first axis): the k-th derivative's difference quotient, exact in
    its own arithmetic even where rounding left the nodes unevenly spaced."""
    k = nodes.shape[0] - 1
    table = [np.take(values, j, axis=axis) for j in range(k + 1)]
    for level in range(1, k + 1):
        table = [(table[j + 1] - table[j]) / (nodes[j + level] - nodes[j])
                 for j in range(k + 1 - level)]
    return table[0] * math.factorial(k)


def _central_chunk(
    expr: Expr, inputs: Mapping[str, np.ndarray], var: str, dtype: str, shift: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ops = numpy_ops(dtype)
    eps = float(finfo(dtype).eps)
    counts = _counts(var)
    order = sum(counts.values())
    ladder = np.ldexp(step_ladder(dtype, order), -shift)
    n = len(inputs[partial_of(var)[0]])
    with np.errstate(all="ignore"):
        env: dict[str, Any] = {name: np.asarray(a) for name, a in inputs.items()}
        nodes: list[np.ndarray] = []
        steps: list[np.ndarray] = []
        for axis, (name, k) in enumerate(counts.items()):
            x = np.asarray(inputs[name]).astype(np.float64)
            scale = np.exp2(np.floor(np.log2(np.maximum(np.abs(x), 1.0))))
            h = ladder[:, None] * scale[None, :]
            offsets = np.arange(-k, k + 1, 2, dtype=np.float64)[:, None, None]
            at = round_to(x + offsets * h, dtype)
            shape = [1] * len(counts) + list(h.shape)
            shape[axis] = k + 1
            env[name] = at.reshape(shape)
            nodes.append(at.astype(np.float64))
            steps.append(h)
        grid = [k + 1 for k in counts.values()] + [len(ladder), n]
        values = np.broadcast_to(lower(expr, ops, env), grid).astype(np.float64)
        d = values
        for axis in reversed(range(len(counts))):
            d = _divided(d, nodes[axis], axis)
        h = steps[0]
        once = (4 * d[1:] - d[:-1]) / 3
        twice = (16 * once[1:] - once[:-1]) / 15
        # The rounding of f (about eps |f|) enters through each of the three quotients.
        f_size = np.max(np.abs(values), axis=tuple(range(len(counts))))
        noise = eps * f_size * 2.0 ** (order - 1)
        for width, k in zip(steps, counts.values(), strict=True):
            noise = noise / (2 * width) ** k
        rounding = np.abs(RULE[0]) * noise[:-2] + np.abs(RULE[1]) * noise[1:-1]
        rounding += np.abs(RULE[2]) * noise[2:]
        spread = np.abs(twice[:-1] - twice[1:]) + np.abs(twice[:-1] - once[1:-1])
        estimate = SAFETY * spread + 10 * rounding[:-1]
        estimate = np.maximum(estimate, 10 * eps * SAFETY * np.abs(twice[:-1]))
        usable = np.isfinite(estimate) & np.isfinite(twice[:-1])
        estimate = np.where(usable, estimate, np.inf)
        best = np.argmin(estimate, axis=0)
        columns = np.arange(n)
        chosen = twice[best, columns]
        chosen_error = estimate[best, columns]
        found = np.isfinite(chosen_error)
        return (
            np.where(found, chosen, np.nan),
            np.where(found, chosen_error, np.nan),
            h[best, columns],
        )
