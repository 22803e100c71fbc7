"""Taylor series in double-double for the vectorized sweep reference: Horner's rule
with a float64 tail (for erf's series too, :mod:`~.dd_erf`), sinc's derivatives near
0, digamma about its zeros.

Why: sinc's derivatives by Leibniz's rule are 0/0 at 0 and cancel near it; scipy's
digamma is absolutely, not relatively, accurate near its zeros. A series in
double-double, every operation's rounding and the truncation in the bound
(:mod:`~.double_double`'s arithmetic), is right to ~100 bits there, for float32 and
float64 sweeps alike.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

import numpy as np

from autograd_cli.truth.dd_special import quotient
from autograd_cli.truth.double_double import Arr, Value, add, any_flag, mul, sum_terms

# --------------------------------------------------------------------------- Horner

_U = 2.0**-53


def horner(terms: tuple[Value, ...], h: Value, exact_terms: int) -> Value:
    """sum terms[j] * h**j: the first ``exact_terms`` in double-double, the rest (small
    where the series is used) by Horner in float64, whose error is bounded a priori:
    gamma_(2m+2) sum |c_j| |h|**j (rounding), sum (|lo_j| + err_j) |h|**j (the
    coefficients' own), plus the argument's low word and error times the tail's
    derivative bound."""
    split = min(exact_terms, len(terms))
    if split == len(terms):
        acc = terms[-1]
        rest = terms[:-1]
    else:
        tail = terms[split:]
        m = len(tail)
        hh = np.asarray(h.hi, dtype=np.float64)
        delta = np.abs(np.asarray(h.lo)) + h.err
        a = np.abs(hh)
        b = a + delta
        value = np.full_like(hh, tail[-1].hi)
        size = np.full_like(hh, abs(tail[-1].hi))  # sum |t_j| a**j
        slack = np.full_like(hh, _slack(tail[-1]))  # sum (|lo_j| + err_j) a**j
        wide = size.copy()  # sum |t_j| b**j
        slope = np.zeros_like(hh)  # sum j |t_j| b**(j-1)
        for term in reversed(tail[:-1]):
            value = value * hh + term.hi
            size = size * a + abs(term.hi)
            slack = slack * a + _slack(term)
            slope = slope * b + wide
            wide = wide * b + abs(term.hi)
        gamma = (2 * m + 2) * _U / (1 - (2 * m + 2) * _U)
        err = (gamma * size + slack + delta * slope) * (1 + 2.0**-40)  # and their rounding
        acc = Value(value, 0.0, err, h.nan, h.unsure)
        rest = terms[:split]
    if not rest:
        return acc
    if np.ndim(h.hi) == 0:
        for term in reversed(rest):
            acc = add(mul(acc, h), term)
        return acc
    return _horner_head(acc, rest, h)


_SPLITTER = 134217729.0  # 2**27 + 1


def _split(a: Arr) -> tuple[Arr, Arr]:
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def _horner_head(acc: Value, rest: tuple[Value, ...], h: Value) -> Value:
    """acc*h**n + the double-double Horner steps of ``rest`` (constants), as
    ``add(mul(acc, h), term)`` computes each, with the same rounding bounds
    (:mod:`~.double_double`'s ``mul``: 8 u**2 |p|, propagation of both errors;
    ``add``: u (|lo sum| + |e|)), written out without the per-operation bookkeeping."""
    sh = np.asarray(h.hi, dtype=np.float64)
    sl = np.asarray(h.lo, dtype=np.float64)
    h_err = h.err
    sh_abs = np.abs(sh)
    shh, shl = _split(sh)
    ah = np.broadcast_to(np.asarray(acc.hi, dtype=np.float64), sh.shape)
    al = np.broadcast_to(np.asarray(acc.lo, dtype=np.float64), sh.shape)
    err = np.broadcast_to(np.asarray(acc.err, dtype=np.float64), sh.shape)
    for term in reversed(rest):
        p = ah * sh
        ahh, ahl = _split(ah)
        e = ((ahh * shh - p) + ahh * shl + ahl * shh) + ahl * shl
        ph = p + (e + (ah * sl + al * sh))
        pl = (e + (ah * sl + al * sh)) - (ph - p)
        propagated = (np.abs(ah) * h_err + sh_abs * err + err * h_err) * (1 + 2.0**-50)
        s, bb = ph + term.hi, None
        bb = s - ph
        e1 = (ph - (s - bb)) + (term.hi - bb)
        t = pl + term.lo
        e2 = e1 + t
        ah = s + e2
        al = e2 - (ah - s)
        err = (
            propagated
            + 8 * _U * _U * np.abs(ph)
            + 2.0**-1060
            + _U * (np.abs(t) + np.abs(e2))
            + term.err
        )
    return Value(ah, al, err, any_flag(acc.nan, h.nan), any_flag(acc.unsure, h.unsure))


def _slack(term: Value) -> float:
    return abs(float(term.lo)) + float(term.err)


def exact_terms(terms: tuple[Value, ...], reach: float, tolerance: float) -> int:
    """How many leading terms :func:`horner` must take in double-double for its
    float64 tail's rounding to stay below ``tolerance`` wherever |h| <= reach."""
    n = len(terms)
    tail = 0.0
    for split in range(n - 1, -1, -1):
        tail += abs(terms[split].hi) * reach**split
        if (2 * (n - split) + 2) * _U * tail > tolerance:
            return split + 1
    return 0


# --------------------------------------------------------------------------- subsets


def take(v: Value, index: np.ndarray) -> Value:
    def part(a: Arr) -> Arr:
        return a[index] if isinstance(a, np.ndarray) and a.ndim else a

    return Value(part(v.hi), part(v.lo), part(v.err), part(v.nan), part(v.unsure))


def put(target: Value, index: np.ndarray, v: Value) -> Value:
    """``target`` with the points at ``index`` replaced by ``v``'s (arrays of the block)."""
    n = np.shape(target.hi)[0]

    def full(a: Arr, fill: object) -> np.ndarray:
        return np.array(np.broadcast_to(np.asarray(fill if a is None else a), (n,)))

    hi, lo, err = full(target.hi, 0.0), full(target.lo, 0.0), full(target.err, 0.0)
    nan, unsure = full(target.nan, False), full(target.unsure, False)
    hi[index], lo[index] = v.hi, v.lo
    err[index] = v.err
    nan[index] = False if v.nan is None else v.nan
    unsure[index] = False if v.unsure is None else v.unsure
    return Value(hi, lo, err, nan if nan.any() else None, unsure if unsure.any() else None)


# --------------------------------------------------------------------------- sinc near 0

#: |x| up to which sinc's derivatives come from their series (|pi*x| <= 1).
SINC_SERIES_LIMIT = 0.3
_SINC_TERMS = 14


@functools.lru_cache(maxsize=8)
def _sinc_coefficients(n: int) -> tuple[tuple[Value, ...], Value, Value, float]:
    """g(t) = sin(t)/t = sum (-1)**k t**(2k)/(2k+1)!, so g^(n)(t) = t**p * sum_j
    c_j t**(2j) with p = n % 2, k = (n + p)/2 + j, c_j = (-1)**k/((2k+1)(2j+p)!);
    the c_j, pi, pi**n as double-doubles and the truncation bound at |t| = 1."""
    from fractions import Fraction

    import mpmath

    def exact(value: Fraction) -> Value:
        hi = float(value)
        lo = float(value - Fraction(hi))
        return Value(hi, lo, float(abs(value - Fraction(hi) - Fraction(lo))) * 2)

    def dd(value: object) -> Value:
        hi = float(value)  # type: ignore[arg-type]
        return Value(hi, float(value - hi), abs(hi) * 2.0**-200)  # type: ignore[operator]

    p = n % 2
    terms = tuple(
        exact(Fraction((-1) ** ((n + p) // 2 + j), (n + p + 2 * j + 1) * math.factorial(2 * j + p)))
        for j in range(_SINC_TERMS)
    )
    with mpmath.workprec(256):
        pi, pi_n = dd(mpmath.pi), dd(mpmath.pi**n)
    remainder = 2.0 / math.factorial(2 * _SINC_TERMS + p)
    return terms, pi, pi_n, remainder


def sinc_series(n: int, x: Value) -> Value:
    """d^n/dx^n sin(pi*x)/(pi*x) for |pi*x| <= 1: pi**n g^(n)(pi*x) by Horner."""
    terms, pi, pi_n, remainder = _sinc_coefficients(n)
    t = mul(pi, x)
    s = mul(t, t)
    acc = terms[-1]
    for term in reversed(terms[:-1]):
        acc = add(mul(acc, s), term)
    if n % 2:
        acc = mul(acc, t)
    result = mul(acc, pi_n)
    return Value(
        result.hi,
        result.lo,
        sum_terms(result.err, remainder * abs(pi_n.hi)),
        result.nan,
        result.unsure,
    )


def sinc_derivative(n: int, numerator: Value, x: Value, factor: Value | None = None) -> Value:
    """The n-th derivative of sinc: Leibniz's quotient (over ``factor`` too), and the
    series near 0 (where the quotient cancels, and is 0/0 at 0)."""
    result = quotient(numerator, x, n, factor)
    hi = np.asarray(x.hi, dtype=np.float64)
    if not hi.ndim:
        return sinc_series(n, x) if abs(float(hi)) <= SINC_SERIES_LIMIT else result
    index = np.flatnonzero(np.abs(hi) <= SINC_SERIES_LIMIT)
    if not index.size:
        return result
    part = take(x, index)
    series = sinc_series(n, part)
    series = Value(series.hi, series.lo, series.err, part.nan, part.unsure)
    return put(result, index, series)


# --------------------------------------------------------------------------- digamma's zeros

#: Terms of digamma's Taylor series about each of its zeros.
_ZERO_TERMS = 40
#: Of those, how many come from 128-bit mpmath (the rest, float64, are for
#: :func:`horner`'s float64 tail).
_ZERO_EXACT = 24
#: Digamma's zeros below -this are left to scipy's value (and mpmath where it falls short).
_ZERO_LIMIT = 4096


@functools.lru_cache(maxsize=256)
def _digamma_zero(k: int) -> tuple[Value, float, tuple[Value, ...], float]:
    """Zero k of digamma (0: the positive root 1.4616...; k >= 1: the one in
    (-k, 1 - k)), as a double-double (its distance to the true zero in the bound), the
    radius the series is used within, the coefficients psi^(j)(x0)/j! for j >= 1, and
    the next coefficient's size (the truncation bound is twice it times
    |h|**(terms + 1): the ratio of terms is below 1/3 within the radius, the nearest
    pole being 3 radii away or more). The first zeros' leading coefficients are
    precomputed (:mod:`~.digamma_zeros`); the float64 tail's come from sums."""
    from autograd_cli.truth.digamma_zeros import ZEROS

    if k < len(ZEROS):
        root, *head = (Value(hi, lo, err) for hi, lo, err in ZEROS[k])
    else:
        root, *head = compute_digamma_zero(k)
    x0 = root.hi + root.lo
    distance = x0 if k == 0 else min(x0 + k, 1 - k - x0)
    tail = tuple(_hurwitz_f64(j + 1, x0) for j in range(_ZERO_EXACT + 1, _ZERO_TERMS + 2))
    return root, distance / 3, (*head, *tail[:-1]), abs(tail[-1].hi) + tail[-1].err


def compute_digamma_zero(k: int) -> tuple[Value, ...]:
    """Zero k of digamma and psi^(j)(x0)/j! = (-1)**(j+1) zeta(j+1, x0) for
    j = 1.._ZERO_EXACT (Hurwitz's zeta: a third of psi's cost), from 128-bit mpmath,
    taken as right to 110 bits."""
    import mpmath

    with mpmath.workprec(128):
        low, high = (mpmath.mpf(1), mpmath.mpf(2)) if k == 0 else (-k + 1e-9, 1 - k - 1e-9)
        x0 = mpmath.findroot(lambda t: mpmath.psi(0, t), (low, high), solver="anderson")
        coefficients = [(-1) ** (j + 1) * mpmath.zeta(j + 1, x0) for j in range(1, _ZERO_EXACT + 1)]
        off = abs(mpmath.psi(0, x0) / coefficients[0])  # |x0 - the true zero|, to 1%
        return (_dd(x0, 2 * float(off)), *(_dd(c) for c in coefficients))


def _hurwitz_f64(s: int, a: float) -> Value:
    """(-1)**s zeta(s, a) = (-1)**s sum (a + n)**-s for s >= 20, in float64 (the tail
    coefficients of :func:`horner`, which need no more): the terms up to n = N, the
    rest below the integral (a + N)**(1-s)/(s-1), the rounding (N + 2) ULPs of the
    sum of |terms|."""
    n = int(max(0.0, -a)) + 40
    terms = [(a + i) ** -s for i in range(n)]
    total = math.fsum(terms)
    size = math.fsum(abs(t) for t in terms)
    rest = (a + n) ** (1 - s) / (s - 1)
    sign = -1.0 if s % 2 else 1.0
    return Value(sign * total, 0.0, (n + 2) * 2.0**-52 * size + rest)


def _dd(value: Any, error: float = 0.0) -> Value:
    """A 128-bit mpmath value as a double-double: its rounding, 2**-110 of it and
    ``error`` in the bound."""
    import mpmath

    hi = float(value)
    lo = float(value - hi)
    rest = float(abs(value - mpmath.mpf(hi) - mpmath.mpf(lo)))
    return Value(hi, lo, rest * 1.01 + abs(hi) * 2.0**-110 + error)


@functools.lru_cache(maxsize=256)
def _zero_split(k: int) -> int:
    _, radius, terms, _ = _digamma_zero(k)
    split = exact_terms(terms, radius, abs(terms[0].hi) * 2.0**-80)
    if split > _ZERO_EXACT:
        raise AssertionError(f"digamma's series needs {split} double-double terms")
    return split


def digamma_near_zeros(x: Value, result: Value) -> Value:
    """``result`` (scipy's digamma) with the points near a zero of digamma replaced by
    the series about it, in double-double: there scipy's error is absolute and the
    value small, so the relative accuracy a sweep demands comes only from this."""
    hi = np.asarray(x.hi, dtype=np.float64)
    if not hi.ndim:
        return result
    k = np.where(hi > 0, 0, np.floor(-hi) + 1)
    candidates = np.flatnonzero((hi > 0.5) & (hi < 2.5) | (hi < 0) & (hi > -_ZERO_LIMIT))
    for zero in np.unique(k[candidates]).astype(int).tolist():
        root, radius, terms, next_term = _digamma_zero(zero)
        index = candidates[(k[candidates] == zero) & (np.abs(hi[candidates] - root.hi) < radius)]
        if not index.size:
            continue
        part = take(x, index)
        h = add(part, Value(-root.hi, -root.lo, 0.0))
        acc = horner(terms, h, _zero_split(zero))
        series = mul(acc, h)
        truncation = 2 * next_term * np.abs(h.hi + np.abs(h.lo) + h.err) ** (_ZERO_TERMS + 1)
        series = Value(
            series.hi,
            series.lo,
            sum_terms(series.err, truncation),
            part.nan,
            any_flag(series.unsure, part.unsure),
        )
        result = put(result, index, series)
    return result
