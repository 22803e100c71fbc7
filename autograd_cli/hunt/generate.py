"""Candidates for the hunt: expressions built from the function table, and points.

Why generic: every function of :data:`~autograd_cli.expr.functions.FUNCTIONS` is drawn
by its arity and parameters, so a function added to the table is hunted without a line
here. Trees are built as our own nodes (:mod:`.text` prints them), never as text to
evaluate. Weighted toward where errors live: compositions, a subexpression used twice,
ties of two-argument functions, integer and fractional exponents, scaled arguments that
push an inner value to a huge or tiny magnitude, and points from :mod:`.points`.

Reproducible: candidate ``i`` of seed ``s`` comes from its own ``Random(f"{s}/{i}")``, so
the sequence does not depend on the time budget or on how long each check took.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from autograd_cli.expr.functions import FUNCTIONS, Function
from autograd_cli.expr.nodes import Call, Expr, variables
from autograd_cli.hunt import points as hunt_points
from autograd_cli.hunt.text import binary, call, neg, num, primitives, to_text, var

#: Constants an expression may hold: small round values, and scales that push an inner
#: value toward the dtype's edges.
CONSTANTS: tuple[str, ...] = ("2", "3", "0.5", "1", "10", "0.1", "1e-3", "100")
SCALES: tuple[str, ...] = ("1e10", "1e20", "1e-10", "1e-20", "1e30")
#: Exponents: integers (x**2, x**-1) and fractions (x**0.5, x**1.5).
EXPONENTS: tuple[str, ...] = ("2", "3", "-1", "-2", "0.5", "1.5", "2.5", "-0.5", "4", "0")
#: Values a parameter may take besides its default.
PARAM_VALUES: tuple[str, ...] = ("0", "0.5", "1", "2", "-1", "0.01", "0.2", "6", "-0.5")


@dataclass(frozen=True)
class Candidate:
    """One check: an expression at some points, in one dtype, order and mode."""

    index: int
    expr: Expr
    points: tuple[float, ...]
    dtype: str
    order: int
    mode: str

    @property
    def text(self) -> str:
        return to_text(self.expr)


class Generator:
    """Candidate ``i`` for ``seed``, for the functions, dtypes, orders and modes asked."""

    def __init__(
        self,
        seed: int,
        *,
        functions: Sequence[str] = (),
        dtypes: Sequence[str] = ("float32",),
        orders: Sequence[int] = (1, 2),
        modes: Sequence[str] = ("reverse",),
        start: Expr | None = None,
        points: int = 6,
    ) -> None:
        self.seed = seed
        self.focus = [name for name in functions if name in FUNCTIONS]
        self.table = list(FUNCTIONS.values())
        self.dtypes, self.orders, self.modes = list(dtypes), list(orders), list(modes)
        self.start = start
        self.count = points

    def candidate(self, index: int) -> Candidate:
        rng = random.Random(f"{self.seed}/{index}")
        if self.start is not None and rng.random() < 0.7:
            expr = self.mutate(rng, self.start)
        else:
            expr = self.expression(rng, depth=rng.choice((1, 1, 2, 2, 2, 3)))
        if not variables(expr):
            expr = call(self.pick(rng).name, *self.inputs(rng, self.pick(rng), var()))
        dtype = rng.choice(self.dtypes)
        found = hunt_points.draw_points(rng, primitives(expr), dtype, self.count)
        return Candidate(index, expr, tuple(found), dtype, rng.choice(self.orders),
                         rng.choice(self.modes))

    def pick(self, rng: random.Random) -> Function:
        """A function: one of ``--functions`` most of the time when given."""
        if self.focus and rng.random() < 0.8:
            return FUNCTIONS[rng.choice(self.focus)]
        return rng.choice(self.table)

    def expression(self, rng: random.Random, depth: int) -> Expr:
        """A random tree of about ``depth`` levels of functions with x at the leaves."""
        if depth <= 0:
            return self.leaf(rng)
        roll = rng.random()
        if roll < 0.6:
            function = self.pick(rng)
            inner = self.expression(rng, depth - 1)
            return call(function.name, *self.inputs(rng, function, inner))
        if roll < 0.75:  # a shared subexpression: f(g) op g
            inner = self.expression(rng, depth - 1)
            function = self.pick(rng)
            outer = call(function.name, *self.inputs(rng, function, inner))
            return binary(rng.choice(("mul", "add", "div", "sub")), outer, inner)
        if roll < 0.87:
            base = self.expression(rng, depth - 1)
            if rng.random() < 0.2:  # c**g: an exponential of the expression
                return binary("pow", num(rng.choice(("2", "0.5", "10"))), base)
            return binary("pow", base, self.signed(rng.choice(EXPONENTS)))
        left = self.expression(rng, depth - 1)
        right = self.expression(rng, depth - 1) if rng.random() < 0.5 else self.constant(rng)
        op = rng.choice(("add", "sub", "mul", "div"))
        return binary(op, right, left) if rng.random() < 0.3 else binary(op, left, right)

    def leaf(self, rng: random.Random) -> Expr:
        roll = rng.random()
        if roll < 0.7:
            return var()
        if roll < 0.85:  # a scaled variable: the inner value far from 1
            return binary("mul", num(rng.choice(SCALES)), var())
        return binary(rng.choice(("add", "sub")), var(), self.constant(rng))

    def constant(self, rng: random.Random) -> Expr:
        return num(rng.choice(CONSTANTS))

    def signed(self, text: str) -> Expr:
        return neg(num(text[1:])) if text.startswith("-") else num(text)

    def inputs(self, rng: random.Random, function: Function, first: Expr) -> list[Expr]:
        """A call's arguments: ``first``, then for a second input the same expression
        (a tie), x, a constant or another small tree; then the parameters."""
        args: list[Expr] = [first]
        if function.arity == 2:
            roll = rng.random()
            if roll < 0.3:
                second: Expr = first
            elif roll < 0.55:
                second = var()
            elif roll < 0.8:
                second = self.constant(rng)
            else:
                second = self.expression(rng, 1)
            if rng.random() < 0.5:
                args = [second, first]
            else:
                args.append(second)
        args += [num(value) for value in self.params(rng, function)]
        return args

    def params(self, rng: random.Random, function: Function) -> list[Fraction]:
        """Parameter values: the default half the time, else a round value; values
        without default in ascending order (clip's lo <= hi)."""
        chosen: list[Fraction] = []
        for param in function.params:
            if param.default is not None and rng.random() < 0.5:
                chosen.append(param.default)
            else:
                chosen.append(Fraction(rng.choice(PARAM_VALUES)))
        required = sorted(v for p, v in zip(function.params, chosen, strict=True)
                          if p.default is None)
        it = iter(required)
        return [next(it) if p.default is None else v
                for p, v in zip(function.params, chosen, strict=True)]

    def mutate(self, rng: random.Random, expr: Expr) -> Expr:
        """The start expression as given, wrapped in a function, or with x replaced by
        a small tree."""
        roll = rng.random()
        if roll < 0.3:
            return expr
        if roll < 0.65:
            function = self.pick(rng)
            return call(function.name, *self.inputs(rng, function, expr))
        return substitute(expr, self.expression(rng, 1))


def substitute(expr: Expr, value: Expr) -> Expr:
    """``expr`` with every variable replaced by ``value``."""
    from dataclasses import replace

    from autograd_cli.expr.nodes import Binary, Unary, Var

    if isinstance(expr, Var):
        return value
    if isinstance(expr, Unary):
        return replace(expr, operand=substitute(expr.operand, value))
    if isinstance(expr, Binary):
        return replace(expr, left=substitute(expr.left, value),
                       right=substitute(expr.right, value))
    if isinstance(expr, Call):
        arity = FUNCTIONS[expr.func].arity
        return replace(expr, args=tuple(substitute(a, value) if k < arity else a
                                        for k, a in enumerate(expr.args)))
    return expr
