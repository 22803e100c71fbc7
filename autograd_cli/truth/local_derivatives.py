"""Each primitive's own derivatives f^(j)(z), j = 0..n, for the noise floor's chain rule.

Why closed forms: the floor scales with these values, so each comes from a formula that
stays accurate where it is tiny (sech² as 1/cosh², sigmoid' as s·sigmoid(-z), erf' as
e^(-z²) times a Hermite polynomial), and the derivative families are integer
polynomials built here (exact, no SymPy, nothing built from user text):

* tanh, sigmoid, tan: polynomials in the function's own value;
* atan/atanh (1/(c + s z²)), asin/acos/asinh/acosh (1/sqrt(c + s z²)): polynomials in z
  times a power of that factor;
* erf/erfc: Hermite polynomials times e^(-z²); erfinv: polynomials in y = erfinv(x)
  times (sqrt(pi)/2 e^(y²))^j, from y' = sqrt(pi)/2 e^(y²);
* lgamma^(j) = polygamma(j-1), digamma^(j) = polygamma(j); softplus^(j) = sigmoid^(j-1);
* sinc by its Taylor series near 0 (no 0/0) and by Leibniz on sin(t)·t^-1 elsewhere.

Every formula is exact math: the floor's jets carry the true derivative (a test checks
each function to 1e-11 at orders 1 to 4).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from autograd_cli.truth.floor_arith import FloorArith

__all__ = ["UNARY", "derivatives", "falling"]

Poly = tuple[int, ...]


def _pderiv(p: Poly) -> Poly:
    return tuple(i * c for i, c in enumerate(p))[1:] or (0,)


def _padd(p: Poly, q: Poly) -> Poly:
    n = max(len(p), len(q))
    return tuple((p[i] if i < len(p) else 0) + (q[i] if i < len(q) else 0) for i in range(n))


def _pmul(p: Poly, q: Poly) -> Poly:
    out = [0] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] += a * b
    return tuple(out)


def _horner(p: Poly, t: Any) -> Any:
    acc: Any = p[-1]
    for c in reversed(p[:-1]):
        acc = acc * t + c
    return acc


@functools.cache
def _tanh_q(j: int) -> Poly:
    """tanh^(j) = sech² · Q_j(tanh) for j >= 1 (sech² taken as 1/cosh², not 1 - t²)."""
    if j == 1:
        return (1,)
    q = _tanh_q(j - 1)
    return _padd(_pmul((1, 0, -1), _pderiv(q)), _pmul((0, -2), q))


@functools.cache
def _sigmoid_q(j: int) -> Poly:
    """sigmoid^(j) = s(1-s) · Q_j(s) for j >= 1, with 1-s taken as sigmoid(-z)."""
    if j == 1:
        return (1,)
    q = _sigmoid_q(j - 1)
    return _padd(_pmul((1, -2), q), _pmul((0, 1, -1), _pderiv(q)))


@functools.cache
def _tan_p(j: int) -> Poly:
    """tan^(j) = P_j(tan)."""
    if j == 0:
        return (0, 1)
    return _pmul(_pderiv(_tan_p(j - 1)), (1, 0, 1))


@functools.cache
def _reciprocal_family(c: int, s: int, j: int) -> tuple[Poly, int]:
    """f' = v = 1/(c + s z²) (atan: 1, 1; atanh: 1, -1): f^(j) = A_j(z) · v^m."""
    if j == 1:
        return (1,), 1
    a, m = _reciprocal_family(c, s, j - 1)
    return _padd(_pmul(_pderiv(a), (c, 0, s)), _pmul((0, -2 * s * m), a)), m + 1


@functools.cache
def _root_family(c: int, s: int, j: int) -> tuple[Poly, int]:
    """f' = w = (c + s z²)^(-1/2) (asin: 1, -1; asinh: 1, 1; acosh: -1, 1):
    f^(j) = B_j(z) · w^m."""
    if j == 1:
        return (1,), 1
    b, m = _root_family(c, s, j - 1)
    return _padd(_pmul(_pderiv(b), (c, 0, s)), _pmul((0, -s * m), b)), m + 2


@functools.cache
def _hermite(n: int) -> Poly:
    """Physicists' Hermite polynomial: d^n/dz^n e^(-z²) = (-1)^n H_n(z) e^(-z²)."""
    if n == 0:
        return (1,)
    h = _hermite(n - 1)
    return _padd(_pmul((0, 2), h), tuple(-c for c in _pderiv(h)))


@functools.cache
def _erfinv_p(j: int) -> Poly:
    """erfinv^(j)(x) = P_j(y) · (sqrt(pi)/2 e^(y²))^j with y = erfinv(x)."""
    if j == 1:
        return (1,)
    p = _erfinv_p(j - 1)
    return _padd(_pderiv(p), _pmul((0, 2 * (j - 1)), p))


def falling(p: Any, j: int) -> Any:
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


def _sigmoid_derivatives(arith: FloorArith, z: Any, n: int) -> list[Any]:
    """sigmoid^(j)(z), j = 0..n."""
    s = arith.recip(1 + arith.func("exp", -z))
    r = arith.recip(1 + arith.func("exp", z))
    slope = s * r
    return [s] + [slope * _horner(_sigmoid_q(j), s) for j in range(1, n + 1)]


def _sinc_coefficient(arith: FloorArith, m: int, j: int) -> Any:
    """(-1)^m (2m)! / ((2m-j)! (2m+1)!): the t^(2m-j) coefficient of S^(j)."""
    numerator = (-1) ** m * math.factorial(2 * m)
    denominator = math.factorial(2 * m - j) * math.factorial(2 * m + 1)
    if arith.exact:
        import mpmath

        return mpmath.mpf(numerator) / denominator
    return numerator / denominator


def _sinc(arith: FloorArith, z: Any, n: int) -> list[Any]:
    """Normalized sinc: sinc^(j)(z) = pi^j S^(j)(pi z), S(t) = sin(t)/t; its Taylor
    series where |t| < 2 (no cancellation of the 1/t^j terms), Leibniz elsewhere."""
    pi = arith.named("pi")
    t = pi * z
    near = arith.truth(abs(t) < 2)
    safe = arith.where(near, 0.5 + 0 * t, t)  # the direct formula, away from 0
    sin, cos = arith.func("sin", safe), arith.func("cos", safe)
    cycle = [sin, cos, -sin, -cos]
    inverse = arith.recip(safe)
    inverse_powers = [inverse]
    for _ in range(n):
        inverse_powers.append(inverse_powers[-1] * inverse)
    small = arith.where(near, t, 0 * t)
    square = small * small
    terms = 22 if arith.exact else 14
    out = []
    for j in range(n + 1):
        first = (j + 1) // 2
        series: Any = 0
        for m in reversed(range(first, first + terms)):  # Horner in t²
            series = series * square + _sinc_coefficient(arith, m, j)
        if j % 2:
            series = series * small
        direct: Any = 0
        for k in range(j + 1):
            tail = (-1) ** (j - k) * math.factorial(j - k) * inverse_powers[j - k]
            direct = direct + math.comb(j, k) * cycle[k % 4] * tail
        out.append(arith.where(near, series, direct) * pi**j)
    return out


def derivatives(arith: FloorArith, name: str, z: Any, n: int) -> list[Any]:
    """f^(j)(z) for j = 0..n of the smooth primitive ``name`` (one of :data:`UNARY`)."""
    f = arith.func
    if name in ("sin", "cos"):
        s, co = f("sin", z), f("cos", z)
        cycle = [s, co, -s, -co] if name == "sin" else [co, -s, -co, s]
        return [cycle[j % 4] for j in range(n + 1)]
    if name in ("sinh", "cosh"):
        sh, ch = f("sinh", z), f("cosh", z)
        pair = [sh, ch] if name == "sinh" else [ch, sh]
        return [pair[j % 2] for j in range(n + 1)]
    if name in ("exp", "expm1"):
        value = f("exp", z)
        return [f(name, z)] + [value] * n
    if name == "tanh":
        t = f("tanh", z)
        cosh = f("cosh", z)
        sech2 = arith.recip(cosh * cosh)
        return [t] + [sech2 * _horner(_tanh_q(j), t) for j in range(1, n + 1)]
    if name == "sigmoid":
        return _sigmoid_derivatives(arith, z, n)
    if name in ("softplus", "log_sigmoid"):
        s = _sigmoid_derivatives(arith, z, max(n - 1, 0))
        if name == "softplus":
            return [f("softplus", z), *s][: n + 1]
        rest = [-d for d in s[1:]]  # log_sigmoid'(z) = sigmoid(-z), then -sigmoid^(j-1)
        return [-f("softplus", -z), arith.recip(1 + f("exp", z)), *rest][: n + 1]
    if name == "tan":
        t = f("tan", z)
        return [_horner(_tan_p(j), t) for j in range(n + 1)]
    if name in ("log", "log2", "log10", "log1p"):
        inverse = arith.recip(1 + z if name == "log1p" else z)
        scale: Any = 1
        if name in ("log2", "log10"):
            scale = arith.recip(arith.log_of(2 if name == "log2" else 10))
        out = [f(name, z)]
        power: Any = inverse
        for j in range(1, n + 1):
            out.append((-1) ** (j - 1) * math.factorial(j - 1) * power * scale)
            power = power * inverse
        return out
    if name in ("atan", "atanh"):
        c, s_ = 1, 1 if name == "atan" else -1
        v = arith.recip(1 + z * z) if name == "atan" else arith.recip((1 - z) * (1 + z))
        out = [f(name, z)]
        for j in range(1, n + 1):
            poly, m = _reciprocal_family(c, s_, j)
            out.append(_horner(poly, z) * v**m)
        return out
    if name in ("asin", "acos", "asinh", "acosh"):
        c, s_ = {"asin": (1, -1), "acos": (1, -1), "asinh": (1, 1), "acosh": (-1, 1)}[name]
        inside = {"asinh": 1 + z * z, "acosh": (z - 1) * (z + 1)}.get(name, (1 - z) * (1 + z))
        w = arith.recip(f("sqrt", inside))
        sign = -1 if name == "acos" else 1
        out = [f(name, z)]
        for j in range(1, n + 1):
            poly, m = _root_family(c, s_, j)
            out.append(sign * _horner(poly, z) * w**m)
        return out
    if name in ("erf", "erfc"):
        sign = 1 if name == "erf" else -1
        bell = 2 * arith.recip(arith.named("sqrtpi")) * f("exp", -z * z)
        out = [f(name, z)]
        for j in range(1, n + 1):
            out.append(sign * (-1) ** (j - 1) * _horner(_hermite(j - 1), z) * bell)
        return out
    if name == "erfinv":
        y = f("erfinv", z)
        slope = arith.named("sqrtpi") / 2 * f("exp", y * y)
        return [y] + [_horner(_erfinv_p(j), y) * slope**j for j in range(1, n + 1)]
    if name in ("lgamma", "digamma"):
        if name == "digamma":
            return arith.polygammas(z, range(n + 1))
        return [f("lgamma", z), *arith.polygammas(z, range(n))]
    if name == "sinc":
        return _sinc(arith, z, n)
    raise ValueError(f"no derivatives for function {name!r}")


#: The smooth primitives :func:`derivatives` knows (sqrt, abs and the piecewise and
#: composed functions are built in :mod:`~autograd_cli.truth.floor_functions`).
UNARY: frozenset[str] = frozenset(
    (
        *("sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "expm1", "sigmoid"),
        *("softplus", "log_sigmoid", "log", "log2", "log10", "log1p", "atan", "atanh"),
        *("asin", "acos", "asinh", "acosh", "erf", "erfc", "erfinv", "lgamma", "digamma"),
        "sinc",
    )
)
