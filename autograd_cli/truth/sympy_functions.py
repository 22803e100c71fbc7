"""SymPy function classes for the functions SymPy has no real-valued spelling of.

Why our own classes: ``loggamma`` is complex for negative x where frameworks' lgamma is
log|gamma(x)|; ``xlogy``'s x-derivative is log(y) even at x = 0, which no Piecewise
gives; SymPy's sinc is unnormalized and its derivative ``(cos(x) - sinc(x))/x`` is 0/0
at 0; ``floor`` has no derivative in SymPy. Each class here knows its derivative, so
``sympy.diff`` of any expression stays closed; the evaluators
(:mod:`~autograd_cli.truth.mpmath_ops`, :mod:`~autograd_cli.truth.dd_special`) give
them values. Built on first use, so importing this module does not import SymPy.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any


@functools.lru_cache(maxsize=1)
def extra() -> Any:
    """The classes, as attributes: lgamma, xlogy, sinc, sinc_derivative, floor,
    DiracComb, log1p, expm1."""
    import sympy
    from sympy.codegen.cfunctions import expm1, log1p

    class lgamma(sympy.Function):
        """log|gamma(x)|: real for every x that is not a pole."""

        nargs = 1

        def fdiff(self, argindex: int = 1) -> Any:
            return sympy.polygamma(0, self.args[0])

    class xlogy(sympy.Function):
        """x*log(y), 0 where x = 0; its x-derivative log(y) holds at x = 0 too."""

        nargs = 2

        def fdiff(self, argindex: int = 1) -> Any:
            x, y = self.args
            return sympy.log(y) if argindex == 1 else x / y

    class sinc_derivative(sympy.Function):
        """The n-th derivative of the normalized sinc, sin(pi*x)/(pi*x): entire, so
        defined (and evaluated by series) at 0 too."""

        nargs = 2

        def fdiff(self, argindex: int = 2) -> Any:
            n, x = self.args
            if argindex != 2:
                raise sympy.ArgumentIndexError(self, argindex)
            return sinc_derivative(n + 1, x)

    class sinc(sympy.Function):
        """Normalized sinc: sin(pi*x)/(pi*x), 1 at 0."""

        nargs = 1

        @classmethod
        def eval(cls, x: Any) -> Any:
            return sympy.Integer(1) if x == 0 else None

        def fdiff(self, argindex: int = 1) -> Any:
            return sinc_derivative(1, self.args[0])

    class DiracComb(sympy.Function):
        """floor's derivative: 0 except at integers, where it does not exist (NaN)."""

        nargs = 1

        def fdiff(self, argindex: int = 1) -> Any:
            return DiracComb(self.args[0])

    class floor(sympy.Function):
        """Largest integer <= x; its derivative is :class:`DiracComb`."""

        nargs = 1

        def fdiff(self, argindex: int = 1) -> Any:
            return DiracComb(self.args[0])

    return SimpleNamespace(
        lgamma=lgamma,
        xlogy=xlogy,
        sinc=sinc,
        sinc_derivative=sinc_derivative,
        floor=floor,
        DiracComb=DiracComb,
        log1p=log1p,
        expm1=expm1,
    )
