"""Which op each framework calls for each function: one table of spellings per framework.

Why one table: the backends call these ops and ``--show-code`` prints them, and both
read the entries here, so a script always shows the very call its row was computed
with, and ``gradcheck functions`` lists them without importing any framework. Each
function maps to the framework's *own* op (its kernel and hand-written gradient are
what gradcheck judges), never to a formula we compose: where a framework has no op,
the entry says so with the reason, and that backend's row is ``unsupported``.

Parameters reach an op as Python floats, positionally or by the keyword the framework
spells them with, as a user would pass them; the framework rounds them to the dtype.
TensorFlow entries use its core API only (``tf.math``, ``tf.nn``): Keras and
``tf.experimental.numpy`` (a NumPy-compatibility layer composed of core ops) are not
TensorFlow's kernels, so ``hypot``, ``sinc``, ``mish`` and ``hard_sigmoid`` have none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from autograd_cli.backends.base import Unsupported
from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.nodes import Binary, Call, Expr, Unary
from autograd_cli.expr.walk import num_as_float, split_args


@dataclass(frozen=True)
class Op:
    """The framework's own op at ``path`` (dotted, from the script's import name:
    ``torch.nn.functional.gelu``, ``jnp.sin``), called with the inputs, then each
    parameter: positionally (``""``), by its keyword (``"alpha"``), or not at all (a
    Fraction: the op has the parameter built in with that value, so only it is
    supported), then the ``fixed`` keyword arguments (``approximate="none"``)."""

    path: str
    params: tuple[str | Fraction, ...] = ()
    fixed: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Written:
    """An existing function the framework has no op for, written as its users write it
    (TensorFlow's ``log2``); the backend holds the same formula as a callable."""

    template: str
    why: str


@dataclass(frozen=True)
class Missing:
    """No native op: the backend's row for an expression using it is ``unsupported``."""

    why: str


Spelling = Op | Written | Missing

_F = "torch.nn.functional."

TORCH: dict[str, Spelling] = {
    **{name: Op(f"torch.{name}") for name in (
        "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
        "acosh", "atanh", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt",
        "square", "abs", "sign", "floor", "atan2", "hypot", "minimum", "maximum", "xlogy",
        "sinc", "lgamma", "digamma", "sigmoid")},
    "clip": Op("torch.clamp", ("", "")),
    "erf": Op("torch.special.erf"),
    "erfc": Op("torch.special.erfc"),
    "erfinv": Op("torch.special.erfinv"),
    "log_sigmoid": Op(_F + "logsigmoid"),
    "softplus": Op(_F + "softplus"),
    "relu": Op(_F + "relu"),
    "relu6": Op(_F + "relu6"),
    "leaky_relu": Op(_F + "leaky_relu", ("negative_slope",)),
    "elu": Op(_F + "elu", ("alpha",)),
    "selu": Op(_F + "selu"),
    "silu": Op(_F + "silu"),
    "gelu": Op(_F + "gelu", fixed=(("approximate", "none"),)),
    "gelu_tanh": Op(_F + "gelu", fixed=(("approximate", "tanh"),)),
    "softsign": Op(_F + "softsign"),
    "hard_sigmoid": Op(_F + "hardsigmoid"),
    "mish": Op(_F + "mish"),
}

_CORE = "not in TensorFlow's core API"

TENSORFLOW: dict[str, Spelling] = {
    **{name: Op(f"tf.{name}") for name in (
        "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "sqrt",
        "abs", "sigmoid")},
    **{name: Op(f"tf.math.{name}") for name in (
        "log", "asinh", "acosh", "atanh", "expm1", "log1p", "rsqrt", "square", "sign",
        "floor", "atan2", "minimum", "maximum", "xlogy", "erf", "erfc", "erfinv", "lgamma",
        "digamma", "log_sigmoid", "softplus")},
    "log2": Written("tf.math.log({0}) / tf.math.log(c(2.0))", "TensorFlow has no log2 op"),
    "log10": Written("tf.math.log({0}) / tf.math.log(c(10.0))", "TensorFlow has no log10 op"),
    "clip": Op("tf.clip_by_value", ("", "")),
    "relu": Op("tf.nn.relu"),
    "relu6": Op("tf.nn.relu6"),
    "leaky_relu": Op("tf.nn.leaky_relu", ("alpha",)),
    "elu": Op("tf.nn.elu", (Fraction(1),)),
    "selu": Op("tf.nn.selu"),
    "silu": Op("tf.nn.silu"),
    "gelu": Op("tf.nn.gelu", fixed=(("approximate", False),)),
    "gelu_tanh": Op("tf.nn.gelu", fixed=(("approximate", True),)),
    "softsign": Op("tf.nn.softsign"),
    "hypot": Missing(f"{_CORE} (tf.experimental.numpy.hypot composes core ops)"),
    "sinc": Missing(f"{_CORE} (tf.experimental.numpy.sinc composes core ops)"),
    "mish": Missing(f"{_CORE} (it was in TensorFlow Addons, now unmaintained)"),
    "hard_sigmoid": Missing(f"{_CORE} (Keras's hard_sigmoid is Keras, not TensorFlow)"),
}

_S = "jax.scipy.special."

JAX: dict[str, Spelling] = {
    **{name: Op(f"jnp.{name}") for name in (
        "sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "expm1", "log", "log1p", "log2",
        "log10", "sqrt", "square", "abs", "sign", "floor", "hypot", "minimum", "maximum",
        "sinc")},
    **{name: Op(f"jnp.arc{name[1:]}") for name in (
        "asin", "acos", "atan", "asinh", "acosh", "atanh", "atan2")},
    "rsqrt": Op("jax.lax.rsqrt"),
    "clip": Op("jnp.clip", ("min", "max")),
    "erf": Op(_S + "erf"),
    "erfc": Op(_S + "erfc"),
    "erfinv": Op(_S + "erfinv"),
    "lgamma": Op(_S + "gammaln"),
    "digamma": Op(_S + "digamma"),
    "xlogy": Op(_S + "xlogy"),
    "sigmoid": Op("jax.nn.sigmoid"),
    "log_sigmoid": Op("jax.nn.log_sigmoid"),
    "softplus": Op("jax.nn.softplus"),
    "relu": Op("jax.nn.relu"),
    "relu6": Op("jax.nn.relu6"),
    "leaky_relu": Op("jax.nn.leaky_relu", ("negative_slope",)),
    "elu": Op("jax.nn.elu", ("alpha",)),
    "selu": Op("jax.nn.selu"),
    "silu": Op("jax.nn.silu"),
    "gelu": Op("jax.nn.gelu", fixed=(("approximate", False),)),
    "gelu_tanh": Op("jax.nn.gelu", fixed=(("approximate", True),)),
    "softsign": Op("jax.nn.soft_sign"),
    "hard_sigmoid": Op("jax.nn.hard_sigmoid"),
    "mish": Op("jax.nn.mish"),
}

#: framework backend name -> its table.
NATIVES: dict[str, dict[str, Spelling]] = {"torch": TORCH, "tensorflow": TENSORFLOW, "jax": JAX}


def _value(value: Any) -> str:
    """A fixed argument as source: strings in double quotes, as the docs write them."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def call_source(spelling: Spelling, inputs: Sequence[str], params: Sequence[str]) -> str:
    """The call as source: ``torch.nn.functional.leaky_relu(x, negative_slope=0.2)``.
    ``params`` are already source text, one per parameter of the function."""
    if isinstance(spelling, Written):
        return spelling.template.format(*inputs)
    if isinstance(spelling, Missing):
        raise ValueError(f"no native op: {spelling.why}")
    args = list(inputs)
    for spec, text in zip(spelling.params, params, strict=True):
        if isinstance(spec, str):
            args.append(f"{spec}={text}" if spec else text)
    args += [f"{key}={_value(value)}" for key, value in spelling.fixed]
    return f"{spelling.path}({', '.join(args)})"


def describe(framework: str, name: str) -> str:
    """What ``gradcheck functions`` shows for a framework: the call with the function's
    own argument names, or "none (why)"."""
    function = FUNCTIONS[name]
    spelling = NATIVES[framework][name]
    if isinstance(spelling, Missing):
        return f"none ({spelling.why})"
    inputs = ["y", "x"] if name == "atan2" else ["x", "y"][: function.arity]
    text = call_source(spelling, inputs, [p.name for p in function.params])
    if isinstance(spelling, Op):
        for spec, param in zip(spelling.params, function.params, strict=True):
            if isinstance(spec, Fraction):
                text += f" ({param.name} {_number(spec)} only)"
    return text


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else repr(float(value))


def unsupported(framework: str, expr: Expr) -> str | None:
    """Why ``framework`` cannot compute ``expr`` with its own ops: the first function it
    has no op for, or a parameter its op does not take; None when it can."""
    table = NATIVES.get(framework)
    if table is None:
        return None
    for call in _calls(expr):
        spelling = table[call.func]
        if isinstance(spelling, Missing):
            return f"{framework} has no native {call.func} op: {spelling.why}"
        if isinstance(spelling, Op):
            _, params = split_args(call)
            for spec, value, param in zip(spelling.params, params,
                                          FUNCTIONS[call.func].params, strict=True):
                if isinstance(spec, Fraction) and value != spec:
                    return (f"{framework} has no native {call.func} op with {param.name} = "
                            f"{_number(value)}: {spelling.path} has {param.name} "
                            f"{_number(spec)} built in")
    return None


def _calls(expr: Expr) -> Iterator[Call]:
    if isinstance(expr, Call):
        yield expr
        for arg in expr.args:
            yield from _calls(arg)
    elif isinstance(expr, Unary):
        yield from _calls(expr.operand)
    elif isinstance(expr, Binary):
        yield from _calls(expr.left)
        yield from _calls(expr.right)


def resolve(roots: dict[str, Any], path: str) -> Any:
    """The object at ``path`` (``jax.nn.gelu``), its first name looked up in ``roots``."""
    first, *rest = path.split(".")
    found = roots[first]
    for part in rest:
        found = getattr(found, part)
    return found


def bind(name: str, spelling: Spelling, roots: dict[str, Any],
         written: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    """The ops-table entry for ``name``: the op called as :func:`call_source` prints it
    (inputs, then each parameter as a Python float), the backend's own callable for a
    :class:`Written` entry, or one that raises :class:`Unsupported` for a missing op."""
    if isinstance(spelling, Written):
        return written[name]
    if isinstance(spelling, Missing):
        why = spelling.why

        def missing(*args: Any) -> Any:
            raise Unsupported(f"no native {name} op: {why}")

        return missing
    op = resolve(roots, spelling.path)
    arity = FUNCTIONS[name].arity
    fixed = dict(spelling.fixed)
    if not spelling.params and not fixed:
        return op

    def call(*args: Any) -> Any:
        positional: list[float] = []
        keywords = dict(fixed)
        for spec, value in zip(spelling.params, args[arity:], strict=True):
            if isinstance(spec, Fraction):
                if value != spec:
                    raise Unsupported(f"{spelling.path} has its parameter fixed at {spec}")
            elif spec:
                keywords[spec] = num_as_float(value)
            else:
                positional.append(num_as_float(value))
        return op(*args[:arity], *positional, **keywords)

    return call


def ops_for(framework: str, roots: dict[str, Any],
            written: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every function of the grammar as ``framework``'s ops table has it."""
    return {name: bind(name, spelling, roots, written)
            for name, spelling in NATIVES[framework].items()}
