"""Our expression tree as the domain checks walk it: a post-order program of steps,
which steps are critical (may be undefined or kinked), and the texts that explain a
finding by quoting the source.

Why a module of its own: the screen, the exact look, classify and the range scan all
walk the same program and word their findings the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from autograd_cli.domain.places import PLACED, words_of
from autograd_cli.expr.nodes import Binary, Call, Const, Expr, Num, Unary, Var

#: Points screened at a time: the temporaries of a node stay in cache.
BLOCK = 1 << 16


_CRITICAL = frozenset(
    {"div", "log", "log2", "log10", "sqrt", "abs", "asin", "acos", "tan", "pow", *PLACED}
)


@dataclass(frozen=True)
class Step:
    op: str  # "var", "num", "pi", "e", an operator or a function name
    args: tuple[int, ...]
    node: Expr
    variables: frozenset[str]


def program(expr: Expr) -> list[Step]:
    """The tree in post-order (children first, left to right): innermost findings first."""
    steps: list[Step] = []

    def visit(node: Expr) -> int:
        if isinstance(node, Var):
            steps.append(Step("var", (), node, frozenset((node.name,))))
        elif isinstance(node, Num):
            steps.append(Step("num", (), node, frozenset()))
        elif isinstance(node, Const):
            steps.append(Step(node.name, (), node, frozenset()))
        else:
            children: tuple[Expr, ...]
            op: str
            if isinstance(node, Unary):
                op, children = node.op, (node.operand,)
            elif isinstance(node, Binary):
                op, children = node.op, (node.left, node.right)
            elif isinstance(node, Call):
                op, children = node.func, node.args
            else:  # pragma: no cover - the parser makes no other node
                raise TypeError(f"not an expression node: {node!r}")
            args = tuple(visit(child) for child in children)
            names = frozenset().union(*(steps[a].variables for a in args))
            steps.append(Step(op, args, node, names))
        return len(steps) - 1

    visit(expr)
    return steps


def is_critical(step: Step, steps: Sequence[Step]) -> bool:
    if step.op != "pow":
        return step.op in _CRITICAL
    exponent = steps[step.args[1]].node
    return not (isinstance(exponent, Num) and exponent.value.denominator == 1
                and exponent.value >= 0)


def _printed(node: Expr) -> str:
    """Our tree as text when the source is not at hand (fully parenthesized)."""
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Const):
        return node.name
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Unary):
        return ("-" if node.op == "neg" else "+") + _printed(node.operand)
    if isinstance(node, Binary):
        symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}[node.op]
        return f"({_printed(node.left)}{symbol}{_printed(node.right)})"
    return f"{node.func}({', '.join(_printed(a) for a in node.args)})"


def source(node: Expr, text: str | None) -> str:
    if text is not None and 0 <= node.span.start < node.span.end <= len(text):
        return " ".join(text[node.span.start:node.span.end].split())
    return _printed(node)


# Reasons a point is undefined: (step, kind) -> text. Texts name no point, so one text
# serves every point of a region (sqrt over [-4, 0) is one reason, not 5000).
def place_text(finding: str, step: Step, steps: Sequence[Step], text: str | None) -> str:
    """The words of a finding of :mod:`.places`, its inputs quoted from the source."""
    words = words_of(finding).replace("{arg}", source(steps[step.args[0]].node, text))
    if "{arg2}" in words:
        words = words.replace("{arg2}", source(steps[step.args[1]].node, text))
    return words


def hard_text(kind: str, step: Step, steps: Sequence[Step], text: str | None) -> str:
    node = source(step.node, text)
    if "|" in kind:
        return f"{node} is undefined: {place_text(kind, step, steps, text)}"
    arg = source(steps[step.args[0]].node, text) if step.args else ""
    if kind == "div":
        den = source(steps[step.args[1]].node, text)
        return f"{node} is undefined: its denominator {den} is 0 (division by zero)"
    if kind == "log0":
        return f"{node} is undefined: its argument {arg} is 0 ({step.op}(0) = -inf)"
    if kind == "neg":
        return f"{node} is undefined: its argument {arg} is negative"
    if kind == "out":
        return f"{node} is undefined: its argument {arg} is outside [-1, 1]"
    if kind == "tan":
        return f"{node} is undefined: {arg} is an odd multiple of pi/2 (a pole)"
    if kind == "pow0":
        return f"{node} is undefined: 0 to a negative power (a pole)"
    if kind == "powneg":
        return f"{node} is undefined: a negative base {arg} to a non-integer power"
    raise AssertionError(kind)  # pragma: no cover


def kink_text(
    kind: str, step: Step, steps: Sequence[Step], text: str | None, both: bool
) -> str:
    """Why the point is suspect; ``both``: f is defined on both sides (then an edge
    such as sqrt(x**2) at 0 is a kink, not an edge)."""
    node = source(step.node, text)
    if "|" in kind:
        return f"{node}: {place_text(kind, step, steps, text)}"
    arg = source(steps[step.args[0]].node, text)
    if kind == "kink" or (both and kind == "edge"):
        return f"{node} is not differentiable where {arg} is 0 (a kink)"
    if kind in ("edge", "pow00"):
        return f"{node} is at the edge of its domain ({arg} = 0)"
    if kind == "edge1":
        return f"{node} is at the edge of its domain (|{arg}| = 1)"
    if kind == "powvar":
        return f"{node} has a negative base: real only at integer exponents"
    raise AssertionError(kind)  # pragma: no cover


def jump_text(step: Step, steps: Sequence[Step], text: str | None, along: str) -> str:
    """0**0 = 1 where the base stays 0 and the exponent moves: f jumps."""
    node = source(step.node, text)
    base = source(steps[step.args[0]].node, text)
    exponent = source(steps[step.args[1]].node, text)
    return (f"{node} is not continuous along {along} where {base} is 0 and {exponent} is "
            "0: 0**0 = 1, but 0 to a positive power is 0 and to a negative one undefined")


def num_value(value: Fraction) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
