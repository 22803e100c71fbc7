"""The exact reference: SymPy differentiates our tree, mpmath evaluates the result.

Why not ``lambdify`` or ``evalf`` on text: the safety contract says user text never
becomes code, so both our tree and SymPy's are *walked*. SymPy's tree is compiled once
into a chain of closures over mpmath, so thousands of points cost only arithmetic.

Why adaptive precision: the backends are judged in ULPs, so the truth must be right
to well beyond float64 (a double-double, ~106 bits) even where the expression cancels.
Each point is evaluated at rising precision until two evaluations agree.

Real-function semantics, never an exception for a bad point: a non-real value
(``sqrt(-1)``, ``log(-1)``, ``asin(2)``) and a division by an exact zero (``1/0``,
``sqrt'(0)``) are NaN; ``log(0)`` is ``-inf`` (its only limit); values beyond float64
are ``±inf`` or ``±0``. SymPy and mpmath are imported only when a function here runs.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from autograd_cli.backends.base import Backend, Evaluation, lower
from autograd_cli.expr.nodes import Expr, variables
from autograd_cli.model import ALL_DTYPES, MAX_ORDER, partial_of

if TYPE_CHECKING:
    import sympy

#: Number ** number in SymPy is exact; beyond this many bits it is refused, not built.
MAX_POW_BITS = 10_000

#: Precisions tried per point, in bits: accept the first that agrees with the one before.
PRECISIONS: tuple[int, ...] = (160, 256, 512, 1024, 2048, 4096)

#: Relative agreement demanded between two precisions (a double-double needs ~106 bits).
AGREEMENT_BITS = 112

#: Arguments of exp/sinh/cosh (and exponents of pow) beyond this give ±inf or 0 outright:
#: mpmath would otherwise need working precision proportional to the argument's size.
_HUGE_EXP_ARGUMENT = 2**40

#: Trigonometric arguments beyond 2**this need that many digits of pi; they give NaN.
_TRIG_MAG_LIMIT = 2**16

MpFunc = Callable[[dict[Any, Any]], Any]


# --------------------------------------------------------------------------- SymPy side


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


# --------------------------------------------------------------------------- mpmath side


def _nan() -> Any:
    import mpmath

    return mpmath.mpf("nan")


def _real(value: Any) -> Any:
    """Real-function semantics: a complex result means "undefined here"."""
    import mpmath

    if isinstance(value, mpmath.mpc):
        return value.real if value.imag == 0 else _nan()
    return value


def _guarded(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def call(x: Any) -> Any:
        if x != x:  # NaN in, NaN out, without asking mpmath
            return x
        try:
            return _real(function(x))
        except (ZeroDivisionError, ValueError, OverflowError):
            return _nan()

    return call


def _exp(x: Any) -> Any:
    import mpmath

    if abs(x) > _HUGE_EXP_ARGUMENT:
        return mpmath.inf if x > 0 else mpmath.mpf(0)
    return mpmath.exp(x)


def _hyperbolic(name: str) -> Callable[[Any], Any]:
    import mpmath

    function = getattr(mpmath, name)

    def call(x: Any) -> Any:
        if abs(x) > _HUGE_EXP_ARGUMENT:
            return mpmath.inf if name == "cosh" or x > 0 else -mpmath.inf
        return function(x)

    return call


def _trig(name: str) -> Callable[[Any], Any]:
    import mpmath

    function = getattr(mpmath, name)

    def call(x: Any) -> Any:
        if mpmath.isfinite(x) and x != 0 and mpmath.mag(x) > _TRIG_MAG_LIMIT:
            return _nan()
        return function(x)

    return call


def _pow(base: Any, exponent: Any) -> Any:
    """Real power: negative base needs an integer exponent; 0 ** negative is undefined."""
    import mpmath

    if base != base or exponent != exponent:
        return _nan()
    if base == 0:
        if exponent > 0:
            return mpmath.mpf(0)
        return mpmath.mpf(1) if exponent == 0 else _nan()
    integer = mpmath.isint(exponent)
    if base < 0 and not integer:
        return _nan()
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
        return _real(mpmath.power(base, int(exponent)))
    return _real(mpmath.power(base, exponent))


def _pow_integer(n: int) -> Callable[[Any], Any]:
    import mpmath

    def call(base: Any) -> Any:
        if base == 0 and n < 0:
            return _nan()
        return mpmath.power(base, n)

    return call


def _dirac_delta(x: Any, *order: Any) -> Any:
    import mpmath

    return _nan() if x == 0 or x != x else mpmath.mpf(0)


def _heaviside(x: Any, *at_zero: Any) -> Any:
    import mpmath

    if x != x or (x == 0 and not at_zero):
        return _nan()
    if x == 0:
        return at_zero[0]
    return mpmath.mpf(1 if x > 0 else 0)


@functools.lru_cache(maxsize=1)
def _mpmath_functions() -> dict[Any, Callable[..., Any]]:
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
        sympy.exp: _exp,
        sympy.sinh: _hyperbolic("sinh"),
        sympy.cosh: _hyperbolic("cosh"),
        sympy.sech: lambda x: 1 / _hyperbolic("cosh")(x),
        sympy.csch: lambda x: 1 / _hyperbolic("sinh")(x),
        **{
            getattr(sympy, name): _trig(name) for name in ("sin", "cos", "tan", "cot", "sec", "csc")
        },
    }
    table: dict[Any, Callable[..., Any]] = {k: _guarded(v) for k, v in plain.items()}
    table[sympy.DiracDelta] = _dirac_delta
    table[sympy.Heaviside] = _heaviside
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
        return lambda env: _nan()
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
            root = _guarded(mpmath.sqrt)
            return lambda env: root(base(env))
        if isinstance(exponent, sympy.Integer):
            power = _pow_integer(int(exponent))
            return lambda env: power(base(env))
        exponent_fn = build(exponent)
        return lambda env: _pow(base(env), exponent_fn(env))
    function = _mpmath_functions().get(e.func)
    if function is not None:
        args = [build(a) for a in e.args]
        return lambda env: function(*(a(env) for a in args))
    raise NotImplementedError(f"no mpmath evaluation for SymPy's {type(e).__name__}: {e}")


def _agree(a: Any, b: Any) -> bool:
    import mpmath

    if a != a or b != b:
        return a != a and b != b
    if a == b:
        return True
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
        return False
    return bool(abs(a - b) <= abs(b) * mpmath.ldexp(1, -AGREEMENT_BITS))


def _evaluate_point(function: MpFunc, env: Mapping[str, Any]) -> tuple[Any, int]:
    """The value at one point, raising precision until two evaluations agree."""
    import mpmath

    previous: Any = None
    value: Any = None
    for bits in PRECISIONS:
        mpmath.mp.prec = bits
        try:
            value = _real(function(dict(env)))
        except (ZeroDivisionError, ValueError, OverflowError):
            value = _nan()
        if previous is not None and _agree(previous, value):
            return value, bits
        previous = value
    return value, PRECISIONS[-1]


def _nearest_float(value: Any) -> float:
    """The float64 nearest to an exact mpf (ties to even, gradual underflow)."""
    import mpmath

    if value != value:
        return float("nan")
    if mpmath.isinf(value):
        return float("inf") if value > 0 else float("-inf")
    sign, man, exp, bc = value._mpf_
    if not man:
        return 0.0
    if exp + bc > 1025:
        return float("-inf") if sign else float("inf")
    if exp + bc < -1076:
        return -0.0 if sign else 0.0
    exact = Fraction(man << exp) if exp >= 0 else Fraction(man, 1 << -exp)
    try:
        result = float(exact)
    except OverflowError:
        result = float("inf")
    return -result if sign else result


def _double_double(value: Any) -> tuple[float, float]:
    """(hi, lo): hi the nearest float64, lo the nearest float64 to value - hi."""
    import mpmath

    hi = _nearest_float(value)
    if not np.isfinite(hi):
        return hi, 0.0
    return hi, _nearest_float(mpmath.fsub(value, hi, exact=True))


# --------------------------------------------------------------------------- deadline


class ReferenceTimeout(ValueError):
    """The exact reference ran past the request's --timeout (a ValueError: the CLI
    prints it and exits 2, a suite makes it that case's error)."""


class _Expired(BaseException):
    """Raised by SIGALRM wherever SymPy or mpmath is; a BaseException so that no
    ``except Exception`` inside them swallows it. Never leaves :meth:`Deadline.alarm`."""


class Deadline:
    """When the exact reference must be done: ``seconds`` (the request's timeout) from
    now. :meth:`check` is for loops between points; :meth:`alarm` also interrupts one
    long call (``sympy.diff`` of a huge derivative), in the main thread only."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.at = time.monotonic() + self.seconds
        #: What runs now, for the message: "sympy.diff of --order 4", ...
        self.doing = "the exact reference"

    def error(self) -> ReferenceTimeout:
        return ReferenceTimeout(
            f"the exact reference did not finish within --timeout {self.seconds:g} s "
            f"({self.doing}); lower --order, use fewer points, or raise --timeout"
        )

    def check(self) -> None:
        if time.monotonic() >= self.at:
            raise self.error()

    @contextmanager
    def alarm(self) -> Iterator[Deadline]:
        """Run the block under a SIGALRM at the deadline (the previous handler and
        timer, e.g. an outer alarm's, come back after it). Outside the main thread
        signals cannot be used: the block then relies on :meth:`check`."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "setitimer"
        ):
            yield self
            return
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.error()

        def ring(signum: int, frame: Any) -> None:
            raise _Expired

        previous = signal.signal(signal.SIGALRM, ring)
        outer, interval = signal.setitimer(signal.ITIMER_REAL, left)
        armed = time.monotonic()
        try:
            try:
                yield self
            finally:  # the one-shot timer is spent if it rang before this line
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Expired:
            raise self.error() from None
        finally:
            signal.signal(signal.SIGALRM, previous)
            if outer > 0:
                spent = time.monotonic() - armed
                signal.setitimer(signal.ITIMER_REAL, max(outer - spent, 1e-6), interval)


# --------------------------------------------------------------------------- public API


@dataclass
class Reference:
    """The exact f and its partials at every point, each as a float64 double-double."""

    expression: str
    derivative_expressions: dict[str, str]
    values: np.ndarray
    values_lo: np.ndarray
    derivatives: dict[str, np.ndarray]
    derivatives_lo: dict[str, np.ndarray]
    precision_bits: int


def _size(inputs: Mapping[str, np.ndarray]) -> int:
    return len(next(iter(inputs.values()))) if inputs else 1


def reference(
    expr: Expr,
    inputs: Mapping[str, np.ndarray],
    wrt: tuple[str, ...],
    *,
    deadline: Deadline | None = None,
) -> Reference:
    """Exact values and partials of ``expr`` at exactly the points in ``inputs``;
    ``wrt`` holds labels ("x", "x,x", "x,y"), which key the partials. With a
    ``deadline``, raises ReferenceTimeout rather than run past it."""
    if deadline is None:
        return _reference(expr, inputs, wrt, None)
    sympy_ops()  # imported before the alarm is armed: no import is ever cut in half
    with deadline.alarm():
        return _reference(expr, inputs, wrt, deadline)


def _reference(
    expr: Expr, inputs: Mapping[str, np.ndarray], wrt: tuple[str, ...], deadline: Deadline | None
) -> Reference:
    import mpmath

    order = max((len(partial_of(name)) for name in wrt), default=1)
    if deadline is not None:
        deadline.doing = f"sympy.diff of --order {order}" if order > 1 else "sympy.diff"
    f = to_sympy(expr)
    partials = {name: differentiate(f, name) for name in wrt}
    missing = sorted(s.name for s in f.free_symbols if s.name not in inputs)
    if missing:
        raise ValueError(f"no input values for variable(s): {', '.join(missing)}")
    if deadline is not None:
        deadline.doing = "compiling the derivatives for mpmath"
    targets = {"": compile_mpmath(f), **{k: compile_mpmath(v) for k, v in partials.items()}}

    n = _size(inputs)
    hi = {key: np.empty(n, dtype=np.float64) for key in targets}
    lo = {key: np.empty(n, dtype=np.float64) for key in targets}
    columns = {name: np.asarray(a).tolist() for name, a in inputs.items()}
    used = PRECISIONS[0]
    saved = mpmath.mp.prec
    try:
        for i in range(n):
            if deadline is not None:
                deadline.doing = f"mpmath, {i:,} of {n:,} points done"
                deadline.check()
            env = {name: mpmath.mpf(column[i]) for name, column in columns.items()}
            for key, function in targets.items():
                value, bits = _evaluate_point(function, env)
                used = max(used, bits)
                hi[key][i], lo[key][i] = _double_double(value)
    finally:
        mpmath.mp.prec = saved

    if deadline is not None:
        deadline.doing = "printing the derivatives"
    return Reference(
        expression=format_sympy(f),
        derivative_expressions={k: format_sympy(v) for k, v in partials.items()},
        values=hi[""],
        values_lo=lo[""],
        derivatives={k: hi[k] for k in partials},
        derivatives_lo={k: lo[k] for k in partials},
        precision_bits=used,
    )


def round_double_double(hi: np.ndarray, lo: np.ndarray, dtype: str) -> np.ndarray:
    """hi + lo correctly rounded to ``dtype`` (a plain cast of hi can miss a tie)."""
    from autograd_cli.dtypes import numpy_dtype, round_to

    target = numpy_dtype(dtype)
    hi = np.asarray(hi, dtype=np.float64)
    if target == np.float64:
        return hi.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = round_to(hi, dtype)
        back = rounded.astype(np.float64)
        gap = hi - back
        other = np.where(
            gap > 0,
            np.nextafter(rounded, target.type(np.inf)),
            np.nextafter(rounded, target.type(-np.inf)),
        )
        half = (other.astype(np.float64) - back) / 2
        tie = np.isfinite(rounded) & (gap != 0) & (gap == half) & (np.sign(lo) == np.sign(gap))
    return np.where(tie, other, rounded).astype(target)


class AnalyticBackend(Backend):
    """The truth, rounded to the compared dtype: the row every other row is judged by."""

    name: ClassVar[str] = "analytic"
    module: ClassVar[str | None] = None
    distributions: ClassVar[tuple[str, ...]] = ("sympy",)
    install_hint: ClassVar[str] = "pip install sympy mpmath"
    method: ClassVar[str] = "sympy.diff + mpmath"
    dtypes: ClassVar[tuple[str, ...]] = ALL_DTYPES
    max_order: ClassVar[int] = MAX_ORDER

    def evaluate(
        self,
        expr: Expr,
        inputs: Mapping[str, np.ndarray],
        wrt: tuple[str, ...],
        dtype: str,
    ) -> Evaluation:
        ref = reference(expr, inputs, wrt)
        return Evaluation(
            values=round_double_double(ref.values, ref.values_lo, dtype),
            derivatives={
                k: round_double_double(ref.derivatives[k], ref.derivatives_lo[k], dtype)
                for k in wrt
            },
            method=self.method,
            dtype=dtype,
            extra={
                "expression": ref.expression,
                "derivative_expressions": dict(ref.derivative_expressions),
                "precision_bits": ref.precision_bits,
                "reference": ref,
            },
        )
