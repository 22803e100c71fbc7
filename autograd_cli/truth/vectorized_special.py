"""How the vectorized sweep program compiles the special and piecewise SymPy nodes
(erf, lgamma, polygamma, Max/Min, floor, xlogy, atan2, sinc and its derivatives).

Its own module so that :mod:`~autograd_cli.truth.vectorized` stays the compiler of
arithmetic; the values come from :mod:`~autograd_cli.truth.dd_special`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from autograd_cli.truth import dd_erf, dd_series, dd_special
from autograd_cli.truth.double_double import step_function

if TYPE_CHECKING:
    import sympy


class Builder(Protocol):
    """What this module needs of a :class:`~autograd_cli.truth.vectorized.Program`."""

    precise: bool
    refinable: bool

    def _node(self, e: Any) -> int: ...

    def _emit(self, key: Any, op: Any, *args: int) -> int: ...


def special_node(program: Builder, e: sympy.Basic) -> int | None:
    """``e`` compiled into ``program``, or None if it is not one of ours."""
    import sympy

    name = type(e).__name__.lower()
    args = e.args
    if name in ("erf", "erfc", "erfinv") or (name == "polygamma" and args[0] == 0):
        program.refinable = True
    if name in ("erf", "erfc") and program.precise:
        return program._emit(
            e, lambda inputs, x, k=name: dd_erf.erf_family(k, x), program._node(args[0])
        )
    if name == "erfinv" and program.precise:
        return program._emit(e, lambda inputs, x: dd_erf.erfinv(x), program._node(args[0]))
    if name in dd_special.FUNCTIONS and len(args) == 1:
        function = dd_special.FUNCTIONS[name]
        return program._emit(
            e, lambda inputs, x, f=function: dd_special.apply_f64(f, x), program._node(args[0])
        )
    if name == "polygamma" and args[0] == 0 and program.precise:
        function = dd_special.polygamma(0)
        return program._emit(
            e,
            lambda inputs, x, f=function: dd_series.digamma_near_zeros(
                x, dd_special.apply_f64(f, x)
            ),
            program._node(args[1]),
        )
    if name == "polygamma" and isinstance(args[0], sympy.Integer) and int(args[0]) >= 0:
        function = dd_special.polygamma(int(args[0]))
        return program._emit(
            e, lambda inputs, x, f=function: dd_special.apply_f64(f, x), program._node(args[1])
        )
    if name in ("max", "min"):
        index = program._node(args[0])
        for arg in args[1:]:
            index = program._emit(
                ("extremum", e, index, arg),
                lambda inputs, a, b, m=name == "max": dd_special.extremum(a, b, largest=m),
                index,
                program._node(arg),
            )
        return program._emit(e, lambda inputs, a: a, index)
    if name == "floor":
        return program._emit(e, lambda inputs, x: dd_special.floor(x), program._node(args[0]))
    if name == "diraccomb":
        return program._emit(e, lambda inputs, x: dd_special.dirac_comb(x), program._node(args[0]))
    if name == "diracdelta" and len(args) == 2:  # a derivative of DiracDelta: 0, NaN at 0
        return program._emit(
            e, lambda inputs, x: step_function("diracdelta", x), program._node(args[0])
        )
    if name == "xlogy":
        x, y = args
        return program._emit(
            e,
            lambda inputs, a, b, c: dd_special.xlogy(a, b, c),
            program._node(x),
            program._node(y),
            program._node(sympy.log(y)),
        )
    if name == "atan2":
        y, x = args
        angle = sympy.atan(
            sympy.Mul(y, sympy.Pow(x, -1, evaluate=False), evaluate=False), evaluate=False
        )
        return program._emit(
            e,
            lambda inputs, a, b, c, d: dd_special.atan2(a, b, c, d),
            program._node(y),
            program._node(x),
            program._node(angle),
            program._node(sympy.pi),
        )
    if name == "sinc":
        return _sinc(program, e, 0, args[0])
    if name == "sinc_derivative" and isinstance(args[0], sympy.Integer):
        return _sinc(program, e, int(args[0]), args[1])
    return None


def _sinc(program: Builder, e: sympy.Basic, n: int, u: sympy.Basic) -> int:
    """The n-th derivative of sin(pi*u)/(pi*u) by Leibniz's rule over one division by
    u**(n+1), and by its Taylor series near 0, where that quotient cancels."""
    import sympy

    # sin and cos of t = pi*u from one long double call, w = tan(t/2): sin t =
    # 2w/(1 + w**2), cos t = (1 - w**2)/(1 + w**2), the common 1/(1 + w**2) taken into
    # the quotient's one division; cos is then right to ~2**-62 absolutely (not
    # relatively near its zeros), which is all Leibniz's sum needs: where
    # cos(pi*u) = 0 the sum is sin's term, +-1/pi
    w = sympy.tan(sympy.pi * u / 2)
    sine = sympy.Mul(2, w, evaluate=False)
    cosine = 1 - w**2
    trig = (sine, cosine, -sine, -cosine)
    numerator = sympy.Add(
        *(c * sympy.pi**p * trig[m % 4] * u**m for c, p, m in dd_special.sinc_terms(n))
    )
    return program._emit(
        e,
        lambda inputs, a, b, c, k=n: dd_series.sinc_derivative(k, a, b, c),
        program._node(numerator),
        program._node(u),
        program._node(1 + w**2),
    )


def erf_complement(args: list[sympy.Basic]) -> list[sympy.Basic] | None:
    """The terms of a sum with ``c + c*erf(u)`` written ``c*erfc(-u)`` (and
    ``c - c*erf(u)`` as ``c*erfc(u)``): gelu's 1 + erf(x/sqrt(2)) cancels to nothing
    for negative x, erfc does not. None if there is no such pair."""
    import sympy

    number = next((a for a in args if a.is_Number and a != 0), None)
    if number is None:
        return None
    for term in args:
        k, rest = term.as_coeff_Mul() if isinstance(term, sympy.Mul) else (sympy.S.One, term)
        if not isinstance(rest, sympy.erf) or abs(k) != abs(number):
            continue
        u = rest.args[0]
        inner = -u if k == number else u
        replacement = sympy.Mul(number, sympy.erfc(inner, evaluate=False), evaluate=False)
        return [a for a in args if a is not term and a is not number] + [replacement]
    return None


def softplus_forms(e: sympy.Basic) -> sympy.Basic:
    """tanh and sech of softplus(u) = log1p(exp(u)) (mish and its derivatives) as the
    rational functions of t = exp(u) they are: tanh = n/(n + 2), sech = 2(1 + t)/(n + 2)
    with n = t(t + 2). No term cancels (all are positive), and the only long double
    call left is exp(u), which the rest of the expression shares: three calls fewer."""
    import sympy

    def softplus_of(a: sympy.Basic) -> sympy.Basic | None:
        if type(a).__name__ == "log1p" and isinstance(a.args[0], sympy.exp):
            return a.args[0]
        return None

    def wanted(node: sympy.Basic) -> bool:
        return isinstance(node, (sympy.tanh, sympy.sech)) and softplus_of(node.args[0]) is not None

    def form(node: sympy.Basic) -> sympy.Basic:
        t = softplus_of(node.args[0])
        n = sympy.Mul(t, sympy.Add(t, 2, evaluate=False), evaluate=False)
        denominator = sympy.Pow(sympy.Add(n, 2, evaluate=False), -1, evaluate=False)
        if isinstance(node, sympy.tanh):
            return sympy.Mul(n, denominator, evaluate=False)
        numerator = sympy.Mul(2, sympy.Add(1, t, evaluate=False), evaluate=False)
        return sympy.Mul(numerator, denominator, evaluate=False)

    if not e.has(sympy.tanh, sympy.sech):
        return e
    return e.replace(wanted, form)
