"""The exact look at a suspect point: the tree in mpmath at rising precisions (is a
critical argument exactly zero, or negative?), and the one-sided limits of a derivative
at a kink or a domain edge.

Why a module of its own: this is where mpmath and SymPy come in (imported only when a
point needs it); the screen and the range scan stay numpy-only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autograd_cli.domain.labels import short
from autograd_cli.domain.mp_ops import mp_ops
from autograd_cli.domain.places import PLACED, PRECISIONS, exact_places, is_zero
from autograd_cli.domain.tree import Step, is_critical
from autograd_cli.expr.nodes import Num, Var

#: One-sided steps: h = scale * 2**-k.
_STEPS = (32, 64, 96, 128)
_SIDE_PRECISION = 512


def evaluate(steps: Sequence[Step], env: Mapping[str, Any], bits: int) -> list[Any]:
    """Every node's value in mpmath at ``bits`` (inputs exact, whatever their length)."""
    import mpmath

    ops = mp_ops()
    values: list[Any] = []
    with mpmath.workprec(bits):
        for step in steps:
            if step.op == "var":
                assert isinstance(step.node, Var)
                values.append(env[step.node.name])
            elif step.op == "num":
                assert isinstance(step.node, Num)
                value = step.node.value
                values.append(mpmath.fdiv(value.numerator, value.denominator))
            elif step.op in ("pi", "e"):
                values.append(+mpmath.pi if step.op == "pi" else +mpmath.e)
            else:
                args = [values[i] for i in step.args]
                try:
                    values.append(ops[step.op](*args))
                except (ZeroDivisionError, ValueError, OverflowError):
                    values.append(mpmath.mpf("nan"))
    return values


def exact_findings(
    steps: Sequence[Step], env: Mapping[str, Any]
) -> tuple[tuple[str, int] | None, list[tuple[str, int]]]:
    """(the innermost reason f is undefined, or None; the kinks and edges met)."""
    import mpmath

    runs = [evaluate(steps, env, bits) for bits in PRECISIONS]

    def at(i: int) -> list[Any]:
        return [run[i] for run in runs]

    def derived(i: int, function: Callable[[Any], Any]) -> list[Any]:
        out = []
        for bits, run in zip(PRECISIONS, runs, strict=True):
            with mpmath.workprec(bits):
                out.append(function(run[i]))
        return out

    kinks: list[tuple[str, int]] = []
    for k, step in enumerate(steps):
        if not is_critical(step, steps):
            continue
        if any(mpmath.isnan(runs[-1][i]) for i in step.args):
            continue
        u = at(step.args[0])
        top = u[-1]
        if step.op == "div":
            if is_zero(at(step.args[1])):
                return ("div", k), kinks
        elif step.op in ("log", "log2", "log10", "sqrt"):
            if is_zero(u):
                if step.op == "sqrt":
                    kinks.append(("edge", k))
                else:
                    return ("log0", k), kinks
            elif top < 0:
                return ("neg", k), kinks
        elif step.op == "abs":
            if is_zero(u):
                kinks.append(("kink", k))
        elif step.op in ("asin", "acos"):
            w = derived(step.args[0], lambda a: abs(a) - 1)
            if is_zero(w):
                kinks.append(("edge1", k))
            elif w[-1] > 0:
                return ("out", k), kinks
        elif step.op in PLACED:
            hard, places = exact_places(step.op, [at(i) for i in step.args])
            if hard is not None:
                return (hard, k), kinks
            kinks.extend((place, k) for place in places)
        elif step.op == "tan":
            if mpmath.isfinite(top) and is_zero(derived(step.args[0], mpmath.cos)):
                return ("tan", k), kinks
        elif step.op == "pow":
            b = at(step.args[1])
            if not mpmath.isfinite(b[-1]):
                continue
            integer = is_zero(derived(step.args[1], lambda a: a - mpmath.nint(a)))
            constant = not steps[step.args[1]].variables
            if is_zero(u):
                if b[-1] < 0 and not is_zero(b):
                    return ("pow0", k), kinks
                if is_zero(b):
                    if not constant:  # 0**0 = 1: a jump along the exponent
                        kinks.append(("pow00", k))
                elif not (integer and constant):
                    kinks.append(("edge", k))
            elif top < 0:
                if not integer:
                    return ("powneg", k), kinks
                if not constant:
                    kinks.append(("powvar", k))
    return None, kinks


@dataclass(frozen=True)
class Side:
    kind: str  # "finite", "inf", "undefined" (f is not defined there), "none" (no limit)
    value: float | None = None
    spread: float = 0.0  # how far the limit may be from value

    def describe(self) -> str:
        if self.kind == "finite":
            return short(self.value)
        if self.kind == "inf":
            return "inf" if (self.value or 0) > 0 else "-inf"
        return "undefined" if self.kind == "undefined" else "no limit"

    @property
    def number(self) -> float | None:
        return self.value if self.kind in ("finite", "inf") else None


def _moved(env: Mapping[str, float], along: str, sign: int, k: int) -> dict[str, Any]:
    """The point ``env`` with ``along`` moved by ``sign`` * 2**-k (relative to its size)."""
    import mpmath

    x0 = env[along]
    scale = abs(x0) if x0 != 0 else 1.0
    with mpmath.workprec(_SIDE_PRECISION):
        shift = mpmath.ldexp(mpmath.mpf(scale), -k) * sign
        moved = mpmath.fadd(mpmath.mpf(x0), shift, exact=True)
        return {name: (moved if name == along else mpmath.mpf(v)) for name, v in env.items()}


def continuous(steps: Sequence[Step], env: Mapping[str, float], along: str) -> bool:
    """Whether f (our tree) tends to its value at the point from both sides along
    ``along``: the gap shrinks with the step (floor at 3 keeps a gap of 1 on the left,
    x*sign(x) at 0 one of h). A side where f is undefined says nothing: the
    derivative's one-sided limits decide there."""
    import mpmath

    f0 = evaluate(steps, {n: mpmath.mpf(v) for n, v in env.items()}, _SIDE_PRECISION)[-1]
    if not mpmath.isfinite(f0):
        return True
    for sign in (-1, 1):
        gaps = []
        for k in _STEPS:
            f = evaluate(steps, _moved(env, along, sign, k), _SIDE_PRECISION)[-1]
            if not mpmath.isfinite(f):
                break
            gaps.append(abs(f - f0))
        if len(gaps) == len(_STEPS) and gaps[-1] > gaps[0] * 2.0**-32:
            return False
    return True


def side(
    steps: Sequence[Step], derivative: Any, env: Mapping[str, float], along: str, sign: int
) -> Side:
    """The limit of ``derivative`` as ``along`` approaches its value from one side."""
    import mpmath

    from autograd_cli.truth.point import evaluate_point, nearest_float

    values = []
    for k in _STEPS:
        point = _moved(env, along, sign, k)
        f = evaluate(steps, point, _SIDE_PRECISION)[-1]
        if not mpmath.isfinite(f):
            return Side("undefined")
        saved = mpmath.mp.prec
        try:
            value, _ = evaluate_point(derivative, point)
        finally:
            mpmath.mp.prec = saved
        if mpmath.isnan(value):
            return Side("none")
        values.append(value)
    deltas = [abs(b - a) for a, b in itertools.pairwise(values)]
    last = values[-1]
    noise = abs(last) * 2.0**-100
    if all(later <= earlier / 16 + noise for earlier, later in itertools.pairwise(deltas)):
        # Differences shrink geometrically: add the tail they leave (x**1.5 at 0 gives
        # 1.5*sqrt(h) -> 0, not 1.5*2**-64).
        step, before = values[-1] - values[-2], values[-2] - values[-3]
        ratio = step / before if before != 0 else 0
        tail = step * ratio / (1 - ratio)
        limit = last + tail
        spread = abs(tail) + abs(step) * 2.0**-16 + noise
        if abs(limit) <= 4 * spread:
            limit = mpmath.mpf(0)
        return Side("finite", nearest_float(limit), float(spread))
    sizes = [abs(v) for v in values]
    steps_up = [b - a for a, b in itertools.pairwise(sizes)]
    growing = all(d > 0 for d in steps_up) and all(
        later >= earlier / 2 for earlier, later in itertools.pairwise(steps_up)
    )
    if growing and len({mpmath.sign(v) for v in values}) == 1:
        return Side("inf", math.inf if last > 0 else -math.inf)
    return Side("none")


def agree(left: Side, right: Side) -> bool:
    if left.kind != "finite" or right.kind != "finite":
        return False
    assert left.value is not None and right.value is not None
    gap = abs(left.value - right.value)
    return gap <= 4 * (left.spread + right.spread) + 2.0**-50 * max(
        abs(left.value), abs(right.value)
    )
