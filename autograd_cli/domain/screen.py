"""The fast screen: all points at once in float64, with a first-order bound on each
value's error, settle where f is clearly defined or clearly undefined and pick out the
few points near a critical value for the exact look.

Why a module of its own: it is the numpy half of classify (sweeps of millions of
points pay only this), separate from the mpmath half in :mod:`.exact`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from autograd_cli.domain.numeric import value_and_error
from autograd_cli.domain.places import PLACED, near, screen_places
from autograd_cli.domain.tree import Step, hard_text, is_critical, num_value
from autograd_cli.expr.nodes import Num, Var

_U = 2.0**-52
_TINY = 2.0**-1022
#: Operations whose small results are exact (no underflow error): x - 1 = 0 is 0,
#: relu(-1) is 0.
_EXACT_AT_ZERO = frozenset({
    "add", "sub", "neg", "pos", "abs", "relu", "relu6", "leaky_relu", "clip", "minimum",
    "maximum", "hard_sigmoid", "sign", "floor",
})


def screen(
    steps: Sequence[Step], columns: Mapping[str, np.ndarray], text: str | None,
    texts: dict[str, int],
) -> tuple[np.ndarray, np.ndarray]:
    """(reason index or -1 where f is certainly undefined, points that need an exact
    look) for one block, in float64 with a first-order bound on each value's error."""
    n = len(next(iter(columns.values())))
    reason = np.full(n, -1, dtype=np.int32)
    suspect = np.zeros(n, dtype=bool)

    def mark(kind: str, step: Step, where: np.ndarray) -> None:
        where = where & (reason < 0)
        if where.any():
            key = hard_text(kind, step, steps, text)
            reason[where] = texts.setdefault(key, len(texts))

    values: list[Any] = [None] * len(steps)
    for k, step in enumerate(steps):
        a = [values[i] for i in step.args]
        for i in step.args:
            values[i] = None
        v, e = _screen_step(step, a, columns, n)
        if step.args and step.op not in _EXACT_AT_ZERO:  # underflow to 0 is not a zero
            e = np.where(np.abs(v) < _TINY, e + _TINY, e)
        if is_critical(step, steps):
            (u, eu) = a[0]
            if step.op == "div":
                b, eb = a[1]
                mark("div", step, (b == 0) & (eb == 0))
                suspect |= near(b, eb)
            elif step.op in ("log", "log2", "log10", "sqrt"):
                definite = (u < 0) & ~near(u, eu)
                mark("neg", step, definite)
                if step.op != "sqrt":
                    mark("log0", step, (u == 0) & (eu == 0))
                suspect |= near(u, eu)
            elif step.op == "abs":
                suspect |= near(u, eu)
            elif step.op in ("asin", "acos"):
                w = np.abs(u) - 1.0
                ew = eu + _U
                mark("out", step, (w > 0) & ~near(w, ew))
                suspect |= near(w, ew)
            elif step.op in PLACED:
                hard, maybe = screen_places(step.op, a)
                for kind, where in hard:
                    mark(kind, step, where)
                suspect |= maybe
            elif step.op == "tan":
                suspect |= near(np.cos(u), eu + _U)
            elif step.op == "pow":
                b, eb = a[1]
                constant = not steps[step.args[1]].variables
                rounded = np.round(b)
                integer = (eb == 0) & (b == rounded)  # certainly an integer
                maybe_integer = near(b - rounded, eb + _U * np.abs(b))
                mark("powneg", step, (u < 0) & ~near(u, eu) & ~maybe_integer)
                mark("pow0", step, (u == 0) & (eu == 0) & (b < 0) & ~near(b, eb))
                suspect |= near(u, eu) & ~(integer & (b >= 0) & constant)
                suspect |= (u < 0) & maybe_integer & ~(integer & constant)
        values[k] = (v, e)
    return reason, suspect & (reason < 0)


def _screen_step(
    step: Step, a: list[Any], columns: Mapping[str, np.ndarray], n: int
) -> tuple[Any, Any]:
    """One node's float64 value and a bound on its error (first order)."""
    op = step.op
    if op == "var":
        assert isinstance(step.node, Var)
        return columns[step.node.name], np.zeros(n)
    if op in ("num", "pi", "e"):
        if op == "num":
            assert isinstance(step.node, Num)
            value = num_value(step.node.value)
        else:
            value = math.pi if op == "pi" else math.e
        return np.full(n, value), np.full(n, abs(value) * _U)
    with np.errstate(all="ignore"):
        u, eu = a[0]
        if op in ("neg", "pos"):
            return (-u if op == "neg" else u), eu
        if op in ("add", "sub", "mul", "div", "pow"):
            b, eb = a[1]
            if op == "add":
                r = u + b
                return r, eu + eb + np.abs(r) * _U
            if op == "sub":
                r = u - b
                return r, eu + eb + np.abs(r) * _U
            if op == "mul":
                r = u * b
                return r, np.abs(u) * eb + np.abs(b) * eu + eu * eb + np.abs(r) * _U
            if op == "div":
                r = u / b
                slack = np.abs(b) - eb
                err = np.where(slack > 0, (eu + np.abs(r) * eb) / slack, np.inf)
                return r, err + np.abs(r) * _U
            r = np.power(u, b)
            err = np.abs(r) * (np.abs(b) * eu / np.abs(u) + np.abs(np.log(np.abs(u))) * eb)
            return r, np.where(np.isnan(err), np.inf, err) + 4 * np.abs(r) * _U
        if op in ("sin", "cos"):
            r = np.sin(u) if op == "sin" else np.cos(u)
            return r, eu + 2 * _U
        if op == "tan":
            r = np.tan(u)
            return r, (1 + r * r) * eu + 2 * np.abs(r) * _U
        if op in ("asin", "acos"):
            r = np.arcsin(u) if op == "asin" else np.arccos(u)
            slope = 1 / np.sqrt(1 - u * u)
            return r, np.where(np.isfinite(slope), slope * eu, np.inf) + 2 * np.abs(r) * _U
        if op == "atan":
            r = np.arctan(u)
            return r, eu + 2 * np.abs(r) * _U
        if op in ("sinh", "cosh"):
            r = np.sinh(u) if op == "sinh" else np.cosh(u)
            return r, np.cosh(u) * eu + 2 * np.abs(r) * _U
        if op == "tanh":
            return np.tanh(u), eu + 2 * _U
        if op == "exp":
            r = np.exp(u)
            return r, r * eu + 2 * r * _U
        if op in ("log", "log2", "log10"):
            function = {"log": np.log, "log2": np.log2, "log10": np.log10}[op]
            r = function(u)
            return r, 1.5 * eu / np.abs(u) + 2 * np.abs(r) * _U
        if op == "sqrt":
            r = np.sqrt(u)
            return r, np.where(r > 0, eu / (2 * r), np.inf) + np.abs(r) * _U
        if op == "abs":
            return np.abs(u), eu
        if op == "sigmoid":
            return 1 / (1 + np.exp(-u)), eu / 4 + 2 * _U
        return value_and_error(op, a)
