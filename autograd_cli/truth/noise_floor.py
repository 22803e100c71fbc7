"""The noise floor of a derivative: how far rounding alone may legitimately move it.

Why: a backend's derivative is judged against ``rtol*|exact| + floor``. Where the terms
of an expression cancel (``(x+2)**3 - x**3 - 6*x**2 - 12*x``) honest float32 rounding
is far larger than any ``rtol*|exact|``, while a lone ``sigmoid(20)`` deserves almost
nothing: a fixed atol cannot tell the two apart, a running error bound can.

The bound is a first-order running error analysis of the derivative evaluated *as
written* in the dtype (:mod:`~autograd_cli.truth.floor_jets`), each function modelled
as its frameworks compute it (:mod:`~autograd_cli.truth.floor_functions`: one correctly
rounded op, or the composition its definition is), with local derivatives from
:mod:`~autograd_cli.truth.local_derivatives`.

One code path, two arithmetics (:mod:`~autograd_cli.truth.floor_arith`): float64 numpy
arrays for sweeps (vectorized, fast) and mpmath object arrays at 80 bits for a few
points (``exact=True``), where float64 itself would overflow or cancel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from autograd_cli.core.model import partial_of
from autograd_cli.expr.nodes import Expr, variables
from autograd_cli.expr.walk import lower, missing_ops
from autograd_cli.truth.floor_arith import FloorArith, integer_power
from autograd_cli.truth.floor_functions import FunctionFloors
from autograd_cli.truth.floor_jets import Jet, JetFloors

__all__ = ["Floor", "directions_of", "floor_ops", "integer_power", "noise_floor"]

#: Working precision of ``exact=True``: far beyond float64, cheap for a few points.
_WORKPREC = 80


@dataclass(frozen=True)
class Floor:
    """Per point: the bound on the derivative's rounding error, and where subnormals occur.

    ``floor`` is >= 0, NaN where the expression is undefined, inf where the bound
    overflows float64. ``subnormal`` marks points where some value of f (an input or an
    intermediate) or one of its derivatives is nonzero and below, or within a few
    binades of, the dtype's smallest normal: a backend that flushes subnormals to zero
    may legitimately answer differently there.
    """

    floor: np.ndarray
    subnormal: np.ndarray
    #: Where some value of f or one of its derivatives is beyond the dtype's range
    #: (clip(lgamma(x), 1, 2) at -1e-154: lgamma is 6e616, times clip's 0).
    overflow: np.ndarray | None = None


def directions_of(label: str, order: int) -> tuple[str, ...]:
    """ "x" with order 3 -> ("x","x","x"); a mixed label "x,y" -> ("x","y") (its order is
    its length, so ``order`` is not used for it)."""
    if "," in label:
        return partial_of(label)
    return (label,) * order


def floor_ops(floors: JetFloors) -> dict[str, Callable[..., Jet]]:
    """The ops table over jets, every value noted (NaN, subnormal, reverse underflow)."""
    functions = FunctionFloors(floors)

    def pow_(a: Jet, b: Jet) -> Jet:
        if any(b.c[s] is not None for s in range(1, floors.size)):
            return table["exp"](floors.mul(b, table["log"](a)))
        if (
            a.exact is not None
            and a.held is not None
            and b.exact is not None
            and b.exact.denominator == 1
            and abs(b.exact) <= 64
            and max(a.exact.numerator.bit_length(), a.exact.denominator.bit_length()) <= 64
            and not (a.held == 0 and b.exact < 0)
        ):
            n = int(b.exact)
            return floors.constant(a.exact**n, floors.held(a.held**n))
        p: Any = b.exact if b.exact is not None else b.c[0]
        if isinstance(p, Fraction) and p == 0 and b.e[0] is None:
            return floors.constant(Fraction(1), Fraction(1))
        return floors.power(a, p, b.e[0])

    arith = floors.arith
    table: dict[str, Callable[..., Jet]] = {
        "num": floors.num,
        "pi": lambda: floors.irrational(arith.named("pi")),
        "e": lambda: floors.irrational(arith.named("e")),
        "neg": floors.neg,
        "pos": lambda a: a,
        "add": lambda a, b: floors.add_sub(a, b, 1),
        "sub": lambda a, b: floors.add_sub(a, b, -1),
        "mul": floors.mul,
        "div": floors.div,
        "pow": pow_,
        **functions.table(),
    }
    missing = missing_ops(table)
    if missing:
        raise RuntimeError(f"noise floor ops table lacks {sorted(missing)}")

    def noting(op: Callable[..., Jet]) -> Callable[..., Jet]:
        return lambda *args: floors.note(op(*args))

    noted = {name: noting(op) for name, op in table.items()}
    functions.ops = noted
    return noted


def noise_floor(
    expr: Expr,
    inputs: Mapping[str, np.ndarray],
    directions: tuple[str, ...],
    dtype: str,
    *,
    exact: bool = False,
) -> Floor:
    """The rounding-error bound of d^k expr / d directions evaluated as written in
    ``dtype``, at every point of ``inputs`` (values already exact in the dtype).

    ``exact=False``: float64 arithmetic, vectorized (sweeps). ``exact=True``: mpmath at
    80 bits, for a few points (no float64 overflow or cancellation in the bound)."""
    arrays = {name: np.asarray(v, dtype=np.float64).reshape(-1) for name, v in inputs.items()}
    n = len(next(iter(arrays.values()))) if arrays else 1
    if not exact:
        with np.errstate(all="ignore"):
            return _floor(expr, arrays, directions, dtype, FloorArith(False), n)
    import mpmath

    with mpmath.workprec(_WORKPREC), np.errstate(all="ignore"):
        return _floor(expr, arrays, directions, dtype, FloorArith(True), n)


def _floor(
    expr: Expr,
    arrays: Mapping[str, np.ndarray],
    directions: tuple[str, ...],
    dtype: str,
    arith: FloorArith,
    n: int,
) -> Floor:
    floors = JetFloors(arith, len(directions), dtype)
    ops = floor_ops(floors)
    names = variables(expr)
    lacking = [name for name in names if name not in arrays]
    if lacking:
        raise ValueError(f"no input values for variable(s): {', '.join(lacking)}")
    env = {name: floors.seed(arrays[name], name, directions) for name in names}
    jet = lower(expr, ops, env)
    error = jet.e[floors.full] if jet.c[floors.full] is not None else None
    if error is not None:
        error = error + floors.reverse
    floor = np.zeros(n) if error is None else np.broadcast_to(arith.to_float(error), (n,)).copy()
    floor[np.broadcast_to(floors.nan, (n,))] = np.nan
    subnormal = np.broadcast_to(floors.subnormal, (n,)).copy()
    overflow = np.broadcast_to(floors.overflow, (n,)).copy()
    return Floor(floor=floor, subnormal=subnormal, overflow=overflow)
