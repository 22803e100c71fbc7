"""Hyper-dual jets with running error bounds: the arithmetic of the noise floor.

Why: Linnainmaa's / Higham's first-order running error analysis of a derivative
evaluated *as written* in the dtype, every primitive and every local derivative being
correctly rounded: relative error ``u`` per rounded operation plus an absolute ``eta``
for gradual underflow. Derivatives of any order are carried as hyper-dual numbers:
``k`` nilpotent infinitesimals, one per direction, and for every subset S of them (a
bitmask) a value ``c[S]`` and an error bound ``e[S]``. A function of one or two jets is
Faà di Bruno's formula over the set partitions of S (each block assigned to one input),
given the function's partial derivatives at the point; a kink or a jump whose side is
uncertain within the input's own error adds the jump of the local derivatives.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from autograd_cli.truth.floor_arith import FloorArith
from autograd_cli.truth.local_derivatives import falling

__all__ = ["FORMATS", "Jet", "JetFloors", "Kink"]

#: Significand bits (with the hidden bit) and minimum normal exponent per dtype.
FORMATS: dict[str, tuple[int, int]] = {
    "float16": (11, -14),
    "bfloat16": (8, -126),
    "float32": (24, -126),
    "float64": (53, -1022),
}

#: Exact constant folding stops at literals this long (bits), so it never gets slow.
_FOLD_BITS = 4096


def _submasks(mask: int) -> Iterator[int]:
    sub = mask
    while True:
        yield sub
        if sub == 0:
            return
        sub = (sub - 1) & mask


@functools.cache
def _partitions(mask: int) -> tuple[tuple[int, ...], ...]:
    """The set partitions of ``mask`` as tuples of block masks (Bell numbers 1,2,5,15)."""
    if mask == 0:
        return ((),)
    low = mask & -mask
    found: list[tuple[int, ...]] = []
    for sub in _submasks(mask ^ low):
        block = low | sub
        found.extend((block, *rest) for rest in _partitions(mask ^ block))
    return tuple(found)


@dataclass
class Jet:
    """c[S], e[S] per subset S of the infinitesimals; None: structurally zero (no value,
    no error, no rounding). ``exact``/``held``: a constant's exact value and the dtype
    value a framework holds, kept while constants fold exactly."""

    c: list[Any]
    e: list[Any]
    exact: Fraction | None = None
    held: Fraction | None = None


@dataclass(frozen=True)
class Kink:
    """Where ``uncertain``, the input's error may put it on the other side of a kink or
    jump, which moves the local derivative of order j by up to ``jumps[j]``."""

    uncertain: Any
    jumps: Sequence[Any]


def _add_opt(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _pow2(n: int) -> Fraction:
    return Fraction(2) ** n


#: How far above the smallest normal a value or derivative still counts as near the
#: subnormal range, where a backend that flushes subnormals may answer otherwise.
NEAR_SUBNORMAL_BINADES = 8


class JetFloors:
    """The jet arithmetic for one dtype and k directions; records NaN values of f,
    values or derivatives (near) subnormal, and what reverse mode's own underflow may
    cost."""

    def __init__(self, arith: FloorArith, k: int, dtype: str) -> None:
        if dtype not in FORMATS:
            raise ValueError(f"unknown dtype {dtype!r}: expected one of {', '.join(FORMATS)}")
        precision, emin = FORMATS[dtype]
        self.arith = arith
        self.k = k
        self.size = 1 << k
        self.full = self.size - 1
        self.precision = precision
        self.emin = emin
        self.max_held = (2 - _pow2(1 - precision)) * _pow2(1 - emin)
        self.u = arith.scalar(_pow2(-precision))
        # float64's eta (2**-1075) is no double: the smallest subnormal stands in for it.
        eta = arith.scalar(_pow2(emin - precision))
        self.eta = eta if eta > 0 else arith.scalar(math.ulp(0.0))
        self.tiny = arith.scalar(_pow2(emin))
        # A framework's own intermediates (x/2 in hypot's rule, 1/(1+|x|)**2 in
        # softsign's) may be a few binades below any value or derivative of ours.
        self.near_subnormal = arith.scalar(_pow2(emin + NEAR_SUBNORMAL_BINADES))
        self.largest = arith.scalar(float(self.max_held))
        #: Where a value or derivative of some node, a function's local derivative or a
        #: product of the chain rule is beyond the dtype's range (log10''(c) times c'**2
        #: with c = 3.6e36 in float32: the product is 0.43, its factors are not floats).
        self.overflow: np.ndarray = np.asarray(False)
        self.nan: np.ndarray = np.asarray(False)
        self.subnormal: np.ndarray = np.asarray(False)
        self.reverse: Any = arith.scalar(0)

    def note(self, jet: Jet) -> Jet:
        """Track NaN and subnormal values, and what reverse mode's own underflow may cost:
        an adjoint at this node that underflows by up to eta reaches the result times
        the node's tangents, which forward mode (this model) never multiplies by (the
        chain exp(-x**2/2)' in float16 at 5.7: an adjoint of -3e-8 rounds to 0)."""
        value = jet.c[0]
        for component in jet.c[1:]:
            if component is not None:
                self.reverse = self.reverse + self.eta * abs(component)
        self.nan = self.nan | self.arith.isnan(value)
        for component in jet.c:
            if component is not None:
                size = abs(component)
                self.subnormal = self.subnormal | (
                    self.arith.truth(size < self.near_subnormal) & self.arith.truth(size > 0)
                )
                self.overflow = self.overflow | self.arith.truth(size > self.largest)
        return jet

    def seed(self, values: np.ndarray, name: str, directions: tuple[str, ...]) -> Jet:
        c: list[Any] = [None] * self.size
        e: list[Any] = [None] * self.size
        c[0] = self.arith.array(values)
        one = self.arith.scalar(1.0)
        for i, direction in enumerate(directions):
            if direction == name:
                c[1 << i] = one
        return self.note(Jet(c, e))

    # -- constants ------------------------------------------------------------------

    def held(self, q: Fraction) -> Fraction | None:
        """``q`` correctly rounded to the dtype (ties to even); None where it overflows."""
        if q == 0:
            return Fraction(0)
        size = abs(q)
        e = size.numerator.bit_length() - size.denominator.bit_length()
        if size < _pow2(e):
            e -= 1
        quantum = _pow2(max(e, self.emin) - (self.precision - 1))
        rounded = round(size / quantum) * quantum
        if rounded > self.max_held:
            return None
        return rounded if q > 0 else -rounded

    def held_value(self, q: Fraction) -> Any:
        """A parameter as the dtype holds it (the exact reference uses the same value)."""
        held = self.held(q)
        if held is None:
            return self.arith.scalar(math.inf if q > 0 else -math.inf)
        return self.arith.scalar(held)

    def constant(self, exact: Fraction, held: Fraction | None) -> Jet:
        c: list[Any] = [None] * self.size
        e: list[Any] = [None] * self.size
        if held is None:  # the literal overflows the dtype: so does any bound
            c[0] = self.arith.scalar(math.inf if exact > 0 else -math.inf)
            e[0] = self.arith.scalar(math.inf)
            return Jet(c, e)
        c[0] = self.arith.scalar(held)
        if held != exact:
            e[0] = self.arith.scalar(abs(held - exact))
        return Jet(c, e, exact, held)

    def num(self, value: Fraction) -> Jet:
        return self.constant(value, self.held(value))

    def irrational(self, value: Any) -> Jet:
        """An irrational constant (pi, sqrt(2/pi)): held with one rounding."""
        c: list[Any] = [None] * self.size
        e: list[Any] = [None] * self.size
        c[0] = value
        e[0] = self.u * abs(value)
        return Jet(c, e)

    def fold(self, a: Jet, b: Jet, op: Callable[[Fraction, Fraction], Fraction]) -> Jet | None:
        """Exact folding of two exact constants, as the dtype would compute them."""
        if a.exact is None or b.exact is None or a.held is None or b.held is None:
            return None
        for q in (a.exact, b.exact):
            if max(q.numerator.bit_length(), q.denominator.bit_length()) > _FOLD_BITS:
                return None
        try:
            exact, computed = op(a.exact, b.exact), op(a.held, b.held)
        except ZeroDivisionError:
            return None
        return self.constant(exact, self.held(computed))

    # -- arithmetic -----------------------------------------------------------------

    def neg(self, a: Jet) -> Jet:
        return Jet(
            [None if v is None else -v for v in a.c],
            list(a.e),
            None if a.exact is None else -a.exact,
            None if a.held is None else -a.held,
        )

    def add_sub(self, a: Jet, b: Jet, sign: int) -> Jet:
        folded = self.fold(a, b, (lambda x, y: x + y) if sign > 0 else (lambda x, y: x - y))
        if folded is not None:
            return folded
        c: list[Any] = [None] * self.size
        e: list[Any] = [None] * self.size
        for s in range(self.size):
            ca, cb = a.c[s], b.c[s]
            if cb is None:
                c[s], e[s] = ca, a.e[s]
            elif ca is None:
                c[s], e[s] = (cb if sign > 0 else -cb), b.e[s]
            else:
                c[s] = ca + cb if sign > 0 else ca - cb
                e[s] = _add_opt(_add_opt(a.e[s], b.e[s]), self.u * abs(c[s]) + self.eta)
        return Jet(c, e)

    def mul(self, a: Jet, b: Jet) -> Jet:
        folded = self.fold(a, b, lambda x, y: x * y)
        if folded is not None:
            return folded
        c: list[Any] = [None] * self.size
        e: list[Any] = [None] * self.size
        for s in range(self.size):
            pairs = [
                (t, s ^ t) for t in _submasks(s) if a.c[t] is not None and b.c[s ^ t] is not None
            ]
            if not pairs:
                continue
            m = len(pairs)
            value: Any = None
            size: Any = None
            error: Any = None
            for t, r in pairs:
                product = a.c[t] * b.c[r]
                value = _add_opt(value, product)
                size = _add_opt(size, abs(product))
                if a.e[t] is not None:
                    error = _add_opt(error, a.e[t] * abs(b.c[r]))
                if b.e[r] is not None:
                    error = _add_opt(error, abs(a.c[t]) * b.e[r])
            c[s] = value
            e[s] = _add_opt(error, self.u * m * size + m * self.eta)
        return Jet(c, e)

    def div(self, a: Jet, b: Jet) -> Jet:
        folded = self.fold(a, b, lambda x, y: x / y)
        if folded is not None:
            return folded
        inverse = self.arith.recip(b.c[0])
        d: list[Any] = []
        power: Any = inverse
        for j in range(self.k + 2):
            d.append((-1) ** j * math.factorial(j) * power)
            power = power * inverse
        return self.mul(a, self.unary(b, d))

    def power(self, a: Jet, p: Any, error: Any) -> Jet:
        """z ** p with a constant exponent; ``error`` bounds the exponent's own error,
        which moves every derivative by d/dp of it."""
        arith = self.arith
        z = a.c[0]
        d: list[Any] = []
        sensitivity: list[Any] = []
        log_size = None if error is None else arith.func("log", abs(z))
        for j in range(self.k + 2):
            value, slope = falling(p, j)
            if isinstance(p, Fraction):
                if value == 0 and (error is None or slope == 0):
                    d.append(0)  # exactly: no 0 * inf where z ** (p - j) blows up
                    sensitivity.append(0)
                    continue
                value, slope = arith.scalar(value), arith.scalar(slope)
            zp = arith.power(z, p - j)
            d.append(value * zp)
            if log_size is not None:
                sensitivity.append(zp * (slope + value * log_size))
        return self.unary(a, d, sensitivity if error is not None else None, error)

    # -- functions of jets -------------------------------------------------------------

    def unary(
        self,
        a: Jet,
        d: list[Any],
        sensitivity: list[Any] | None = None,
        parameter_error: Any = None,
        kinks: Sequence[Kink] = (),
    ) -> Jet:
        """f(a), ``d[j]`` = f^(j)(a0) for j <= k+1; ``sensitivity`` holds d/dp of each
        f^(j) for a parameter p (an exponent) whose own error is ``parameter_error``."""
        partials: dict[tuple[int, ...], Any] = {(j,): v for j, v in enumerate(d)}
        moved: dict[tuple[int, ...], Any] | None = None
        if sensitivity is not None:
            moved = {(j,): parameter_error * abs(v) for j, v in enumerate(sensitivity)}
        return self.chain((a,), partials, moved, kinks)

    def chain(
        self,
        inputs: tuple[Jet, ...],
        d: Mapping[tuple[int, ...], Any],
        moved: Mapping[tuple[int, ...], Any] | None = None,
        kinks: Sequence[Kink] = (),
    ) -> Jet:
        """f(inputs) by Faà di Bruno; ``d[counts]`` is the partial derivative with
        ``counts[i]`` derivatives by input i, for every total order <= k+1.

        Each term of component S is one local derivative (rounded) times |π| factors
        (|π| products) and the P terms are summed (P-1 sums): |π| + P roundings. Its
        error moves with each input's value through the partial one order higher and
        with the factors through the partial itself; ``moved`` adds a known error of
        each partial (a rounded parameter); a kink adds its jump where uncertain."""
        u, eta = self.u, self.eta
        n = len(inputs)
        origin = (0,) * n
        c: list[Any] = [None] * self.size
        e: list[Any] = [None] * self.size
        c[0] = d[origin]
        error0: Any = u * abs(d[origin]) + eta
        error0 = self._moved(inputs, d, origin, error0, 1)
        if moved is not None:
            error0 = error0 + moved[origin]
        for kink in kinks:
            error0 = error0 + np.where(kink.uncertain, abs(kink.jumps[0]), 0)
        e[0] = error0
        for s in range(1, self.size):
            terms: list[tuple[tuple[int, ...], Any, Any, Any]] = []
            for blocks in _partitions(s):
                for owners in itertools.product(range(n), repeat=len(blocks)):
                    factors = [inputs[i].c[b] for i, b in zip(owners, blocks, strict=True)]
                    if any(f is None for f in factors):
                        continue
                    counts = tuple(owners.count(i) for i in range(n))
                    terms.append((counts, *self._product(inputs, owners, blocks, factors)))
            if not terms:
                continue
            count = len(terms)
            value: Any = None
            error: Any = None
            for counts, product, magnitude, factor_error in terms:
                size = sum(counts)
                value = _add_opt(value, d[counts] * product)
                local = abs(d[counts])
                self.overflow = (self.overflow | self.arith.truth(local > self.largest)
                                 | self.arith.truth(magnitude > self.largest))
                term_error = u * (size + count) * local * magnitude + (size + count) * eta
                term_error = self._moved(inputs, d, counts, term_error, magnitude)
                if factor_error is not None:
                    term_error = term_error + local * factor_error
                if moved is not None:
                    term_error = term_error + moved[counts] * magnitude
                for kink in kinks:
                    jump = kink.jumps[size] if size < len(kink.jumps) else 0
                    term_error = term_error + np.where(kink.uncertain, abs(jump) * magnitude, 0)
                error = _add_opt(error, term_error)
            c[s], e[s] = value, error
        return Jet(c, e)

    def _moved(
        self,
        inputs: tuple[Jet, ...],
        d: Mapping[tuple[int, ...], Any],
        counts: tuple[int, ...],
        error: Any,
        magnitude: Any,
    ) -> Any:
        """The partial ``counts`` moves with each input's value error by the next one."""
        for i, jet in enumerate(inputs):
            if jet.e[0] is not None:
                higher = tuple(c + (j == i) for j, c in enumerate(counts))
                error = error + abs(d[higher]) * jet.e[0] * magnitude
        return error

    @staticmethod
    def _product(
        inputs: tuple[Jet, ...],
        owners: tuple[int, ...],
        blocks: tuple[int, ...],
        factors: list[Any],
    ) -> tuple[Any, Any, Any]:
        """The factors' product, its magnitude and how far their errors move it."""
        product: Any = factors[0]
        for f in factors[1:]:
            product = product * f
        moved: Any = None
        for i, (owner, b) in enumerate(zip(owners, blocks, strict=True)):
            own = inputs[owner].e[b]
            if own is None:
                continue
            others: Any = own
            for j, f in enumerate(factors):
                if j != i:
                    others = others * abs(f)
            moved = _add_opt(moved, others)
        return product, abs(product), moved
