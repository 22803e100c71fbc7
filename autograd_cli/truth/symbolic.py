"""The symbolic side of the exact reference: our tree as SymPy's, and its derivatives.

Why our own lowering and not ``sympify``: the safety contract says user text never
becomes code, so SymPy's tree is built by walking ours (literals become exact
Rationals). SymPy is imported only when a function here runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from autograd_cli.core.model import partial_of
from autograd_cli.expr.nodes import Expr, variables
from autograd_cli.expr.walk import lower

if TYPE_CHECKING:
    import sympy

#: Number ** number in SymPy is exact; beyond this many bits it is refused, not built.
MAX_POW_BITS = 10_000


def _sympy_pow(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """``base ** exponent``, refusing exact powers of numbers too large to build."""
    import sympy

    coefficient = base
    if isinstance(base, sympy.Mul):
        coefficient = base.as_coeff_Mul()[0]
    if isinstance(coefficient, sympy.Rational) and isinstance(exponent, sympy.Rational):
        p, q = abs(int(coefficient.p)), int(coefficient.q)
        if p > 1 or q > 1:
            bits = max(p.bit_length(), q.bit_length()) * abs(Fraction(exponent.p, exponent.q))
            if bits > MAX_POW_BITS:
                raise ValueError(
                    f"{coefficient}**{exponent} is too large to compute exactly "
                    f"(about {int(bits)} bits; the limit is {MAX_POW_BITS})"
                )
    return base**exponent


def _sympy_log(a: sympy.Expr, base: sympy.Expr | None) -> sympy.Expr:
    """SymPy's log, except that log(0) is -oo (as at a variable that is 0), not zoo."""
    import sympy

    if a == 0:
        return sympy.S.NegativeInfinity
    return sympy.log(a) if base is None else sympy.log(a, base)


@functools.lru_cache(maxsize=1)
def sympy_ops() -> dict[str, Callable[..., Any]]:
    """The ops table that lowers our tree onto SymPy (exact: literals are Rationals)."""
    import sympy

    two, ten = sympy.Integer(2), sympy.Integer(10)
    return {
        "num": lambda v: sympy.Rational(v.numerator, v.denominator),
        "pi": lambda: sympy.pi,
        "e": lambda: sympy.E,
        "neg": lambda a: -a,
        "pos": lambda a: a,
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
        "pow": _sympy_pow,
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tan": sympy.tan,
        "asin": sympy.asin,
        "acos": sympy.acos,
        "atan": sympy.atan,
        "sinh": sympy.sinh,
        "cosh": sympy.cosh,
        "tanh": sympy.tanh,
        "exp": sympy.exp,
        "log": lambda a: _sympy_log(a, None),
        "log2": lambda a: _sympy_log(a, two),
        "log10": lambda a: _sympy_log(a, ten),
        "sqrt": sympy.sqrt,
        "abs": sympy.Abs,
        "sigmoid": lambda a: 1 / (1 + sympy.exp(-a)),
        **_special_ops(),
    }


def _rational(value: Fraction) -> sympy.Rational:
    import sympy

    return sympy.Rational(value.numerator, value.denominator)


def _max(*args: Any) -> Any:
    """SymPy's Max, unevaluated when an argument is itself a Max or Min: evaluating
    compares the nested arguments pairwise (hard_sigmoid of hard_sigmoid of ... grew
    about 2.6 times per level, 8 levels in ~40 s); the function is the same."""
    import sympy

    return sympy.Max(*args, evaluate=not any(_extremum(a) for a in args))


def _min(*args: Any) -> Any:
    """SymPy's Min, unevaluated as :func:`_max` is."""
    import sympy

    return sympy.Min(*args, evaluate=not any(_extremum(a) for a in args))


def _extremum(e: Any) -> bool:
    import sympy

    return bool(e.has(sympy.Max, sympy.Min))


def _special_ops() -> dict[str, Callable[..., Any]]:
    """The ML and special functions. Kinks are Max/Min, whose derivatives are
    Heaviside(u, 1/2): at a kink or a tie the reference gives the midpoint of the
    one-sided derivatives, as sign(0) = 0 does for abs (the point is labelled
    non-differentiable by :mod:`autograd_cli.domain` either way); a second derivative
    there is DiracDelta, NaN. Parameters arrive as exact Fractions after the inputs."""
    import sympy

    from autograd_cli.expr.functions import SELU_ALPHA, SELU_SCALE
    from autograd_cli.truth.sympy_functions import extra

    x = extra()
    zero, half = sympy.Integer(0), sympy.Rational(1, 2)

    def elu(a: Any, alpha: Fraction) -> Any:
        return _max(a, zero) + _rational(alpha) * x.expm1(_min(a, zero))

    def relu6(a: Any) -> Any:
        return _min(_max(a, zero), sympy.Integer(6))

    def gelu(a: Any) -> Any:
        # x/2*(1 + erf(x/sqrt(2))) as x/2*erfc(-x/sqrt(2)): 1 + erf cancels to an exact
        # 0 at every precision for x < -20, erfc does not (SymPy would rewrite erfc(-u)
        # as 2 - erfc(u) if it evaluated).
        return a / 2 * sympy.erfc(-a / sympy.sqrt(2), evaluate=False)

    def gelu_tanh(a: Any) -> Any:
        # x/2*(1 + tanh(u)) is x/(1 + exp(-2u)): the same function, without the
        # cancellation of 1 + tanh(u) for negative x.
        u = sympy.sqrt(2 / sympy.pi) * (a + sympy.Rational(44715, 10**6) * a**3)
        return a / (1 + sympy.exp(-2 * u))

    return {
        "asinh": sympy.asinh,
        "acosh": sympy.acosh,
        "atanh": sympy.atanh,
        "log1p": x.log1p,
        "expm1": x.expm1,
        "rsqrt": lambda a: _sympy_pow(a, -half),
        "square": lambda a: _sympy_pow(a, sympy.Integer(2)),
        "sign": sympy.sign,
        "floor": x.floor,
        "atan2": sympy.atan2,
        "hypot": lambda a, b: sympy.sqrt(a**2 + b**2),
        "minimum": _min,
        "maximum": _max,
        "clip": lambda a, lo, hi: _min(_max(a, _rational(lo)), _rational(hi)),
        "xlogy": x.xlogy,
        "sinc": x.sinc,
        "erf": sympy.erf,
        "erfc": sympy.erfc,
        "erfinv": sympy.erfinv,
        "lgamma": x.lgamma,
        "digamma": lambda a: sympy.polygamma(0, a),
        "log_sigmoid": lambda a: -x.log1p(sympy.exp(-a)),
        "softplus": lambda a: x.log1p(sympy.exp(a)),
        "relu": lambda a: _max(a, zero),
        "relu6": relu6,
        "leaky_relu": lambda a, slope: _max(a, zero) + _rational(slope) * _min(a, zero),
        "elu": elu,
        "selu": lambda a: _rational(SELU_SCALE) * elu(a, SELU_ALPHA),
        "silu": lambda a: a / (1 + sympy.exp(-a)),
        "gelu": gelu,
        "gelu_tanh": gelu_tanh,
        "softsign": lambda a: a / (1 + sympy.Abs(a)),
        "hard_sigmoid": lambda a: relu6(a + 3) / 6,
        "mish": lambda a: a * sympy.tanh(x.log1p(sympy.exp(a))),
    }


def to_sympy(expr: Expr) -> sympy.Expr:
    """Our tree as a SymPy expression; variables are real Symbols."""
    import sympy

    env = {name: sympy.Symbol(name, real=True) for name in variables(expr)}
    return lower(expr, sympy_ops(), env)


def derivative(expr: Expr, wrt: str) -> sympy.Expr:
    """d expr / d wrt as SymPy gives it (already readable; simplify is slow and fickle);
    ``wrt`` is a label, so "x,y" is the mixed partial (x first, then y)."""
    return differentiate(to_sympy(expr), wrt)


def differentiate(f: sympy.Expr, wrt: str) -> sympy.Expr:
    """``f`` differentiated by each variable of the label ``wrt`` in turn.

    SymPy leaves a derivative of ``sign(u)`` unevaluated when u is compound (abs at
    order 2 and up); it is 0 wherever u is not 0 and does not exist where it is, which
    is exactly DiracDelta(u)'s value in our evaluators: written so, every reference
    can evaluate it."""
    import sympy

    found = sympy.diff(f, *(sympy.Symbol(name, real=True) for name in partial_of(wrt)))
    return found.replace(
        lambda e: isinstance(e, sympy.Derivative) and isinstance(e.expr, sympy.sign),
        lambda e: sympy.DiracDelta(e.expr.args[0]),
    )


def format_sympy(e: sympy.Basic) -> str:
    """SymPy's text, spelled in our language where it differs (``e``, ``abs``)."""
    from sympy.printing.str import StrPrinter

    class _Printer(StrPrinter):
        def _print_Exp1(self, expr: Any) -> str:
            return "e"

        def _print_Abs(self, expr: Any) -> str:
            return f"abs({self._print(expr.args[0])})"

        def _print_Max(self, expr: Any) -> str:
            return self._pairwise("maximum", expr.args)

        def _print_Min(self, expr: Any) -> str:
            return self._pairwise("minimum", expr.args)

        def _pairwise(self, name: str, args: Any) -> str:
            text = self._print(args[0])
            for arg in args[1:]:
                text = f"{name}({text}, {self._print(arg)})"
            return text

        def _print_polygamma(self, expr: Any) -> str:
            n, arg = expr.args
            if n == 0:
                return f"digamma({self._print(arg)})"
            return f"polygamma({self._print(n)}, {self._print(arg)})"

        def _print_sinc_derivative(self, expr: Any) -> str:
            n, arg = expr.args
            return f"sinc{chr(39) * int(n)}({self._print(arg)})"

    return str(_Printer().doprint(e))
