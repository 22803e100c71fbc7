"""classify: which points are undefined or not differentiable, per derivative label.
The screen sorts the points, the exact look decides the suspect ones, and at a kink or
an edge the one-sided derivatives decide (:func:`classify`, :func:`_decide_kinks`).

Why a module of its own: it is the one entry point that ties the screen, the exact look
and the labels together; the screen and the exact look work on steps, not labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from autograd_cli.core.model import partial_of
from autograd_cli.core.statuses import CODES, NONDIFFERENTIABLE, UNDEFINED
from autograd_cli.domain.conventions import KINDS
from autograd_cli.domain.exact import Side, agree, continuous, exact_findings, side
from autograd_cli.domain.labels import Labels
from autograd_cli.domain.places import JUMPS, NOTE, SMOOTH, kind_of
from autograd_cli.domain.screen import screen
from autograd_cli.domain.tree import (
    BLOCK,
    Step,
    hard_text,
    is_critical,
    jump_text,
    kink_text,
    program,
)
from autograd_cli.expr.nodes import Binary, Call, Expr, Num, Unary, Var

#: Most points given the exact look (about a millisecond each) per check or sweep;
#: beyond, they are judged as usual and counted in ``Labels.unchecked`` (only
#: ill-conditioned expressions, e.g. underflowing ones, get near it).
MAX_EXACT = 2_000


def _empty(size: int, wrt: Sequence[str]) -> Labels:
    return Labels(
        size,
        {w: np.zeros(size, dtype=np.int8) for w in wrt},
        {w: np.full(size, -1, dtype=np.int32) for w in wrt},
    )


def _role(kind: str, step: Step, steps: Sequence[Step], along: str) -> str | None:
    """How a finding bears on the derivative along ``along``: "kink" (the one-sided
    derivatives decide), "jump" (f itself jumps along it) or None (the node is smooth
    along it). A critical argument that stays put along ``along`` is no kink there:
    0**y is 0 for every y > 0, so x**y at x = 0 has the y-derivative 0; atan2(0, x)
    for x < 0 is pi whatever x is; xlogy(0, y) is 0 whatever y is."""
    if "|" in kind:
        what = kind_of(kind)
        if what == NOTE:
            return None
        if what in ("line", "cut"):  # xlogy's x = 0, atan2's y = 0: only if it moves
            moves = along in steps[step.args[0]].variables
            return ("jump" if what == "cut" else "kink") if moves else None
        if along not in step.variables:
            return None
        return "jump" if what in JUMPS else "kink"
    if step.op == "pow" and kind in ("edge", "pow00"):
        base = along in steps[step.args[0]].variables
        exponent = along in steps[step.args[1]].variables
        if kind == "edge":  # 0**b with b > 0: 0 while the base stays 0
            return "kink" if base else None
        if base and exponent:  # x**x at 0
            return "kink"
        return "jump" if exponent else None  # u**0 = 1 while the exponent stays 0
    return "kink" if along in step.variables else None


def _folds(
    found: Sequence[tuple[str, int]], steps: Sequence[Step], label: str
) -> dict[int, int]:
    """Powers that are constant along every variable of ``label`` at the point (step ->
    its value there): 0**b with b > 0 and a base that stays 0 is 0, u**0 with an
    exponent that stays 0 is 1. SymPy's derivative of x**y by y, x**y*log(x), is NaN
    at x = 0; the derivative of the folded tree is the true one (0)."""
    names = set(partial_of(label))
    folds: dict[int, int] = {}
    for kind, j in found:
        step = steps[j]
        if kind_of(kind) == "line" and not names & steps[step.args[0]].variables:
            folds[j] = 0  # xlogy(0, y) with y <= 0: 0 while x stays 0
            continue
        if step.op != "pow" or kind not in ("edge", "pow00"):
            continue
        if kind == "edge" and not names & steps[step.args[0]].variables:
            folds[j] = 0
        elif kind == "pow00" and not names & steps[step.args[1]].variables:
            folds[j] = 1
    return folds


def _folded(node: Expr, folds: Mapping[int, int]) -> Expr:
    """Our tree with the nodes whose id is in ``folds`` replaced by that number."""
    if id(node) in folds:
        value = folds[id(node)]
        return Num(Fraction(value), str(value), node.span)
    if isinstance(node, Unary):
        return Unary(node.op, _folded(node.operand, folds), node.span)
    if isinstance(node, Binary):
        return Binary(node.op, _folded(node.left, folds), _folded(node.right, folds),
                      node.span)
    if isinstance(node, Call):
        return Call(node.func, tuple(_folded(a, folds) for a in node.args), node.span)
    return node


def _nonfinite_text(name: str, value: float) -> str:
    if math.isnan(value):
        return f"{name} = nan is not a number"
    return f"{name} = {'-' if value < 0 else ''}inf is not a point of the real line"


def _partials(label: str) -> list[tuple[str, ...]]:
    """The derivatives whose sides decide a label: "x,y" needs d/dx along x, then
    d2/dxdy along y (each order must exist around the point for the next)."""
    names = partial_of(label)
    return [names[: i + 1] for i in range(len(names))]


def classify(
    expr: Expr,
    inputs: Mapping[str, np.ndarray],
    wrt: Sequence[str],
    text: str | None = None,
    max_exact: int = MAX_EXACT,
    *,
    dtype: str | None = None,
) -> Labels:
    """Which points are undefined or not differentiable, per derivative label in
    ``wrt`` ("x", or "x,y" for higher orders), at exactly the points given (float64
    arrays of the values the backends saw); ``text`` is the source, for reasons.
    At most ``max_exact`` points get the exact look (a sweep shares one budget).
    ``dtype``: the function parameters are judged at their values in it (the corner
    of ``clip(x, 0.1, 0.9)`` in float32 is at float32(0.1)); None: exact."""
    if dtype is not None:
        from autograd_cli.truth.params import with_rounded_parameters

        expr = with_rounded_parameters(expr, dtype)
    steps = program(expr)
    names = [s.node.name for s in steps if isinstance(s.node, Var)]
    columns = {name: np.asarray(inputs[name], dtype=np.float64) for name in dict.fromkeys(names)}
    size = len(next(iter(inputs.values()))) if inputs else 1
    labels = _empty(size, wrt)
    if not columns:
        return labels
    texts: dict[str, int] = {}
    reason = np.full(size, -1, dtype=np.int32)
    suspect = np.zeros(size, dtype=bool)
    critical = any(is_critical(s, steps) for s in steps)
    for name, column in columns.items():
        if np.isfinite(column).all():
            continue
        for value in (math.nan, math.inf, -math.inf):
            where = (column == value) if not math.isnan(value) else np.isnan(column)
            where &= reason < 0
            if where.any():
                reason[where] = texts.setdefault(_nonfinite_text(name, value), len(texts))
    if critical:
        for lo in range(0, size, BLOCK):
            hi = min(lo + BLOCK, size)
            part = {name: c[lo:hi] for name, c in columns.items()}
            with np.errstate(all="ignore"):
                r, s = screen(steps, part, text, texts)
            free = reason[lo:hi] < 0
            reason[lo:hi] = np.where(free, r, reason[lo:hi])
            suspect[lo:hi] = s & free & (r < 0)
    candidates = np.flatnonzero(suspect)
    if candidates.size > max(max_exact, 0):
        labels.unchecked = int(candidates.size - max(max_exact, 0))
        candidates = candidates[:max(max_exact, 0)]
    labels.checked = int(candidates.size)
    kinks: dict[int, list[tuple[str, int]]] = {}
    if candidates.size:
        import mpmath

        for i in candidates.tolist():
            env = {name: mpmath.mpf(float(c[i])) for name, c in columns.items()}
            try:
                hard, found = exact_findings(steps, env)
            except (ArithmeticError, ValueError, TypeError):  # judged as usual, counted
                labels.unchecked += 1
                continue
            if hard is not None:
                reason[i] = texts.setdefault(hard_text(hard[0], steps[hard[1]], steps, text),
                                             len(texts))
                if kind_of(hard[0]) in KINDS:
                    for label in wrt:
                        labels.places[(label, i)] = (steps[hard[1]].op, kind_of(hard[0]))
            elif found:
                kinks[i] = found
                for kind, j in found:
                    if kind_of(kind) == NOTE:
                        labels.notes[i] = (steps[j].op, NOTE)
    undefined = reason >= 0
    for label in wrt:
        labels.codes[label][undefined] = CODES[UNDEFINED]
        labels.reasons[label][undefined] = reason[undefined]
    if kinks:
        _decide_kinks(expr, steps, columns, wrt, kinks, labels, texts, text)
    labels.texts = sorted(texts, key=texts.__getitem__)
    return labels


def _decide_kinks(
    expr: Expr,
    steps: Sequence[Step],
    columns: Mapping[str, np.ndarray],
    wrt: Sequence[str],
    kinks: Mapping[int, list[tuple[str, int]]],
    labels: Labels,
    texts: dict[str, int],
    text: str | None,
) -> None:
    """At each kink or edge, per label: one-sided derivatives along each variable the
    critical argument moves with; label unless they agree. Where a power is constant
    along the label (0**y at x = 0 along y), the derivative of the folded tree is used,
    and recorded in ``labels.exact`` where the point is not labelled."""
    import mpmath

    from autograd_cli.truth.mpmath_ops import compile_mpmath
    from autograd_cli.truth.point import double_double, evaluate_point
    from autograd_cli.truth.symbolic import differentiate, to_sympy

    compiled: dict[tuple[tuple[str, ...], tuple[tuple[int, int], ...]], Any] = {}

    def derivative(partial: tuple[str, ...], folds: Mapping[int, int]) -> Any:
        key = (partial, tuple(sorted(folds.items())))
        if key not in compiled:
            tree = _folded(expr, {id(steps[j].node): v for j, v in folds.items()})
            compiled[key] = compile_mpmath(differentiate(to_sympy(tree), ",".join(partial)))
        return compiled[key]

    for i, found in kinks.items():
        env = {name: float(c[i]) for name, c in columns.items()}
        for label in wrt:
            folds = _folds(found, steps, label)
            labelled = False
            limit: Side | None = None  # the full derivative's, where both sides agree
            for partial in _partials(label):
                along = partial[-1]
                if along not in env:
                    continue
                roles = [(_role(kind, steps[j], steps, along), kind, j) for kind, j in found]
                jump = _jump(roles, steps, env, along)
                if jump is not None:
                    kind, j = jump
                    reason = (jump_text(steps[j], steps, text, along) if "|" not in kind else
                              f"{kink_text(kind, steps[j], steps, text, True)}: f is not "
                              f"continuous along {along}")
                    labels.codes[label][i] = CODES[NONDIFFERENTIABLE]
                    labels.reasons[label][i] = texts.setdefault(reason, len(texts))
                    if kind_of(kind) in KINDS:
                        labels.places[(label, i)] = (steps[j].op, kind_of(kind))
                    labelled = True
                    break
                relevant = [(kind, j) for role, kind, j in roles if role in ("kink", "jump")]
                if not relevant:
                    continue
                kind, k = relevant[0]
                try:
                    function = derivative(partial, folds)
                    left = side(steps, function, env, along, -1)
                    right = side(steps, function, env, along, +1)
                except (ArithmeticError, ValueError, TypeError, LookupError, NotImplementedError):
                    left = right = Side("none")
                if agree(left, right):
                    if partial == partial_of(label):
                        limit = left
                        labels.notes.setdefault(i, (steps[k].op, SMOOTH))
                    continue
                both = "undefined" not in (left.kind, right.kind)
                what = "; ".join(dict.fromkeys(  # every place at the point, once each
                    kink_text(place, steps[j], steps, text, both) for place, j in relevant))
                order = "" if len(partial) == 1 else (
                    f" (of the derivative by {', '.join(partial)})")
                reason = f"{what}: left {left.describe()}, right {right.describe()}{order}"
                labels.codes[label][i] = CODES[NONDIFFERENTIABLE]
                labels.reasons[label][i] = texts.setdefault(reason, len(texts))
                labels.sides[(label, i)] = (left.number, right.number)
                if kind_of(kind) in KINDS:
                    labels.places[(label, i)] = (steps[k].op, kind_of(kind))
                labelled = True
                break
            if labelled or not (folds or limit):
                continue
            saved = mpmath.mp.prec
            try:
                function = derivative(_partials(label)[-1], folds)
                point = {name: mpmath.mpf(v) for name, v in env.items()}
                value, _ = evaluate_point(function, point)
                if not folds and limit is not None and limit.value is not None:
                    at_point = Side("finite", float(value)) if mpmath.isfinite(value) else None
                    if at_point is not None and agree(at_point, limit):
                        continue  # the formula's value at the point is the limit
                    value = mpmath.mpf(limit.value)
                labels.exact.setdefault(label, {})[i] = double_double(value)
            except (ArithmeticError, ValueError, TypeError, LookupError, NotImplementedError):
                pass
            finally:
                mpmath.mp.prec = saved


def _jump(
    roles: Sequence[tuple[str | None, str, int]], steps: Sequence[Step],
    env: Mapping[str, float], along: str,
) -> tuple[str, int] | None:
    """The finding at which f itself jumps along ``along``, if any: 0**0 always; a
    jump of floor or sign, or atan2's cut, only where f is not continuous there
    (x*sign(x) is continuous at 0, and its derivative's sides decide)."""
    for role, kind, j in roles:
        if role == "jump" and ("|" not in kind or not continuous(steps, env, along)):
            return kind, j
    return None
