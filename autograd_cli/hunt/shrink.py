"""Shrinking a finding to its smallest reproducer, as hypothesis and delta debugging do.

Why greedy on whole subtrees: a wrong derivative is usually one primitive's fault, so
hoisting a subtree into its parent's place, replacing a subtree by ``x`` and simpler
constants and parameters reach ``sin(x)`` from ``sin(exp(x)*2)*x`` in a handful of
checks. A reduction is kept only if the same backend still fails the same way (same
mode, order, dtype and kind: a NaN that became a mere inaccuracy is another bug).
Replacing a subtree ``g`` by ``x`` moves the failing point to the value of ``g`` there,
so each reduced tree is checked at the point and at every subtree's value there.
Last the point itself: the simplest value (fewest significant digits, nearest a round
number) that still fails, all candidates checked in one request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.nodes import Binary, Call, Expr, Num, Unary, Var, variables
from autograd_cli.hunt.judge import Hit
from autograd_cli.hunt.points import simpler_points, simplicity
from autograd_cli.hunt.text import num, size, to_text, var

#: ``check(expr, points, like)``: the hits of ``like``'s backend at ``points`` (one
#: request: its mode, order and dtype).
Check = Callable[[Expr, Sequence[float], Hit], list[Hit]]
#: ``value(expr, point, like)``: ``expr`` at ``point`` as ``like``'s backend computes it
#: in its dtype (None: it could not), the very input an outer primitive receives.
Value = Callable[[Expr, float, Hit], "float | None"]

SIMPLE_CONSTANTS: tuple[str, ...] = ("1", "2")


def children(expr: Expr) -> list[Expr]:
    """The expression inputs of a node (a call's parameters are not inputs)."""
    if isinstance(expr, Unary):
        return [expr.operand]
    if isinstance(expr, Binary):
        return [expr.left, expr.right]
    if isinstance(expr, Call):
        return list(expr.args[: FUNCTIONS[expr.func].arity])
    return []


def _rebuild(expr: Expr, index: int, value: Expr) -> Expr:
    if isinstance(expr, Unary):
        return replace(expr, operand=value)
    if isinstance(expr, Binary):
        return replace(expr, left=value) if index == 0 else replace(expr, right=value)
    assert isinstance(expr, Call)
    args = list(expr.args)
    args[index] = value
    return replace(expr, args=tuple(args))


def _local(expr: Expr) -> Iterator[Expr]:
    """Simpler stand-ins for this node alone."""
    kids = children(expr)
    yield from (kid for kid in kids if variables(kid))  # hoist an input
    if not isinstance(expr, (Var, Num)):
        yield var()
    if isinstance(expr, Num):
        yield from (num(c) for c in SIMPLE_CONSTANTS if num(c).value < expr.value)
    if isinstance(expr, Call):  # parameters back to their defaults, or to 0/1
        function = FUNCTIONS[expr.func]
        for k, param in enumerate(function.params, start=function.arity):
            current = expr.args[k]
            options = [param.default] if param.default is not None else []
            options += [v for v in (num("0").value, num("1").value) if param.default is None]
            for value in options:
                if isinstance(current, Num) and value is not None and value != current.value:
                    args = list(expr.args)
                    args[k] = num(value)
                    yield replace(expr, args=tuple(args))


def reductions(expr: Expr) -> list[Expr]:
    """Every tree one local simplification away from ``expr``, smallest first; each
    still has a variable."""

    def walk(node: Expr) -> Iterator[Expr]:
        yield from _local(node)
        for k, kid in enumerate(children(node)):
            for smaller in walk(kid):
                yield _rebuild(node, k, smaller)

    found = {to_text(tree): tree for tree in walk(expr) if variables(tree)}
    mine = to_text(expr)
    ordered = sorted(found.values(), key=lambda t: (size(t), len(to_text(t))))
    return [tree for tree in ordered if to_text(tree) != mine and size(tree) <= size(expr)]


def inner_values(expr: Expr, point: float, limit: int = 6,
                 seconds: float = 2.0) -> list[float]:
    """Each subtree's exact value at ``point`` (finite ones, at most ``limit``, as many
    as ``seconds`` allow: SymPy can take very long over ``2**-1.8e19``): where the
    failing primitive's input lies once its surroundings are removed."""
    import sympy

    from autograd_cli.truth.deadline import Deadline, ReferenceTimeout
    from autograd_cli.truth.symbolic import to_sympy

    symbol = sympy.Symbol("x", real=True)
    found: list[float] = []

    def visit(node: Expr) -> None:
        for kid in children(node):
            if len(found) >= limit or isinstance(kid, Var):
                continue
            try:
                value = complex(to_sympy(kid).subs(symbol, point).evalf(20))
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                value = complex(math.nan)
            if value.imag == 0 and math.isfinite(value.real) and value.real not in found:
                found.append(value.real)
            visit(kid)

    if variables(expr) == ("x",):
        try:
            with Deadline(seconds).alarm():
                visit(expr)
        except ReferenceTimeout:
            pass
    return found


def subtrees(expr: Expr, limit: int = 3) -> list[Expr]:
    """The first ``limit`` inner subtrees with a variable (not the root, not x itself)."""
    found: list[Expr] = []

    def visit(node: Expr) -> None:
        for kid in children(node):
            if len(found) < limit and not isinstance(kid, Var) and variables(kid):
                found.append(kid)
                visit(kid)

    visit(expr)
    return found


def shrink(expr: Expr, hit: Hit, check: Check, *, tries: int = 40, seconds: float = 30.0,
           value: Value | None = None) -> tuple[Expr, Hit, int]:
    """The smallest tree and simplest point found that fail like ``hit``, and the
    number of checks it took (at most ``tries``, in about ``seconds``). With ``value``,
    inner subtrees are also evaluated as the backend computes them: ``sinc(1)`` is 0
    exactly but about -2.8e-8 in float32, and that is where an outer sinc fails."""
    stop = time.monotonic() + seconds
    used = 0
    current, found = expr, hit
    progress = True
    while progress and used < tries and time.monotonic() < stop:
        progress = False
        where = [found.point, *inner_values(current, found.point)]
        if value is not None:
            for tree in subtrees(current):
                used += 1
                computed = value(tree, found.point, found)
                if computed is not None and math.isfinite(computed) and computed not in where:
                    where.append(computed)
        for tree in reductions(current):
            if used >= tries or time.monotonic() >= stop:
                break
            used += 1
            same = [h for h in _safe(check, tree, where, found) if h.key == found.key]
            if same:
                current = tree
                found = next((h for h in same if h.point == found.point), same[0])
                progress = True
                break
    candidates = sorted(simpler_points(found.point), key=simplicity)  # one check, always
    used += 1
    same = [h for h in _safe(check, current, candidates, found) if h.key == found.key]
    if same:
        found = min(same, key=lambda h: simplicity(h.point))
    return current, found, used


def _safe(check: Check, expr: Expr, points: Sequence[float], like: Hit) -> list[Hit]:
    """A check that could not run (too costly, a reference timeout) fails nothing."""
    try:
        return check(expr, points, like)
    except (ValueError, ArithmeticError):
        return []
