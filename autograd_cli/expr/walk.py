"""The one tree-walker: :func:`lower` builds an expression out of an ops table.

Every backend and the exact reference (SymPy's tree) are made by walking our tree with
their own ops table, so nobody re-implements the walk; an ops table that lacks a name
of the grammar is found by :func:`missing_ops` before it is ever used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, TypeVar

from autograd_cli.expr.functions import CONSTANTS, FUNCTIONS, OPERATORS
from autograd_cli.expr.nodes import Binary, Call, Const, Expr, Num, Unary, Var

T = TypeVar("T")

#: Keys every ops table must provide: "num" (a Fraction -> value), the constants,
#: the operators and every allowlisted function.
REQUIRED_OPS: frozenset[str] = frozenset(("num", *CONSTANTS, *OPERATORS, *FUNCTIONS))


def lower(expr: Expr, ops: Mapping[str, Callable[..., T]], env: Mapping[str, T]) -> T:
    """Build ``expr`` out of ``ops``, with variables bound by ``env``."""
    if isinstance(expr, Num):
        return ops["num"](expr.value)
    if isinstance(expr, Const):
        return ops[expr.name]()
    if isinstance(expr, Var):
        return env[expr.name]
    if isinstance(expr, Unary):
        return ops[expr.op](lower(expr.operand, ops, env))
    if isinstance(expr, Binary):
        return ops[expr.op](lower(expr.left, ops, env), lower(expr.right, ops, env))
    if isinstance(expr, Call):
        inputs, params = split_args(expr)
        return ops[expr.func](*(lower(arg, ops, env) for arg in inputs), *params)
    raise TypeError(f"not an expression node: {expr!r}")


def split_args(call: Call) -> tuple[tuple[Expr, ...], tuple[Fraction, ...]]:
    """A call's expression inputs and its numeric parameters (exact, defaults filled in
    by the parser): ops receive the lowered inputs, then the parameters as Fractions."""
    arity = FUNCTIONS[call.func].arity
    params = tuple(arg.value for arg in call.args[arity:] if isinstance(arg, Num))
    return call.args[:arity], params


def missing_ops(ops: Mapping[str, Any]) -> set[str]:
    """Names an ops table lacks; empty for a complete table."""
    return set(REQUIRED_OPS - ops.keys())


def num_as_float(value: Fraction) -> float:
    """A literal as the nearest double, ±inf beyond float64 (frameworks then round it
    to their dtype); never raises."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
