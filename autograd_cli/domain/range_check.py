"""Intermediate overflow and underflow: where a value or derivative inside the
computation leaves the dtype's range while the exact f' is in range
(``exp(100*x)/exp(100*x)`` at 1 in float32); a row outside tolerance there is the
dtype's range speaking, labelled ``overflow`` or ``underflow``.

Why a module of its own: the public face of the range scan (codes for sweeps, worded
findings for a check's rows), apart from classify.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from autograd_cli.core.model import partial_of
from autograd_cli.core.statuses import OVERFLOW, RANGE_CODES, UNDERFLOW
from autograd_cli.domain.exact import evaluate
from autograd_cli.domain.range_scan import PARTIAL, TANGENT, VALUE, Found, range_scan
from autograd_cli.domain.tree import Step, program, source
from autograd_cli.expr.nodes import Expr, Var


def _directions(
    wrt: str | Sequence[str] | None, columns: Mapping[str, np.ndarray]
) -> tuple[str, ...]:
    labels = [wrt] if isinstance(wrt, str) else list(wrt or [])
    names = [n for label in labels for n in partial_of(label)] if labels else list(columns)
    return tuple(n for n in dict.fromkeys(names) if n in columns)


def _rounded(expr: Expr, dtype: str) -> Expr:
    """``expr`` with its function parameters as the dtype holds them."""
    from autograd_cli.truth.params import with_rounded_parameters

    return with_rounded_parameters(expr, dtype)


def in_range(exact: np.ndarray, dtype: str) -> np.ndarray:
    """Where an exact derivative is finite, below the dtype's overflow and 0 or not
    rounding to 0 (subnormals are in range): where a result outside tolerance is no
    range event of the result itself."""
    from autograd_cli.comparison.verdicts import range_of

    limits = range_of(dtype)
    size = np.abs(np.asarray(exact, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        return np.isfinite(size) & (size < limits.overflows_at) & (
            (size == 0) | (size >= max(limits.rounds_to_zero, 5e-324)))


def intermediate_range(
    expr: Expr,
    points: Mapping[str, np.ndarray],
    dtype: str,
    wrt: str | Sequence[str] | None = None,
    exact: np.ndarray | None = None,
) -> np.ndarray:
    """Per point (int8): :data:`RANGE_CODES` ``[OVERFLOW]`` where an intermediate of
    the computation leaves ``dtype``'s range, ``[UNDERFLOW]`` where no value overflows
    but a non-zero value rounds to 0 in it (below half its smallest subnormal), else 0.
    Values come first, a derivative quantity only where no value left the range (a
    tiny u is what makes 1/u overflow: the underflow is the story).

    Intermediates, all evaluated in float64 over our tree (``points``: the inputs as
    the backends saw them, as float64 arrays): every node's value, its derivative
    along each variable of ``wrt`` (a label "x" or "x,y", or several; None: every
    variable) as forward mode carries it, the partial of each node by each argument
    that moves, and df/d(node) as reverse mode carries it. Overflow is a magnitude
    that rounds to inf in ``dtype`` (for float64, one that is inf in float64 from
    finite arguments); an inf from a division by an exact zero (a pole, sqrt'(0)) is
    no overflow: :func:`classify` labels such points, and its codes should win.
    Underflow looks at values only (the robust case: exp(-200*x) is 0 in float32).

    ``exact`` (the exact f' per point, float64): where given, points whose exact
    derivative is itself out of range (not finite, beyond the dtype, subnormal) get 0,
    as the per-row statuses of :func:`verdicts.range_statuses` cover those. A caller
    labels only rows whose result is outside tolerance: a backend that got it right
    stays ok.

    Cost: numpy passes over 65,536-point blocks, a few array operations per node for
    the value and partials, two per node and variable for the tangents, one or two per
    node for the adjoints. For 2**20 points on one core: about 30 ms for the 17 nodes
    of ``2*x**3+4*x**2+5*x+6``, 250 ms for the 21 of ``sin(x)*exp(-x**2)+log(abs(x)+1)/
    sqrt(x**2+1)`` (the transcendental functions dominate), about what classify's
    screen costs there and a tenth of the sweep's double-double reference.
    """
    steps = program(_rounded(expr, dtype))
    names = [s.node.name for s in steps if isinstance(s.node, Var)]
    columns = {name: np.asarray(points[name], dtype=np.float64) for name in dict.fromkeys(names)}
    if not columns:
        size = len(next(iter(points.values()))) if points else 1
        columns = {"": np.zeros(size)}
    codes = range_scan(steps, columns, dtype, _directions(wrt, columns)).code
    if exact is not None:
        codes = np.where(in_range(exact, dtype), codes, 0).astype(np.int8)
    return codes


def intermediate_findings(
    expr: Expr,
    inputs: Mapping[str, np.ndarray],
    dtype: str,
    wrt: Sequence[str],
    text: str | None = None,
) -> dict[str, list[tuple[str, str] | None]]:
    """Per label and point, what :func:`intermediate_range` finds there as (status,
    which quantity left the range and by how much), or None: for labelling the rows
    of a check, whose few points may each get an exact look at the magnitude."""
    steps = program(_rounded(expr, dtype))
    names = [s.node.name for s in steps if isinstance(s.node, Var)]
    columns = {name: np.asarray(inputs[name], dtype=np.float64) for name in dict.fromkeys(names)}
    size = len(next(iter(inputs.values()))) if inputs else 1
    if not columns:
        columns = {"": np.zeros(size)}
    out: dict[str, list[tuple[str, str] | None]] = {}
    for label in wrt:
        directions = _directions(label, columns)
        found = range_scan(steps, columns, dtype, directions)
        out[label] = [
            None if not found.code[i] else _range_text(found, i, steps, columns, directions,
                                                       dtype, text)
            for i in range(size)
        ]
    return out


def _range_text(
    found: Found, i: int, steps: Sequence[Step], columns: Mapping[str, np.ndarray],
    directions: Sequence[str], dtype: str, text: str | None,
) -> tuple[str, str]:
    from autograd_cli.comparison.verdicts import range_of

    k, what, detail = int(found.step[i]), int(found.what[i]), int(found.detail[i])
    size = float(found.size[i])
    name = source(steps[k].node, text)
    if what == VALUE:
        quantity = f"the constant {name}" if steps[k].op == "num" else name
    elif what == TANGENT:
        quantity = f"d({name})/d{directions[detail]}"
    elif what == PARTIAL:
        quantity = f"d({source(steps[detail].node, text)})/d({name})"
    else:
        quantity = f"df/d({name})"
    magnitude = f"{size:.2g}"
    if what == VALUE and (size == 0 or not math.isfinite(size)):
        import mpmath

        env = {n: mpmath.mpf(float(c[i])) for n, c in columns.items()}
        exact = evaluate(steps, env, 64)[k]
        if mpmath.isfinite(exact):
            magnitude = mpmath.nstr(exact, 2, min_fixed=0, max_fixed=0)
    elif not math.isfinite(size):
        magnitude = f"{size} in float64"
    if steps[k].op != "num":
        quantity = f"{quantity} = {magnitude}"
    limits = range_of(dtype)
    if int(found.code[i]) == RANGE_CODES[OVERFLOW]:
        return OVERFLOW, f"{quantity} is beyond {dtype}'s range (max {limits.largest:.2g})"
    return UNDERFLOW, (f"{quantity} is below half {dtype}'s smallest subnormal number "
                       f"({2 * limits.rounds_to_zero:.2g})")
