"""The allowlist of functions: one table that the parser and every backend read.

A backend's ops table must cover every name here (a test checks it), so adding a
function is one entry here plus one entry per ops table. A function takes ``arity``
expression arguments (the inputs that derivatives flow through) followed by its
``params``: numeric constants, written positionally (``leaky_relu(x, 0.2)``), with the
frameworks' documented defaults where they have one. The parser fills in omitted
defaults, so every :class:`~autograd_cli.expr.nodes.Call` carries all its parameters
as trailing ``Num`` arguments and every ops table receives them as exact ``Fraction``
values after the lowered inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Param:
    """A numeric parameter; ``default`` None means the user must give it."""

    name: str
    default: Fraction | None = None


@dataclass(frozen=True)
class Function:
    name: str
    arity: int
    meaning: str
    definition: str = ""
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def required(self) -> int:
        """How many arguments a call must have: the inputs and the params without default."""
        return self.arity + sum(p.default is None for p in self.params)

    @property
    def most(self) -> int:
        return self.arity + len(self.params)

    def signature(self) -> str:
        """``leaky_relu(x, negative_slope=0.01)``: how `gradcheck functions` and errors spell it."""
        inputs = ["x", "y"] if self.arity == 2 else ["x"]
        if self.name == "atan2":
            inputs = ["y", "x"]
        shown = [
            p.name if p.default is None else f"{p.name}={_number(p.default)}" for p in self.params
        ]
        return f"{self.name}({', '.join(inputs + shown)})"


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else repr(float(value))


def _f(text: str) -> Fraction:
    return Fraction(text)


_ELEMENTARY = (
    Function("sin", 1, "sine", "sin(x)"),
    Function("cos", 1, "cosine", "cos(x)"),
    Function("tan", 1, "tangent", "tan(x)"),
    Function("asin", 1, "inverse sine", "asin(x), |x| <= 1"),
    Function("acos", 1, "inverse cosine", "acos(x), |x| <= 1"),
    Function("atan", 1, "inverse tangent", "atan(x)"),
    Function("sinh", 1, "hyperbolic sine", "sinh(x)"),
    Function("cosh", 1, "hyperbolic cosine", "cosh(x)"),
    Function("tanh", 1, "hyperbolic tangent", "tanh(x)"),
    Function("asinh", 1, "inverse hyperbolic sine", "asinh(x)"),
    Function("acosh", 1, "inverse hyperbolic cosine", "acosh(x), x >= 1"),
    Function("atanh", 1, "inverse hyperbolic tangent", "atanh(x), |x| < 1"),
    Function("exp", 1, "exponential", "e**x"),
    Function("expm1", 1, "exponential minus one", "e**x - 1, accurate near 0"),
    Function("log", 1, "natural logarithm", "log(x), x > 0"),
    Function("log1p", 1, "logarithm of one plus x", "log(1 + x), accurate near 0"),
    Function("log2", 1, "base-2 logarithm", "log(x)/log(2)"),
    Function("log10", 1, "base-10 logarithm", "log(x)/log(10)"),
    Function("sqrt", 1, "square root", "x**(1/2), x >= 0"),
    Function("rsqrt", 1, "reciprocal square root", "x**(-1/2), x > 0"),
    Function("square", 1, "square", "x**2"),
    Function("abs", 1, "absolute value", "|x|"),
    Function("sign", 1, "sign", "-1, 0 or 1; derivative 0 except at the jump at 0"),
    Function("floor", 1, "floor", "largest integer <= x; derivative 0 except at integers"),
    Function(
        "atan2",
        2,
        "two-argument inverse tangent",
        "the angle of the point (x, y)",
    ),
    Function("hypot", 2, "hypotenuse", "sqrt(x**2 + y**2)"),
    Function("minimum", 2, "smaller of two values", "min(x, y)"),
    Function("maximum", 2, "larger of two values", "max(x, y)"),
    Function(
        "clip",
        1,
        "x clipped to [lo, hi]",
        "min(max(x, lo), hi)",
        (Param("lo"), Param("hi")),
        aliases=("clamp",),
    ),
    Function("xlogy", 2, "x times log(y), 0 where x is 0", "x*log(y); 0 where x = 0"),
    Function("sinc", 1, "normalized sinc", "sin(pi*x)/(pi*x); 1 at 0"),
)

_SPECIAL = (
    Function("erf", 1, "error function", "2/sqrt(pi) * integral of exp(-t**2) from 0 to x"),
    Function("erfc", 1, "complementary error function", "1 - erf(x)"),
    Function("erfinv", 1, "inverse error function", "y with erf(y) = x, |x| < 1"),
    Function(
        "lgamma",
        1,
        "log of the absolute value of the gamma function",
        "log(|gamma(x)|)",
    ),
    Function("digamma", 1, "digamma function", "gamma'(x)/gamma(x)"),
)

_ACTIVATIONS = (
    Function(
        "sigmoid",
        1,
        "logistic function 1/(1+exp(-x))",
        "1/(1 + e**-x)",
    ),
    Function(
        "log_sigmoid", 1, "log of the logistic function", "-softplus(-x)", aliases=("logsigmoid",)
    ),
    Function("softplus", 1, "softplus", "log(1 + e**x)"),
    Function("relu", 1, "rectified linear unit", "max(x, 0)"),
    Function("relu6", 1, "rectified linear unit capped at 6", "min(max(x, 0), 6)"),
    Function(
        "leaky_relu",
        1,
        "leaky rectified linear unit",
        "x if x >= 0 else negative_slope*x",
        (Param("negative_slope", _f("0.01")),),
    ),
    Function(
        "elu",
        1,
        "exponential linear unit",
        "x if x > 0 else alpha*(e**x - 1)",
        (Param("alpha", _f("1")),),
    ),
    Function(
        "selu",
        1,
        "scaled exponential linear unit",
        "scale*(x if x > 0 else alpha*(e**x - 1)), alpha = 1.6732632423543772, "
        "scale = 1.0507009873554805",
    ),
    Function("silu", 1, "sigmoid linear unit (swish)", "x*sigmoid(x)", aliases=("swish",)),
    Function("gelu", 1, "Gaussian error linear unit (exact, erf form)", "x/2*(1 + erf(x/sqrt(2)))"),
    Function(
        "gelu_tanh",
        1,
        "Gaussian error linear unit (tanh approximation)",
        "x/2*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x**3)))",
    ),
    Function("softsign", 1, "softsign", "x/(1 + |x|)"),
    Function("hard_sigmoid", 1, "hard sigmoid", "relu6(x + 3)/6", aliases=("hardsigmoid",)),
    Function("mish", 1, "mish", "x*tanh(softplus(x))"),
)

FUNCTIONS: dict[str, Function] = {f.name: f for f in (*_ELEMENTARY, *_SPECIAL, *_ACTIVATIONS)}

#: Other spellings that parse as the function they name (``swish(x)`` is ``silu(x)``).
ALIASES: dict[str, str] = {alias: f.name for f in FUNCTIONS.values() for alias in f.aliases}

#: The SELU constants, as frameworks write them (float64 literals, rounded to the dtype).
SELU_ALPHA = _f("1.6732632423543772848170429916717")
SELU_SCALE = _f("1.0507009873554804934193349852946")

CONSTANTS: tuple[str, ...] = ("pi", "e")

OPERATORS: tuple[str, ...] = ("neg", "pos", "add", "sub", "mul", "div", "pow")
