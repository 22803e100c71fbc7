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

    return str(_Printer().doprint(e))
