"""The exact reference for sweeps: millions of points in seconds, not minutes.

Why not :func:`~.point.reference`: it evaluates every point in adaptive mpmath, about
50 µs per point and function, so a 10^6-point sweep would wait a minute for its truth.
Here the same SymPy trees (f and its partials, never ``lambdify``) are walked once into
a program over numpy arrays that computes, for all points of a block at once:

* ``+ - * /``, integer powers and square roots in double-double arithmetic (a pair of
  float64, ~106 bits) built from error-free transformations: two-sum and Dekker's
  two-product with Veltkamp splitting (numpy has no FMA);
* every other function (sin, exp, log, atan, powl for x**(1/3), ...) in numpy's
  ``longdouble`` (x87 80-bit on x86-64: a 64-bit mantissa), on the double-double
  argument rounded to 64 bits plus a first-order correction ``f'(u)·(u - u64)``, so the
  argument's extra bits are not lost;
* with every value, a running bound on its absolute error (rounding of each operation,
  libm's error taken as 1 to 4 long-double ULPs by function, inputs' errors propagated
  through |f'|, second-order terms through |f''|), and flags for points whose result is
  certainly NaN (sqrt(-1), asin(2): the real-function semantics of the mpmath
  reference) or cannot be trusted (overflow, a discontinuity or a domain edge within
  the error bound).

The special functions (erf, erfc, erfinv, digamma) are first taken from scipy in
float64, which a float32 sweep's 48 bits mostly accept; only the block's points left
short are evaluated again with the refined program (erf's double-double series,
erfinv's Newton step, digamma's series about its zeros), so a float32 sweep pays
for the refinement only where it is needed.

A point is accepted when its bound is at most 2**-bits of its value (:data:`ACCEPT_BITS`
by dtype), or it is an exact zero, or certainly NaN; every other point, typically a few
near a zero of the result where cancellation eats the relative accuracy, is recomputed
with the exact adaptive mpmath :func:`~.point.reference`. So every point's reference is
right to that many bits or better, for float32 and float64 sweeps alike.

Where ``longdouble`` is no wider than float64 (MSVC, some ARM builds) the functions are
evaluated per point in mpmath instead (slower; :data:`FUNCTIONS_IN_MPMATH` says so).

This module compiles the SymPy trees and runs the sweep; the arithmetic is
:mod:`~autograd_cli.truth.double_double`, the functions
:mod:`~autograd_cli.truth.dd_functions`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_cli.expr.nodes import Expr
from autograd_cli.truth import mpmath_ops, point, symbolic
from autograd_cli.truth.dd_functions import (
    FUNCTIONS,
    LONG_DOUBLE_BITS,
    RECIPROCALS,
    DDFunction,
    apply_function,
    power,
)
from autograd_cli.truth.deadline import Deadline
from autograd_cli.truth.double_double import (
    Value,
    absolute,
    add,
    div,
    integer_power,
    mul,
    sqrt,
    step_function,
    two_prod,
    two_sum,
)
from autograd_cli.truth.vectorized_special import erf_complement, softplus_forms, special_node

if TYPE_CHECKING:
    import sympy

#: A point is accepted when its error bound is at most 2**-bits of its value: far
#: beyond float32's 24 bits (and float16's 11, bfloat16's 8), and 5 bits beyond
#: float64's 53 (a ULP error is then known to 1/32 ULP).
ACCEPT_BITS: dict[str, int] = {"float16": 48, "bfloat16": 48, "float32": 48, "float64": 58}

#: Whether function values come from per-point mpmath because long double is too narrow.
FUNCTIONS_IN_MPMATH = LONG_DOUBLE_BITS < 64

#: Points per block: big enough that numpy's per-call overhead vanishes, small enough
#: that the ~30 temporaries of a double-double operation stay in cache.
BLOCK = 1 << 15


def _apply(function: DDFunction, x: Value) -> Value:
    """f(x) in double-double, as :func:`~.dd_functions.apply_function` computes it, with
    :data:`FUNCTIONS_IN_MPMATH` read here at each call (a test switches it)."""
    return apply_function(function, x, in_mpmath=FUNCTIONS_IN_MPMATH)


def _power(base: Value, exponent: Value) -> Value:
    """base**exponent for a non-integer or variable exponent, as
    :func:`~.dd_functions.power` computes it, with :data:`FUNCTIONS_IN_MPMATH` read here."""
    return power(base, exponent, in_mpmath=FUNCTIONS_IN_MPMATH)


# --------------------------------------------------------------------------- compiling


class Unsupported(Exception):
    """A SymPy node with no vectorized rule: the caller falls back to mpmath."""


Step = Callable[..., Value]


class Program:
    """SymPy trees compiled once into a list of array operations (a subtree shared by
    f and its partials is one step); :meth:`run` evaluates them over one block."""

    def __init__(self, targets: Mapping[str, sympy.Basic], *, precise: bool = True) -> None:
        self.steps: list[tuple[Step, tuple[int, ...]]] = []
        self._seen: dict[Any, int] = {}
        #: False: the special functions as scipy gives them (float64, cheap); True:
        #: refined where float64 falls short (erf's series, erfinv's Newton step,
        #: digamma's zeros). ``refinable``: whether the expression has such a node.
        self.precise = precise
        self.refinable = False
        self.outputs = {key: self._node(compiled_form(e)) for key, e in targets.items()}

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, Value]:
        values: list[Value] = []
        with np.errstate(all="ignore"):
            for op, args in self.steps:
                values.append(op(inputs, *(values[i] for i in args)))
        return {key: values[i] for key, i in self.outputs.items()}

    def _emit(self, key: Any, op: Step, *args: int) -> int:
        self.steps.append((op, args))
        self._seen[key] = len(self.steps) - 1
        return len(self.steps) - 1

    def _node(self, e: sympy.Basic) -> int:
        import sympy

        if e in self._seen:
            return self._seen[e]
        if isinstance(e, sympy.Symbol):
            name = e.name
            return self._emit(e, lambda inputs: Value(inputs[name], 0.0, 0.0))
        if not e.free_symbols:
            constant = _constant(e)
            return self._emit(e, lambda inputs: constant)
        if isinstance(e, (sympy.Add, sympy.Mul)):
            combine = add if isinstance(e, sympy.Add) else mul
            args = sorted(e.args, key=lambda a: (bool(a.free_symbols), sympy.default_sort_key(a)))
            index = self._node(args[0])
            for arg in args[1:]:
                index = self._emit(
                    ("partial", e, index, arg),
                    lambda inputs, a, b, f=combine: f(a, b),
                    index,
                    self._node(arg),
                )
            self._seen[e] = index
            return index
        if isinstance(e, sympy.Pow):
            return self._pow(e)
        name = type(e).__name__.lower()
        if name in FUNCTIONS and len(e.args) == 1:
            return self._emit(
                e, lambda inputs, x, f=FUNCTIONS[name]: _apply(f, x), self._node(e.args[0])
            )
        if name in RECIPROCALS and len(e.args) == 1:
            how, inner = RECIPROCALS[name]
            g = FUNCTIONS[inner]
            if how == "of":
                value = self._emit(
                    ("of", e), lambda inputs, x, f=g: _apply(f, x), self._node(e.args[0])
                )
                return self._emit(
                    e, lambda inputs, x: div(Value(1.0, 0.0, 0.0), x, zero_is_nan=False), value
                )
            flipped = self._emit(
                ("arg", e),
                lambda inputs, x: div(Value(1.0, 0.0, 0.0), x, zero_is_nan=False),
                self._node(e.args[0]),
            )
            return self._emit(e, lambda inputs, x, f=g: _apply(f, x), flipped)
        if name == "abs" and len(e.args) == 1:
            return self._emit(e, lambda inputs, x: absolute(x), self._node(e.args[0]))
        if name in ("sign", "heaviside") or (name == "diracdelta" and len(e.args) == 1):
            operands = [self._node(a) for a in e.args]
            return self._emit(e, lambda inputs, *xs, k=name: step_function(k, *xs), *operands)
        found = special_node(self, e)
        if found is not None:
            return found
        raise Unsupported(f"no vectorized rule for SymPy's {type(e).__name__}")

    def _pow(self, e: sympy.Pow) -> int:
        import sympy

        base = self._node(e.base)
        exponent = e.exp
        if isinstance(exponent, sympy.Integer):
            n = int(exponent)
            return self._emit(e, lambda inputs, x: integer_power(x, n), base)
        if isinstance(exponent, sympy.Rational) and exponent.q == 2 and abs(exponent.p) > 1:
            # x**(k/2) as sqrt(x)**k: no powl; 0**(-k/2) is NaN either way
            root = self._emit(("sqrt", e.base), lambda inputs, x: sqrt(x), base)
            k = int(exponent.p)
            return self._emit(e, lambda inputs, x: integer_power(x, k), root)
        if exponent == sympy.S.Half:
            return self._emit(e, lambda inputs, x: sqrt(x), base)
        if exponent == -sympy.S.Half:
            return self._emit(
                e, lambda inputs, x: div(Value(1.0, 0.0, 0.0), sqrt(x), zero_is_nan=True), base
            )
        return self._emit(e, lambda inputs, b, x: _power(b, x), base, self._node(exponent))


def _constant(e: sympy.Basic) -> Value:
    """A subtree without symbols, exact for rationals, else from 256-bit mpmath; the
    rounding to a double-double is its error."""
    import mpmath
    import sympy

    if isinstance(e, sympy.Rational):
        exact = Fraction(int(e.p), int(e.q))
        try:
            hi = float(exact)
            lo = float(exact - Fraction(hi))
        except OverflowError:
            return Value(math.inf if exact > 0 else -math.inf, 0.0, 0.0, unsure=True)
        rest = abs(exact - Fraction(hi) - Fraction(lo))
        return Value(hi, lo, 0.0 if rest == 0 else float(rest) * 2)
    with mpmath.workprec(256):
        value = mpmath_ops.mp_real(mpmath_ops.compile_mpmath(e)({}))
        hi, lo = point.double_double(value)
        if math.isnan(hi):
            return Value(hi, 0.0, 0.0, nan=True)
        if not math.isfinite(hi):
            return Value(hi, 0.0, 0.0, unsure=True)
        rest = abs(value - mpmath.mpf(hi) - mpmath.mpf(lo))
    return Value(hi, lo, float(rest) * 2 + abs(hi) * 2.0**-240)


def compiled_form(e: sympy.Basic) -> sympy.Basic:
    """The tree the program evaluates: ``e`` with the forms that cancel or cost
    several long double calls rewritten (the same function; the text shown stays
    SymPy's)."""
    return softplus_forms(_rewrite(e))


def _rewrite(e: sympy.Basic) -> sympy.Basic:
    """SymPy writes tanh' as ``c - c*tanh(u)**2``, which cancels to nothing once
    tanh(u) rounds to ±1 (|u| > 22); ``c*sech(u)**2`` is the same function without the
    cancellation. Only our compiled copy changes; the text shown is SymPy's."""
    import sympy

    if not e.args:
        return e
    args = [_rewrite(a) for a in e.args]
    if isinstance(e, sympy.Add):
        complemented = erf_complement(args)
        if complemented is not None:
            return sympy.Add(*complemented, evaluate=False)
        for term in args:
            if not isinstance(term, sympy.Mul):
                continue
            rest = [a for a in term.args if not a.is_Number]
            if not (
                len(rest) == 1
                and isinstance(rest[0], sympy.Pow)
                and rest[0].exp == 2
                and isinstance(rest[0].base, sympy.tanh)
            ):
                continue
            coefficient = sympy.Mul(*[a for a in term.args if a.is_Number])
            number = next((a for a in args if a.is_Number and a == -coefficient), None)
            if number is None:
                continue
            others = [a for a in args if a is not term and a is not number]
            sech = sympy.Mul(number, sympy.Pow(sympy.sech(rest[0].base.args[0]), 2), evaluate=False)
            return sympy.Add(*others, sech, evaluate=False) if others else sech
    if all(a is b for a, b in zip(args, e.args, strict=True)):
        return e
    return e.func(*args, evaluate=False)


# --------------------------------------------------------------------------- public API


@dataclass
class SweepTruth:
    """The exact f (when asked for) and partials at one chunk's points, as float64
    double-doubles, and how many points had to be recomputed in mpmath."""

    values: tuple[np.ndarray, np.ndarray] | None
    derivatives: dict[str, tuple[np.ndarray, np.ndarray]]
    recomputed: int = 0


class SweepReference:
    """The vectorized reference for one expression: compiled once, called per chunk.

    ``values=False`` skips f itself (a summary needs only the derivatives). If the
    expression holds a node with no vectorized rule, :attr:`fallback` says why and
    every point goes to mpmath.
    """

    def __init__(
        self, expr: Expr, wrt: tuple[str, ...], *, values: bool = True, bits: int = 58
    ) -> None:
        self.expr = expr
        self.wrt = wrt  # labels: "x", "x,x", "x,y"
        self.values = values
        self.bits = bits
        self._limit = 2.0**-bits * (1 - 2.0**-40)  # the bound's own float64 rounding
        f = symbolic.to_sympy(expr)
        partials = {name: symbolic.differentiate(f, name) for name in wrt}
        self.expression = symbolic.format_sympy(f)
        self.derivative_expressions = {k: symbolic.format_sympy(v) for k, v in partials.items()}
        targets = {f"d{k}": v for k, v in partials.items()}
        if values:
            targets["f"] = f
        self.fallback: str | None = None
        self.program: Program | None = None
        self.refined: Program | None = None
        try:
            self.program = Program(targets, precise=False)
            if self.program.refinable:
                self.refined = Program(targets, precise=True)
        except Unsupported as error:
            self.fallback = str(error)

    def __call__(
        self, inputs: Mapping[str, np.ndarray], *, deadline: Deadline | None = None
    ) -> SweepTruth:
        """Inputs: one float64 array per variable (the points as the backends saw them).
        With a ``deadline``, raises ReferenceTimeout rather than run past it."""
        n = len(next(iter(inputs.values())))
        keys = ([] if not self.values else ["f"]) + [f"d{k}" for k in self.wrt]
        hi = {key: np.empty(n) for key in keys}
        lo = {key: np.empty(n) for key in keys}
        accepted = np.ones(n, dtype=bool)
        columns = {name: np.ascontiguousarray(a, dtype=np.float64) for name, a in inputs.items()}
        if self.program is None:
            accepted[:] = False
        else:
            for start in range(0, n, BLOCK):
                if deadline is not None:
                    deadline.doing = f"double-double reference, {start:,} of {n:,} points done"
                    deadline.check()
                stop = min(start + BLOCK, n)
                block = {name: a[start:stop] for name, a in columns.items()}
                results = self.program.run(block)
                for key in keys:
                    h, low, ok = _accept(results[key], stop - start, self._limit)
                    hi[key][start:stop] = h
                    lo[key][start:stop] = low
                    accepted[start:stop] &= ok
                if self.refined is not None:
                    self._refine(self.refined, block, start, keys, hi, lo, accepted)
        redo = np.flatnonzero(~accepted)
        if redo.size:
            ref = point.reference(
                self.expr,
                {name: a[redo] for name, a in columns.items()},
                self.wrt,
                deadline=deadline,
            )
            if self.values:
                hi["f"][redo], lo["f"][redo] = ref.values, ref.values_lo
            for k in self.wrt:
                hi[f"d{k}"][redo], lo[f"d{k}"][redo] = ref.derivatives[k], ref.derivatives_lo[k]
        return SweepTruth(
            values=(hi["f"], lo["f"]) if self.values else None,
            derivatives={k: (hi[f"d{k}"], lo[f"d{k}"]) for k in self.wrt},
            recomputed=int(redo.size),
        )

    def _refine(
        self,
        program: Program,
        block: Mapping[str, np.ndarray],
        start: int,
        keys: list[str],
        hi: dict[str, np.ndarray],
        lo: dict[str, np.ndarray],
        accepted: np.ndarray,
    ) -> None:
        """The block's points that scipy's float64 special functions left short of the
        target, again with the refined program (a float32 sweep rarely needs it)."""
        n = len(next(iter(block.values())))
        index = np.flatnonzero(~accepted[start : start + n])
        if not index.size:
            return
        results = program.run({name: a[index] for name, a in block.items()})
        ok = np.ones(index.size, dtype=bool)
        for key in keys:
            h, low, good = _accept(results[key], index.size, self._limit)
            hi[key][start + index] = h
            lo[key][start + index] = low
            ok &= good
        accepted[start + index] = ok


def _accept(v: Value, n: int, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block's (hi, lo) and which points meet the accuracy target."""
    shape = (n,)
    hi = np.broadcast_to(np.asarray(v.hi, dtype=np.float64), shape)
    lo = np.broadcast_to(np.asarray(v.lo, dtype=np.float64), shape)
    err = np.broadcast_to(np.asarray(v.err, dtype=np.float64), shape)
    with np.errstate(all="ignore"):
        ok = np.isfinite(hi) & np.isfinite(lo) & (err <= limit * np.abs(hi))
    if v.nan is not None:
        ok = ok | np.broadcast_to(v.nan, shape)
    if v.unsure is not None:
        ok = ok & ~np.broadcast_to(v.unsure, shape)
    return hi, np.where(np.isfinite(hi), lo, 0.0), ok


def reference(
    expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], *, bits: int = 58
) -> point.Reference:
    """What :func:`autograd_cli.truth.point.reference` gives, to ``bits`` bits, vectorized."""
    evaluator = SweepReference(expr, wrt, bits=bits)
    truth = evaluator(inputs)
    assert truth.values is not None
    return point.Reference(
        expression=evaluator.expression,
        derivative_expressions=dict(evaluator.derivative_expressions),
        values=truth.values[0],
        values_lo=truth.values[1],
        derivatives={k: v[0] for k, v in truth.derivatives.items()},
        derivatives_lo={k: v[1] for k, v in truth.derivatives.items()},
        precision_bits=bits,
    )


__all__ = [
    "ACCEPT_BITS",
    "BLOCK",
    "FUNCTIONS_IN_MPMATH",
    "LONG_DOUBLE_BITS",
    "Program",
    "Step",
    "SweepReference",
    "SweepTruth",
    "Unsupported",
    "compiled_form",
    "reference",
    "two_prod",
    "two_sum",
]
