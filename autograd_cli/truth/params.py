"""Function parameters at the values a framework computing in a dtype really uses.

Why: a framework receives ``leaky_relu(x, 0.01)``'s slope as a Python float and
computes with it in its dtype, so in float32 the slope is float32(0.01), not 1/100.
The reference is judged at the dtype-rounded input; it must be at the dtype-rounded
parameters too, or a correct float32 kernel would show a slope error of up to half an
ULP at every point. Only parameters change: other literals of the expression are the
user's exact numbers.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

from autograd_cli.core.dtypes import round_to
from autograd_cli.expr.nodes import Binary, Call, Expr, Num, Unary
from autograd_cli.expr.walk import num_as_float, split_args


def rounded_parameter(value: Fraction, dtype: str) -> Fraction:
    """``value`` as the dtype holds it: through a Python float, then to ``dtype``
    (what ``torch.nn.functional.leaky_relu(x, 0.01)`` does). Beyond the dtype's range
    the exact value is kept: no finite input can tell the two apart."""
    rounded = float(round_to(num_as_float(value), dtype))
    return Fraction(rounded) if math.isfinite(rounded) else value


def with_rounded_parameters(expr: Expr, dtype: str) -> Expr:
    """``expr`` with every function parameter replaced by its dtype-rounded value
    (an unchanged tree is returned as is)."""
    if isinstance(expr, Unary):
        operand = with_rounded_parameters(expr.operand, dtype)
        return expr if operand is expr.operand else replace(expr, operand=operand)
    if isinstance(expr, Binary):
        left = with_rounded_parameters(expr.left, dtype)
        right = with_rounded_parameters(expr.right, dtype)
        if left is expr.left and right is expr.right:
            return expr
        return replace(expr, left=left, right=right)
    if isinstance(expr, Call):
        inputs, _ = split_args(expr)
        new_inputs = [with_rounded_parameters(a, dtype) for a in inputs]
        new_params = []
        for arg in expr.args[len(inputs) :]:
            if isinstance(arg, Num):
                value = rounded_parameter(arg.value, dtype)
                arg = arg if value == arg.value else replace(arg, value=value)
            new_params.append(arg)
        args = (*new_inputs, *new_params)
        if all(a is b for a, b in zip(args, expr.args, strict=True)):
            return expr
        return replace(expr, args=args)
    return expr
