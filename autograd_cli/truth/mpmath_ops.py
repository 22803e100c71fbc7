"""mpmath evaluators for SymPy's tree, with real-function semantics.

Why a compiled chain of closures and not ``lambdify`` or ``evalf``: nothing built from
user text is ever executed, and SymPy's tree is walked once so that thousands of points
cost only arithmetic. Never an exception for a bad point: a non-real value
(``sqrt(-1)``, ``log(-1)``, ``asin(2)``) and a division by an exact zero are NaN;
values beyond mpmath's reach are ``±inf`` or ``±0``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autograd_cli.truth.mp_special import special_functions

if TYPE_CHECKING:
    import sympy

#: Arguments of exp/sinh/cosh (and exponents of pow) beyond this give ±inf or 0 outright:
#: mpmath would otherwise need working precision proportional to the argument's size.
_HUGE_EXP_ARGUMENT = 2**40

#: Trigonometric arguments beyond 2**this need that many digits of pi; they give NaN.
_TRIG_MAG_LIMIT = 2**16
MpFunc = Callable[[dict[Any, Any]], Any]


def mp_nan() -> Any:
    import mpmath

    return mpmath.mpf("nan")


def mp_real(value: Any) -> Any:
    """Real-function semantics: a complex result means "undefined here"."""
    import mpmath

    if isinstance(value, mpmath.mpc):
        return value.real if value.imag == 0 else mp_nan()
    return value


def guarded(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def call(x: Any) -> Any:
        if x != x:  # NaN in, NaN out, without asking mpmath
            return x
        try:
            return mp_real(function(x))
        except (ZeroDivisionError, ValueError, OverflowError):
            return mp_nan()

    return call


def mp_exp(x: Any) -> Any:
    import mpmath

    if abs(x) > _HUGE_EXP_ARGUMENT:
        return mpmath.inf if x > 0 else mpmath.mpf(0)
    return mpmath.exp(x)


def hyperbolic(name: str) -> Callable[[Any], Any]:
    import mpmath

    function = getattr(mpmath, name)

    def call(x: Any) -> Any:
        if abs(x) > _HUGE_EXP_ARGUMENT:
            return mpmath.inf if name == "cosh" or x > 0 else -mpmath.inf
        return function(x)

    return call


def trig(name: str) -> Callable[[Any], Any]:
    import mpmath

    function = getattr(mpmath, name)

    def call(x: Any) -> Any:
        if mpmath.isfinite(x) and x != 0 and mpmath.mag(x) > _TRIG_MAG_LIMIT:
            return mp_nan()
        return function(x)

    return call


def mp_pow(base: Any, exponent: Any) -> Any:
    """Real power: negative base needs an integer exponent; 0 ** negative is undefined."""
    import mpmath

    if base != base or exponent != exponent:
        return mp_nan()
    if base == 0:
        if exponent > 0:
            return mpmath.mpf(0)
        return mpmath.mpf(1) if exponent == 0 else mp_nan()
    integer = mpmath.isint(exponent)
    if base < 0 and not integer:
        return mp_nan()
    size = abs(base)
    if mpmath.isfinite(size) and mpmath.isfinite(exponent) and size != 1:
        # Before any int(exponent): an exponent like 2**2**16 has 2**16 digits' worth of bits.
        log2 = mpmath.mpf(mpmath.mag(size) if size > 1 else mpmath.mag(1 / size))
        if abs(exponent) * log2 > _HUGE_EXP_ARGUMENT:
            if (exponent > 0) != (size > 1):
                return mpmath.mpf(0)
            _, _, shift, _ = exponent._mpf_
            odd = integer and shift == 0
            return -mpmath.inf if base < 0 and odd else mpmath.inf
    if integer:
        return mp_real(mpmath.power(base, int(exponent)))
    return mp_real(mpmath.power(base, exponent))


def _pow_integer(n: int) -> Callable[[Any], Any]:
    import mpmath

    def call(base: Any) -> Any:
        if base == 0 and n < 0:
            return mp_nan()
        return mpmath.power(base, n)

    return call


def _dirac_delta(x: Any, *order: Any) -> Any:
    import mpmath

    return mp_nan() if x == 0 or x != x else mpmath.mpf(0)


def _heaviside(x: Any, *at_zero: Any) -> Any:
    import mpmath

    if x != x or (x == 0 and not at_zero):
        return mp_nan()
    if x == 0:
        return at_zero[0]
    return mpmath.mpf(1 if x > 0 else 0)


@functools.lru_cache(maxsize=1)
def mpmath_functions() -> dict[Any, Callable[..., Any]]:
    """SymPy function class -> mpmath evaluator, for every class a derivative of ours
    can contain (SymPy also rewrites, e.g. ``tan(x + pi/2)`` -> ``-cot(x)``)."""
    import mpmath
    import sympy

    plain = {
        sympy.asin: mpmath.asin,
        sympy.acos: mpmath.acos,
        sympy.atan: mpmath.atan,
        sympy.acot: mpmath.acot,
        sympy.asec: mpmath.asec,
        sympy.acsc: mpmath.acsc,
        sympy.asinh: mpmath.asinh,
        sympy.acosh: mpmath.acosh,
        sympy.atanh: mpmath.atanh,
        sympy.acoth: mpmath.acoth,
        sympy.tanh: mpmath.tanh,
        sympy.coth: mpmath.coth,
        sympy.log: mpmath.log,
        sympy.Abs: mpmath.fabs,
        sympy.sign: mpmath.sign,
        sympy.exp: mp_exp,
        sympy.sinh: hyperbolic("sinh"),
        sympy.cosh: hyperbolic("cosh"),
        sympy.sech: lambda x: 1 / hyperbolic("cosh")(x),
        sympy.csch: lambda x: 1 / hyperbolic("sinh")(x),
        **{
            getattr(sympy, name): trig(name) for name in ("sin", "cos", "tan", "cot", "sec", "csc")
        },
    }
    table: dict[Any, Callable[..., Any]] = {k: guarded(v) for k, v in plain.items()}
    table[sympy.DiracDelta] = _dirac_delta
    table[sympy.Heaviside] = _heaviside
    table.update(special_functions())
    return table


def compile_mpmath(e: sympy.Basic) -> MpFunc:
    """Walk SymPy's tree once into closures over mpmath; the result maps a fresh dict of
    mpf values to an mpf at the current ``mpmath.mp.prec`` (NaN where undefined).

    Derivatives repeat subtrees (``exp(-x)`` three times in ``sigmoid'``): a repeated
    subtree is computed once per call (remembered in that call's dict), and a constant
    one (``log(2)``, ``sqrt(pi)``) once per precision."""
    import sympy

    seen: dict[sympy.Basic, int] = {}
    for node in sympy.preorder_traversal(e):
        seen[node] = seen.get(node, 0) + 1
    built: dict[sympy.Basic, MpFunc] = {}

    def build(node: sympy.Basic) -> MpFunc:
        if node in built:
            return built[node]
        function = _compile(node, build)
        if not node.free_symbols:
            function = _per_precision(function)
        elif node.args and seen.get(node, 0) > 1:
            function = _per_call(function, len(built))
        built[node] = function
        return function

    return build(e)


def _per_precision(function: MpFunc) -> MpFunc:
    import mpmath

    cache: dict[int, Any] = {}

    def constant(env: dict[Any, Any]) -> Any:
        bits = mpmath.mp.prec
        if bits not in cache:
            cache[bits] = function(env)
        return cache[bits]

    return constant


def _per_call(function: MpFunc, key: int) -> MpFunc:
    def shared(env: dict[Any, Any]) -> Any:
        if key not in env:
            env[key] = function(env)
        return env[key]

    return shared


def _compile(e: sympy.Basic, build: Callable[[sympy.Basic], MpFunc]) -> MpFunc:
    """One SymPy node as a closure; its children come from ``build``."""
    import mpmath
    import sympy

    if isinstance(e, sympy.Symbol):
        name = e.name
        return lambda env: env[name]
    if isinstance(e, sympy.Integer):
        n = int(e)
        return lambda env: mpmath.mpf(n)
    if isinstance(e, sympy.Rational):
        p, q = int(e.p), int(e.q)
        return lambda env: mpmath.fdiv(p, q)
    if isinstance(e, sympy.Float):
        raw = e._mpf_
        return lambda env: mpmath.mpf(raw)
    if e is sympy.pi:
        return lambda env: +mpmath.pi
    if e is sympy.E:
        return lambda env: +mpmath.e
    if e is sympy.oo:
        return lambda env: mpmath.inf
    if e is sympy.S.NegativeInfinity:
        return lambda env: -mpmath.inf
    if e in (sympy.nan, sympy.zoo, sympy.I):
        return lambda env: mp_nan()
    if isinstance(e, sympy.Add):
        terms = [build(a) for a in e.args]
        return lambda env: mpmath.fsum([t(env) for t in terms])
    if isinstance(e, sympy.Mul):
        factors = [build(a) for a in e.args]

        def product(env: dict[Any, Any]) -> Any:
            result = factors[0](env)
            for factor in factors[1:]:
                result = result * factor(env)
            return result

        return product
    if isinstance(e, sympy.Pow):
        base = build(e.base)
        exponent = e.exp
        if exponent == sympy.S.Half:
            root = guarded(mpmath.sqrt)
            return lambda env: root(base(env))
        if isinstance(exponent, sympy.Integer):
            power = _pow_integer(int(exponent))
            return lambda env: power(base(env))
        exponent_fn = build(exponent)
        return lambda env: mp_pow(base(env), exponent_fn(env))
    function = mpmath_functions().get(e.func)
    if function is not None:
        args = [build(a) for a in e.args]
        return lambda env: function(*(a(env) for a in args))
    raise NotImplementedError(f"no mpmath evaluation for SymPy's {type(e).__name__}: {e}")
