"""The points of a sweep: an exact decimal grid (``--range A B`` with ``--num`` or
``--step``), and the checked :class:`Sweep` request it belongs to.

Why exact decimals: ``-4 4 --step 0.001`` must be exactly the tutorial's 8000 points,
which float arithmetic on the bounds would miss by one."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import numpy as np

from autograd_cli.comparison.plan import ANALYTIC
from autograd_cli.comparison.verdicts import ulp
from autograd_cli.core.dtypes import finfo
from autograd_cli.core.model import MODES, Request
from autograd_cli.core.names import NUMBER_LENGTH, short_number, shown, unknown
from autograd_cli.expr.nodes import Expr
from autograd_cli.inputs import (
    InputError,
    Point,
    as_number,
    checked_expression,
    named_value,
    parse_number,
    resolve_partials,
)
from autograd_cli.truth.vectorized import two_prod, two_sum

#: Points per chunk: 2**20 keeps a chunk's arrays in the tens of MB per process while
#: numpy and the frameworks run at full speed; a 10**6-point sweep is one chunk.
CHUNK = 1 << 20

#: Points when neither --num nor --step is given: 10**4 intervals, so decimal ranges
#: give decimal steps (-4..4: 0.0008).
DEFAULT_NUM = 10_001

#: The most points a sweep may have (10**8 takes minutes; 10**9 would take an hour).
MAX_POINTS = 10**9


@dataclass(frozen=True)
class Grid:
    """The swept points: ``start + i*step`` for ``0 <= i < num``, each computed from the
    exact decimals typed and rounded once to float64 (so ``--range 0 1 --step 0.1``
    gives 0.3, not 0.30000000000000004; the backends then round to their dtype)."""

    start: Fraction
    stop: Fraction
    step: Fraction
    num: int
    endpoint: bool  # --num: the stop is the last point; --step: it is excluded

    def describe(self) -> dict[str, Any]:
        return {
            "start": float(self.start),
            "stop": float(self.stop),
            "num": self.num,
            "step": float(self.step),
            "endpoint": self.endpoint,
        }

    def points(self, lo: int, hi: int) -> np.ndarray:
        """Points ``lo <= i < hi`` as float64, from double-double arithmetic.

        Ranges near float64's largest numbers are computed scaled down by an exact
        power of two: unscaled, Dekker's split of the step (beyond 2**995) and
        ``i*step`` itself (``--range -1e308 1e308``) overflow, and inf - inf made the
        points NaN."""
        i = np.arange(lo, hi, dtype=np.float64)
        shift = _SCALE_SHIFT if max(abs(self.start), abs(self.stop)) > _SCALE_ABOVE else 0
        s_hi, s_lo = _double_double(self.start / 2**shift)
        d_hi, d_lo = _double_double(self.step / 2**shift)
        p, e = two_prod(i, d_hi)
        e = e + i * d_lo
        s, t = two_sum(s_hi, p)
        x = s + (t + (e + s_lo))
        if shift:
            x = np.ldexp(x, shift)
        if self.endpoint and hi == self.num:
            x[-1] = float(self.stop)
        # Where start + i*step cancels (near 0) the double-double's own 2**-106 error is
        # all that is left (-4..4 gave -2.5e-32, not 0): those few points are exact here.
        scale = float(max(abs(self.start), abs(self.stop)))
        for j in np.flatnonzero(np.abs(x) <= scale * 2.0**-40).tolist():
            x[j] = float(self.start + (lo + j) * self.step)
        return x


#: Grids whose ends reach beyond 2**960 are computed scaled by 2**-_SCALE_SHIFT (exact):
#: the step's split (x 2**27) and i*step (at most 2**30 x the range) then stay finite,
#: and no point that matters comes near the subnormals (points near 0 are recomputed
#: exactly in :meth:`Grid.points`).
_SCALE_ABOVE = Fraction(2) ** 960
_SCALE_SHIFT = 128


def _double_double(value: Fraction) -> tuple[float, float]:
    hi = float(value)
    return hi, float(value - Fraction(hi))


def _exact_decimal(text: str, what: str) -> Fraction:
    """A typed number as the exact rational it spells (0.1 is 1/10); finite only.

    Anything float64 can hold is exact (1e305 is 10**305, 1e-320 is 10**-320); a
    magnitude below float64's smallest subnormal is the 0 it rounds to, so that
    ``1e-999999999`` never builds 10**999999999 (above float64's largest,
    :func:`parse_number` has refused it already)."""
    value = parse_number(text, what)
    if not math.isfinite(value):
        raise InputError(f"{what}: {short_number(value, text)} is not a finite number")
    try:
        decimal = Decimal(text.strip().replace("_", ""))
    except InvalidOperation:
        return Fraction(value)
    if decimal.is_zero() or decimal.adjusted() < _SMALLEST_EXPONENT:
        return Fraction(value)
    return Fraction(decimal)


#: Decimal exponents below this are under float64's smallest subnormal (4.9e-324).
_SMALLEST_EXPONENT = -330


def _typed(text: str | None) -> str:
    """A number as typed, for a message; shortened in the middle when long."""
    text = str(text).strip()
    return text if len(text) <= NUMBER_LENGTH else shown(text, NUMBER_LENGTH)


def _count(text: str) -> int:
    """--num as an integer; ``1e6`` and ``1_000_000`` are welcome."""
    value = parse_number(text, f"--num {shown(text, NUMBER_LENGTH)}")
    if not math.isfinite(value) or value != int(value):
        raise InputError(
            f"--num {shown(text, NUMBER_LENGTH)}: give a whole number of points, e.g. --num 1001"
        )
    return int(value)


def parse_range(
    start_text: str, stop_text: str, *, num: str | None = None, step: str | None = None
) -> Grid:
    """``--range A B`` with ``--num N`` (both ends, like linspace) or ``--step S`` (the
    end excluded, like arange). A must be below B: a reversed range is refused (its
    points would be the same, only their order differs)."""
    what = f"--range {_typed(start_text)} {_typed(stop_text)}"
    start = _exact_decimal(start_text, what)
    stop = _exact_decimal(stop_text, what)
    if start == stop:
        raise InputError(
            f"{what}: the range is empty; for one point use --at {_typed(start_text)}"
        )
    if start > stop:
        raise InputError(
            f"{what}: the start is above the end; sweeps go upward: --range "
            f"{_typed(stop_text)} {_typed(start_text)}"
        )
    if num is not None and step is not None:
        raise InputError("give --num or --step, not both")
    if step is not None:
        size = _exact_decimal(step, f"--step {shown(step, NUMBER_LENGTH)}")
        if size <= 0:
            raise InputError(f"--step {shown(step, NUMBER_LENGTH)}: the step must be positive")
        count = math.ceil((stop - start) / size)
        if count < 2:
            raise InputError(
                f"--step {shown(step, NUMBER_LENGTH)} is not smaller than the range {what}: "
                "a sweep needs at least 2 points"
            )
        endpoint = False
    else:
        count = DEFAULT_NUM if num is None else _count(num)
        if count < 2:
            raise InputError(
                f"--num {_typed(num)}: a sweep needs at least 2 points (both ends); for one point "
                "use --at"
            )
        size = (stop - start) / (count - 1)
        endpoint = True
    if count > MAX_POINTS:
        raise InputError(
            f"{what}: {short_number(count)} points is too many (at most {MAX_POINTS:,}); "
            "use a larger --step or a smaller --num"
        )
    return Grid(start, stop, size, count, endpoint)


@dataclass(frozen=True)
class Sweep:
    """A checked sweep request: the expression, the swept variable and its grid, the
    other variables fixed, and what to compare. :meth:`request` cuts one chunk."""

    text: str
    expr: Expr
    variables: tuple[str, ...]
    swept: str
    fixed: dict[str, float]
    grid: Grid
    dtype: str = "float32"
    backends: tuple[str, ...] = (ANALYTIC,)
    timeout: float = 120.0
    order: int = 1
    mode: str = "reverse"
    #: The derivative swept, as its variables ("x", "x" for f''; "x", "y" for the
    #: mixed partial, x swept); empty: df/d(swept).
    partial: tuple[str, ...] = ()
    device: str = "cpu"

    @property
    def size(self) -> int:
        return self.grid.num

    @property
    def label(self) -> str:
        """The swept derivative's label: "x", "x,x", "x,y"."""
        return ",".join(self.partial) if self.partial else self.swept

    @property
    def modes(self) -> tuple[str, ...]:
        return MODES if self.mode == "both" else (self.mode,)

    def request(self, lo: int, hi: int) -> Request:
        points = {
            name: self.grid.points(lo, hi) if name == self.swept
            else np.full(hi - lo, self.fixed[name])
            for name in self.variables
        }
        return Request(
            text=self.text,
            expr=self.expr,
            variables=self.variables,
            points=points,
            wrt=(self.label,),
            dtype=self.dtype,
            backends=self.backends,
            timeout=self.timeout,
            order=self.order,
            mode=self.mode,
            device=self.device,
        )


def build_sweep(
    text: str,
    range_: tuple[str, str],
    *,
    num: str | None = None,
    step: str | None = None,
    at: Sequence[Point] = (),
    wrt: Sequence[str] = (),
    dtype: str = "float32",
    backends: tuple[str, ...] = (ANALYTIC,),
    timeout: float = 120.0,
    order: int = 1,
    mode: str = "reverse",
    device: str = "cpu",
) -> tuple[Sweep, list[str]]:
    """Parse and check everything, before any work; raises ExpressionError or
    InputError. Also returns notes worth saying (points that repeat in the dtype).

    With ``order`` N the swept derivative is the Nth in the swept variable, or, with
    exactly N ``wrt``, the mixed partial in that order with the first one swept."""
    expr, names = checked_expression(text, dtype=dtype, device=device, order=order,
                                     mode=mode, timeout=timeout)
    chosen = list(dict.fromkeys(wrt))
    for name in chosen:
        if name not in names:
            raise InputError(f"--wrt: {unknown('variable', name, names)}")
    partial: tuple[str, ...] = ()
    if order > 1 and len(wrt) > 1:
        partial = tuple(resolve_partials(names, list(wrt), order)[0])
        chosen = chosen[:1]
    if len(chosen) > 1:
        raise InputError(
            f"--wrt {', '.join(chosen)}: a sweep varies one variable; name only that one"
        )
    if not chosen and len(names) > 1:
        others = ",".join(f"{n}=1" for n in names[1:])
        raise InputError(
            f"the expression has variables {', '.join(names)}: name the swept one with "
            f"--wrt and fix the others with --at, e.g. --wrt {names[0]} --at {others}"
        )
    swept = chosen[0] if chosen else names[0]
    fixed = _fixed(at, names, swept)
    grid = parse_range(*range_, num=num, step=step)
    notes = _grid_notes(grid, swept, dtype)
    from autograd_cli.inputs import check_cost, check_work

    # Before SymPy loads: a derivative too large for the reference, or a chunk of
    # points too many for it within --timeout (each chunk's truth has that deadline).
    size = check_cost(expr, [partial or (swept,) * order], order)
    check_work(size, grid.num, order, chunk=CHUNK, where="--range")
    sweep = Sweep(text, expr, names, swept, fixed, grid, dtype, backends, timeout, order,
                  mode, partial or (swept,) * order, device=device)
    return sweep, notes


def _fixed(at: Sequence[Point], names: tuple[str, ...], swept: str) -> dict[str, float]:
    """--at NAME=VALUE for every variable but the swept one (one or several --at, or
    mappings of numbers from suites and the Python API)."""
    others = [n for n in names if n != swept]
    fixed: dict[str, float] = {}
    for given in at:
        if isinstance(given, Mapping):
            for name, value in given.items():
                where = f"--at {name}={value!r}"
                if name == swept:
                    raise InputError(f"{where}: {swept} is swept by --range; do not fix it")
                if name not in names:
                    raise InputError(f"{where}: {unknown('variable', name, names)}")
                if name in fixed:
                    raise InputError(f"{where}: {name} is given twice")
                fixed[name] = as_number(value, where)
            continue
        text = str(given)
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            where = f"--at {text!r}"
            if "=" not in item:
                raise InputError(
                    f"{where}: with --range, --at fixes the other variables: "
                    f"NAME=VALUE, e.g. --at {others[0] if others else 'y'}=1"
                )
            if item.partition("=")[0].strip() == swept:
                raise InputError(f"{where}: {swept} is swept by --range; do not fix it")
            name, value = named_value(item, names, fixed, where)
            fixed[name] = value
    missing = [n for n in others if n not in fixed]
    if missing:
        example = ",".join(f"{n}=1" for n in missing)
        raise InputError(
            f"{', '.join(missing)} must be fixed while {swept} is swept: add --at {example}"
        )
    return fixed


def _grid_notes(grid: Grid, swept: str, dtype: str) -> list[str]:
    """The dtype cannot tell apart points closer than its spacing: say so, and refuse
    ends beyond its range."""
    largest = max(abs(float(grid.start)), abs(float(grid.stop)))
    info = finfo(dtype)
    if largest > float(info.max):
        raise InputError(
            f"--range: {largest:g} is beyond {dtype}'s range (±{float(info.max):.4g}); "
            "use a smaller range or --dtype float64"
        )
    spacing = float(ulp(np.array(largest), dtype))
    if float(grid.step) < spacing:
        return [
            f"the step {float(grid.step):.3g} is below {dtype}'s spacing {spacing:.3g} near "
            f"{largest:g}: some {swept} values repeat after rounding to {dtype}"
        ]
    return []


def build_sweep_request(
    text: str,
    start: str,
    stop: str,
    *,
    num: str | int | None = None,
    step: str | float | None = None,
    at: Sequence[Point] = (),
    wrt: Sequence[str] = (),
    dtype: str = "float32",
    backends: tuple[str, ...] = (ANALYTIC,),
    timeout: float = 120.0,
    order: int = 1,
    mode: str = "reverse",
    device: str = "cpu",
) -> Request:
    """A sweep as one point Request (every point a row): for suites, whose sweeps are
    short and judged point by point by :func:`check.run_check`."""
    sweep, _ = build_sweep(
        text, (str(start), str(stop)), num=None if num is None else str(num),
        step=None if step is None else str(step), at=at, wrt=wrt, dtype=dtype,
        backends=backends, timeout=timeout, order=order, mode=mode, device=device,
    )
    return sweep.request(0, sweep.size)
