"""The noise floor of a derivative: how far rounding alone may legitimately move it.

Why: a backend's derivative is judged against ``rtol*|exact| + floor``. Where the terms
of an expression cancel (``(x+2)**3 - x**3 - 6*x**2 - 12*x``) honest float32 rounding
is far larger than any ``rtol*|exact|``, while a lone ``sigmoid(20)`` deserves almost
nothing: a fixed atol cannot tell the two apart, a running error bound can.

The bound is Linnainmaa's / Higham's first-order running error analysis of the
derivative evaluated *as written* in the dtype, every primitive and every local
derivative (cos for sin, sech² for tanh, ...) being correctly rounded: relative error
``u`` per rounded operation plus an absolute ``eta`` for gradual underflow. Derivatives
of any order are carried as hyper-dual numbers: ``k`` nilpotent infinitesimals, one
per direction, and for every subset S of them (a bitmask) a value ``c[S]`` and an error
bound ``e[S]``; the derivative is ``c[full]`` and its floor ``e[full]``.

One code path, two arithmetics: float64 numpy arrays for sweeps (vectorized, fast) and
mpmath object arrays at 80 bits for a few points (``exact=True``), where float64 itself
would overflow or cancel.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from autograd_cli.core.model import partial_of
from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.nodes import Expr, variables
from autograd_cli.expr.walk import lower, missing_ops

__all__ = ["Floor", "directions_of", "noise_floor"]

#: Significand bits (with the hidden bit) and minimum normal exponent per dtype.
_FORMATS: dict[str, tuple[int, int]] = {
    "float16": (11, -14),
    "bfloat16": (8, -126),
    "float32": (24, -126),
    "float64": (53, -1022),
}

#: Working precision of ``exact=True``: far beyond float64, cheap for a few points.
_WORKPREC = 80

#: Exact constant folding stops at literals this long (bits), so it never gets slow.
_FOLD_BITS = 4096


@dataclass(frozen=True)
class Floor:
    """Per point: the bound on the derivative's rounding error, and where subnormals occur.

    ``floor`` is >= 0, NaN where the expression is undefined, inf where the bound
    overflows float64. ``subnormal`` marks points where some value of f (an input or an
    intermediate) is nonzero and below the dtype's smallest normal: a backend that
    flushes subnormals to zero may legitimately answer differently there.
    """

    floor: np.ndarray
    subnormal: np.ndarray


def directions_of(label: str, order: int) -> tuple[str, ...]:
    """ "x" with order 3 -> ("x","x","x"); a mixed label "x,y" -> ("x","y") (its order is
    its length, so ``order`` is not used for it)."""
    if "," in label:
        return partial_of(label)
    return (label,) * order


# ---------------------------------------------------------------------------------
# Combinatorics: subsets and set partitions of the infinitesimals, computed once.


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


# ---------------------------------------------------------------------------------
# Integer polynomials (coefficients low to high) for derivative families: exact, so
# no SymPy is needed and nothing is built from user text.

_Poly = tuple[int, ...]


def _pderiv(p: _Poly) -> _Poly:
    return tuple(i * c for i, c in enumerate(p))[1:] or (0,)


def _padd(p: _Poly, q: _Poly) -> _Poly:
    n = max(len(p), len(q))
    return tuple((p[i] if i < len(p) else 0) + (q[i] if i < len(q) else 0) for i in range(n))


def _pmul(p: _Poly, q: _Poly) -> _Poly:
    out = [0] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] += a * b
    return tuple(out)


def _horner(p: _Poly, t: Any) -> Any:
    acc: Any = p[-1]
    for c in reversed(p[:-1]):
        acc = acc * t + c
    return acc


@functools.cache
def _tanh_q(j: int) -> _Poly:
    """tanh^(j) = sech² · Q_j(tanh) for j >= 1 (sech² taken as 1/cosh², not 1 - t²)."""
    if j == 1:
        return (1,)
    q = _tanh_q(j - 1)
    return _padd(_pmul((1, 0, -1), _pderiv(q)), _pmul((0, -2), q))


@functools.cache
def _sigmoid_q(j: int) -> _Poly:
    """sigmoid^(j) = s(1-s) · Q_j(s) for j >= 1, with 1-s taken as sigmoid(-z)."""
    if j == 1:
        return (1,)
    q = _sigmoid_q(j - 1)
    return _padd(_pmul((1, -2), q), _pmul((0, 1, -1), _pderiv(q)))


@functools.cache
def _tan_p(j: int) -> _Poly:
    """tan^(j) = P_j(tan)."""
    if j == 0:
        return (0, 1)
    return _pmul(_pderiv(_tan_p(j - 1)), (1, 0, 1))


@functools.cache
def _atan_p(j: int) -> tuple[_Poly, int]:
    """atan^(j) = A_j(z) · v^m with v = 1/(1+z²), for j >= 1."""
    if j == 1:
        return (1,), 1
    a, m = _atan_p(j - 1)
    return _padd(_pmul(_pderiv(a), (1, 0, 1)), _pmul((0, -2 * m), a)), m + 1


@functools.cache
def _asin_p(j: int) -> tuple[_Poly, int]:
    """asin^(j) = B_j(z) · w^m with w = 1/sqrt(1-z²), for j >= 1."""
    if j == 1:
        return (1,), 1
    b, m = _asin_p(j - 1)
    return _padd(_pmul(_pderiv(b), (1, 0, -1)), _pmul((0, m), b)), m + 2


def _falling(p: Any, j: int) -> Any:
    """p (p-1) ... (p-j+1), and its derivative with respect to p."""
    value: Any = 1
    for i in range(j):
        value = value * (p - i)
    slope: Any = 0
    for i in range(j):
        term: Any = 1
        for m in range(j):
            if m != i:
                term = term * (p - m)
        slope = slope + term
    return value, slope


# ---------------------------------------------------------------------------------
# The two arithmetics.


def _mp_recip(z: Any) -> Any:
    import mpmath

    if z != z:
        return z
    return mpmath.inf if z == 0 else 1 / z


def _mp_power(z: Any, q: Any) -> Any:
    """Real power as numpy has it: 0 ** negative is inf, negative ** non-integer NaN."""
    import mpmath

    from autograd_cli.truth.mpmath_ops import mp_pow

    q = mpmath.mpf(q)
    if z != z or q != q:
        return mpmath.mpf("nan")
    if z == 0:
        return mpmath.mpf(0) if q > 0 else mpmath.mpf(1) if q == 0 else mpmath.inf
    return mp_pow(z, q)


_NUMPY_NAMES: tuple[str, ...] = (
    "sin",
    "cos",
    "tan",
    "sinh",
    "cosh",
    "tanh",
    "exp",
    "log",
    "log2",
    "log10",
)
_NUMPY_NAMES += ("sqrt", "sign")


def integer_power(z: Any, n: int) -> Any:
    """z ** n by repeated squaring: a few float64 roundings, far below any dtype's u,
    and some 100 times faster than numpy's power of a negative base to an integer."""
    result: Any = None
    base = z
    k = abs(n)
    while k:
        if k & 1:
            result = base if result is None else result * base
        k >>= 1
        if k:
            base = base * base
    if result is None:
        return np.ones_like(z)
    return 1.0 / result if n < 0 else result


class _Arith:
    """Elementwise arithmetic on float64 arrays or on mpmath object arrays.

    ``+ - * abs`` and comparisons are numpy's operators in both; only what may divide
    by zero or leave the reals goes through here, so mpmath never raises."""

    def __init__(self, exact: bool) -> None:
        self.exact = exact
        self._funcs: dict[str, Callable[[Any], Any]] = {}
        if exact:
            import mpmath

            from autograd_cli.truth.mpmath_ops import guarded, hyperbolic, mp_exp, trig

            plain: dict[str, Callable[[Any], Any]] = {
                **{name: trig(name) for name in ("sin", "cos", "tan")},
                "sinh": hyperbolic("sinh"),
                "cosh": hyperbolic("cosh"),
                "tanh": mpmath.tanh,
                "exp": mp_exp,
                "log": mpmath.log,
                "log2": lambda x: mpmath.log(x) / mpmath.log(2),
                "log10": lambda x: mpmath.log(x) / mpmath.log(10),
                "asin": mpmath.asin,
                "acos": mpmath.acos,
                "atan": mpmath.atan,
                "sqrt": mpmath.sqrt,
                "sign": mpmath.sign,
            }
            self._funcs = {k: np.frompyfunc(guarded(f), 1, 1) for k, f in plain.items()}
            self._recip = np.frompyfunc(_mp_recip, 1, 1)
            self._power = np.frompyfunc(_mp_power, 2, 1)
            self._isnan = np.frompyfunc(mpmath.isnan, 1, 1)
            self._float = np.frompyfunc(float, 1, 1)
        else:
            self._funcs = {name: getattr(np, name) for name in _NUMPY_NAMES}
            self._funcs.update(asin=np.arcsin, acos=np.arccos, atan=np.arctan)

    def scalar(self, value: Fraction | float) -> Any:
        """A constant: nearest float64 (±inf beyond), or mpf at the working precision."""
        if self.exact:
            import mpmath

            if isinstance(value, Fraction):
                return mpmath.mpf(value.numerator) / value.denominator
            return mpmath.mpf(value)
        if isinstance(value, Fraction):
            try:
                return float(value)
            except OverflowError:
                return math.inf if value > 0 else -math.inf
        return float(value)

    def array(self, values: np.ndarray) -> Any:
        array = np.asarray(values, dtype=np.float64)
        if not self.exact:
            return array
        import mpmath

        return np.array([mpmath.mpf(v) for v in array.tolist()], dtype=object)

    def log_of(self, base: int) -> Any:
        if self.exact:
            import mpmath

            return mpmath.log(base)
        return math.log(base)

    def func(self, name: str, z: Any) -> Any:
        return self._funcs[name](z)

    def recip(self, z: Any) -> Any:
        if self.exact:
            return self._recip(z)
        return 1.0 / np.asarray(z, dtype=np.float64)

    def power(self, z: Any, q: Any) -> Any:
        if not self.exact and isinstance(q, Fraction) and q.denominator == 1 and abs(q) <= 16:
            return integer_power(np.asarray(z, dtype=np.float64), int(q))  # np.power is slow
        if isinstance(q, Fraction):
            q = self.scalar(q)
        if self.exact:
            return self._power(z, q)
        return np.power(np.asarray(z, dtype=np.float64), q)

    def truth(self, value: Any) -> np.ndarray:
        return np.asarray(value, dtype=bool)

    def isnan(self, value: Any) -> np.ndarray:
        if self.exact:
            return self.truth(self._isnan(value))
        return np.isnan(np.asarray(value, dtype=np.float64))

    def to_float(self, value: Any) -> np.ndarray:
        if self.exact:
            return np.asarray(self._float(value), dtype=np.float64)
        return np.asarray(value, dtype=np.float64)


# ---------------------------------------------------------------------------------
# Jets and the ops table.


@dataclass
class _Jet:
    """c[S], e[S] per subset S of the infinitesimals; None: structurally zero (no value,
    no error, no rounding). ``exact``/``held``: a constant's exact value and the dtype
    value a framework holds, kept while constants fold exactly."""

    c: list[Any]
    e: list[Any]
    exact: Fraction | None = None
    held: Fraction | None = None


def _add_opt(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _pow2(n: int) -> Fraction:
    return Fraction(2) ** n


class _Floors:
    """Builds the ops table over jets and records NaN and subnormal values of f."""

    def __init__(self, arith: _Arith, k: int, dtype: str) -> None:
        if dtype not in _FORMATS:
            raise ValueError(f"unknown dtype {dtype!r}: expected one of {', '.join(_FORMATS)}")
        precision, emin = _FORMATS[dtype]
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
        self.nan: np.ndarray = np.asarray(False)
        self.subnormal: np.ndarray = np.asarray(False)
        self.reverse: Any = arith.scalar(0)

    # -- bookkeeping --------------------------------------------------------------

    def note(self, jet: _Jet) -> _Jet:
        """Track NaN and subnormal values, and what reverse mode's own underflow may cost:
        an adjoint at this node that underflows by up to eta reaches the result times
        the node's tangents, which forward mode (this model) never multiplies by (the
        chain exp(-x**2/2)' in float16 at 5.7: an adjoint of -3e-8 rounds to 0)."""
        value = jet.c[0]
        for component in jet.c[1:]:
            if component is not None:
                self.reverse = self.reverse + self.eta * abs(component)
        size = abs(value)
        self.nan = self.nan | self.arith.isnan(value)
        self.subnormal = self.subnormal | (
            self.arith.truth(size < self.tiny) & self.arith.truth(size > 0)
        )
        return jet

    def ops(self) -> dict[str, Callable[..., _Jet]]:
        table: dict[str, Callable[..., _Jet]] = {
            "num": self.num,
            "pi": lambda: self.named_constant("pi"),
            "e": lambda: self.named_constant("e"),
            "neg": self.neg,
            "pos": lambda a: a,
            "add": lambda a, b: self.add_sub(a, b, 1),
            "sub": lambda a, b: self.add_sub(a, b, -1),
            "mul": self.mul,
            "div": self.div,
            "pow": self.pow,
            **{name: functools.partial(self.function, name) for name in _FUNCTION_NAMES},
        }
        missing = missing_ops(table)
        if missing:
            raise RuntimeError(f"noise floor ops table lacks {sorted(missing)}")

        def noted(op: Callable[..., _Jet]) -> Callable[..., _Jet]:
            return lambda *args: self.note(op(*args))

        return {name: noted(op) for name, op in table.items()}

    def seed(self, values: np.ndarray, name: str, directions: tuple[str, ...]) -> _Jet:
        c: list[Any] = [None] * self.size
        e: list[Any] = [None] * self.size
        c[0] = self.arith.array(values)
        one = self.arith.scalar(1.0)
        for i, direction in enumerate(directions):
            if direction == name:
                c[1 << i] = one
        return self.note(_Jet(c, e))

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

    def constant(self, exact: Fraction, held: Fraction | None) -> _Jet:
        c: list[Any] = [None] * self.size
        e: list[Any] = [None] * self.size
        if held is None:  # the literal overflows the dtype: so does any bound
            c[0] = self.arith.scalar(math.inf if exact > 0 else -math.inf)
            e[0] = self.arith.scalar(math.inf)
            return _Jet(c, e)
        c[0] = self.arith.scalar(held)
        if held != exact:
            e[0] = self.arith.scalar(abs(held - exact))
        return _Jet(c, e, exact, held)

    def num(self, value: Fraction) -> _Jet:
        return self.constant(value, self.held(value))

    def named_constant(self, name: str) -> _Jet:
        c: list[Any] = [None] * self.size
        e: list[Any] = [None] * self.size
        if self.arith.exact:
            import mpmath

            c[0] = +mpmath.pi if name == "pi" else +mpmath.e
        else:
            c[0] = math.pi if name == "pi" else math.e
        e[0] = self.u * abs(c[0])
        return _Jet(c, e)

    def fold(self, a: _Jet, b: _Jet, op: Callable[[Fraction, Fraction], Fraction]) -> _Jet | None:
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

    def neg(self, a: _Jet) -> _Jet:
        return _Jet(
            [None if v is None else -v for v in a.c],
            list(a.e),
            None if a.exact is None else -a.exact,
            None if a.held is None else -a.held,
        )

    def add_sub(self, a: _Jet, b: _Jet, sign: int) -> _Jet:
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
        return _Jet(c, e)

    def mul(self, a: _Jet, b: _Jet) -> _Jet:
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
        return _Jet(c, e)

    def div(self, a: _Jet, b: _Jet) -> _Jet:
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

    def pow(self, a: _Jet, b: _Jet) -> _Jet:
        if any(b.c[s] is not None for s in range(1, self.size)):
            return self.function("exp", self.mul(b, self.function("log", a)))
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
            return self.constant(a.exact**n, self.held(a.held**n))
        p: Any = b.exact if b.exact is not None else b.c[0]
        if isinstance(p, Fraction) and p == 0 and b.e[0] is None:
            return self.constant(Fraction(1), Fraction(1))
        return self.power(a, p, b.e[0])

    def power(self, a: _Jet, p: Any, error: Any) -> _Jet:
        """z ** p with a constant exponent; ``error`` bounds the exponent's own error,
        which moves every derivative by d/dp of it."""
        arith = self.arith
        z = a.c[0]
        d: list[Any] = []
        sensitivity: list[Any] = []
        log_size = None if error is None else arith.func("log", abs(z))
        for j in range(self.k + 2):
            falling, slope = _falling(p, j)
            if isinstance(p, Fraction):
                if falling == 0 and (error is None or slope == 0):
                    d.append(0)  # exactly: no 0 * inf where z ** (p - j) blows up
                    sensitivity.append(0)
                    continue
                falling, slope = arith.scalar(falling), arith.scalar(slope)
            zp = arith.power(z, p - j)
            d.append(falling * zp)
            if log_size is not None:
                sensitivity.append(zp * (slope + falling * log_size))
        return self.unary(a, d, sensitivity if error is not None else None, error)

    # -- functions ------------------------------------------------------------------

    def function(self, name: str, a: _Jet) -> _Jet:
        n = self.k + 1
        z = a.c[0]
        if name == "sqrt":
            return self.power(a, Fraction(1, 2), None)
        flip = None
        if name == "abs":
            d = [abs(z), self.arith.func("sign", z), *([0] * n)][: n + 1]
            if a.e[0] is not None:  # the sign itself is uncertain within the error
                flip = self.arith.truth(abs(z) <= a.e[0])
        else:
            d = _derivatives(self.arith, name, z, n)
        return self.unary(a, d, flip=flip)

    def unary(
        self,
        a: _Jet,
        d: list[Any],
        sensitivity: list[Any] | None = None,
        parameter_error: Any = None,
        flip: np.ndarray | None = None,
    ) -> _Jet:
        """f(a) by Faà di Bruno, ``d[j]`` = f^(j)(a0) for j <= k+1.

        Each term of component S is one local derivative (rounded) times |π| factors
        (|π| products) and the P terms are summed (P-1 sums): |π| + P roundings. Its
        error moves with a0 through f^(|π|+1) and with the factors through f^(|π|).
        ``sensitivity`` holds d/dp of each f^(j) for a parameter p (an exponent) whose
        own error is ``parameter_error``; ``flip`` marks where abs' sign is uncertain."""
        u, eta = self.u, self.eta
        e0 = a.e[0]
        c: list[Any] = [None] * self.size
        e: list[Any] = [None] * self.size
        c[0] = d[0]
        error0: Any = u * abs(d[0]) + eta
        if e0 is not None:
            error0 = error0 + abs(d[1]) * e0
        if sensitivity is not None:
            error0 = error0 + parameter_error * abs(sensitivity[0])
        e[0] = error0
        for s in range(1, self.size):
            terms: list[tuple[int, Any, Any, Any]] = []
            for blocks in _partitions(s):
                factors = [a.c[b] for b in blocks]
                if any(f is None for f in factors):
                    continue
                product: Any = factors[0]
                for f in factors[1:]:
                    product = product * f
                moved: Any = None
                for i, b in enumerate(blocks):
                    if a.e[b] is None:
                        continue
                    others: Any = a.e[b]
                    for j, f in enumerate(factors):
                        if j != i:
                            others = others * abs(f)
                    moved = _add_opt(moved, others)
                terms.append((len(blocks), product, abs(product), moved))
            if not terms:
                continue
            count = len(terms)
            value: Any = None
            error: Any = None
            for size, product, magnitude, moved in terms:
                value = _add_opt(value, d[size] * product)
                local = abs(d[size])
                term_error = u * (size + count) * local * magnitude + (size + count) * eta
                if e0 is not None:
                    term_error = term_error + abs(d[size + 1]) * e0 * magnitude
                if moved is not None:
                    term_error = term_error + local * moved
                if sensitivity is not None:
                    term_error = term_error + parameter_error * abs(sensitivity[size]) * magnitude
                if flip is not None:
                    term_error = term_error + np.where(flip, 2 * local * magnitude, 0)
                error = _add_opt(error, term_error)
            c[s], e[s] = value, error
        return _Jet(c, e)


#: Every function of the grammar (the ops table is checked complete by missing_ops).
_FUNCTION_NAMES: tuple[str, ...] = tuple(FUNCTIONS)


def _derivatives(arith: _Arith, name: str, z: Any, n: int) -> list[Any]:
    """f^(j)(z) for j = 0..n, each from a formula that is accurate where f' is tiny
    (sech² as 1/cosh², sigmoid' as s·sigmoid(-z)), since the floor scales with them."""
    f = arith.func
    if name in ("sin", "cos", "sinh", "cosh", "exp"):
        if name == "exp":
            value = f("exp", z)
            return [value] * (n + 1)
        if name in ("sin", "cos"):
            s, co = f("sin", z), f("cos", z)
            cycle = [s, co, -s, -co] if name == "sin" else [co, -s, -co, s]
        else:
            sh, ch = f("sinh", z), f("cosh", z)
            cycle = [sh, ch] if name == "sinh" else [ch, sh]
        return [cycle[j % len(cycle)] for j in range(n + 1)]
    if name == "tanh":
        t = f("tanh", z)
        cosh = f("cosh", z)
        sech2 = arith.recip(cosh * cosh)
        return [t] + [sech2 * _horner(_tanh_q(j), t) for j in range(1, n + 1)]
    if name == "sigmoid":
        s = arith.recip(1 + f("exp", -z))
        r = arith.recip(1 + f("exp", z))
        slope = s * r
        return [s] + [slope * _horner(_sigmoid_q(j), s) for j in range(1, n + 1)]
    if name == "tan":
        t = f("tan", z)
        return [_horner(_tan_p(j), t) for j in range(n + 1)]
    if name in ("log", "log2", "log10"):
        inverse = arith.recip(z)
        scale: Any = 1 if name == "log" else arith.recip(arith.log_of(2 if name == "log2" else 10))
        out = [f(name, z)]
        power: Any = inverse
        for j in range(1, n + 1):
            out.append((-1) ** (j - 1) * math.factorial(j - 1) * power * scale)
            power = power * inverse
        return out
    if name == "atan":
        v = arith.recip(1 + z * z)
        out = [f("atan", z)]
        for j in range(1, n + 1):
            poly, m = _atan_p(j)
            out.append(_horner(poly, z) * v**m)
        return out
    if name in ("asin", "acos"):
        w = arith.recip(f("sqrt", (1 - z) * (1 + z)))
        sign = 1 if name == "asin" else -1
        out = [f(name, z)]
        for j in range(1, n + 1):
            poly, m = _asin_p(j)
            out.append(sign * _horner(poly, z) * w**m)
        return out
    raise ValueError(f"no derivatives for function {name!r}")


# ---------------------------------------------------------------------------------


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
            return _floor(expr, arrays, directions, dtype, _Arith(False), n)
    import mpmath

    with mpmath.workprec(_WORKPREC), np.errstate(all="ignore"):
        return _floor(expr, arrays, directions, dtype, _Arith(True), n)


def _floor(
    expr: Expr,
    arrays: Mapping[str, np.ndarray],
    directions: tuple[str, ...],
    dtype: str,
    arith: _Arith,
    n: int,
) -> Floor:
    floors = _Floors(arith, len(directions), dtype)
    ops = floors.ops()
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
    return Floor(floor=floor, subnormal=subnormal)
