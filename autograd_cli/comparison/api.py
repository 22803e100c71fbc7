"""Sweeps from Python (:func:`sweep`, exported as ``autograd_cli.sweep``) and what
they return: the report, its arrays and its figure together, shown in a notebook as
the summary table and the figure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from autograd_cli.execution.warm import Session
    from autograd_cli.report.sinks import ArraySink
    from autograd_cli.report.sweep_model import SweepReport


@dataclass
class SweepResult:
    """A sweep from Python (:func:`autograd_cli.sweep`).

    ``report``: the :class:`SweepReport` (``report.ok``, ``report.rows``,
    ``report.to_dict()``: the ``--format json`` summary). ``arrays``: every point's
    numbers as numpy arrays, laid out as the JSON's ``"arrays"`` (the swept variable
    by its name, ``f``, ``exact``, ``noise_floor``, ``labels``, and ``backends``:
    per row's series ``derivative``, ``abs_error``, ``ulp_error``, ``tier``; None for
    a backend that could not run); with several dtypes, one such dict per dtype;
    empty with ``arrays=False``. ``figure``: the ``--plot`` figure (a matplotlib
    ``Figure``), None with ``plot=False``."""

    report: SweepReport
    arrays: dict[str, Any] = field(default_factory=dict)
    figure: Figure | None = None

    @property
    def ok(self) -> bool:
        return self.report.ok

    def _repr_html_(self) -> str:
        from autograd_cli.report.html import figure_html, report_html

        text = report_html(self.report)
        if self.figure is not None:
            text += figure_html(self.figure, f"sweep of {self.report.expression}")
        return text


def arrays_of(sink: ArraySink, report: SweepReport, dtype: str) -> dict[str, Any]:
    """One dtype's kept arrays as a dict of numpy arrays (see :class:`SweepResult`):
    labels and tiers by name ("" for an ordinary point, or one not judged)."""
    from autograd_cli.comparison.verdicts import TIER_NAMES
    from autograd_cli.report.sinks import label_texts

    failed = {row.series for row in report.rows if row.failed and row.dtype == dtype}
    tiers = np.array([*TIER_NAMES, ""])
    backends: dict[str, Any] = {
        name: None if name in failed else {
            **{key: array for key, array in sink.columns[name].items()},
            "tier": tiers[np.asarray(sink.tiers[name], dtype=np.intp)],
        }
        for name in sink.backends
    }
    return {
        report.swept: sink.x,
        "f": sink.values,
        "exact": sink.exact,
        "noise_floor": sink.floor,
        "labels": np.array(label_texts(sink.labels, ""), dtype=str),
        "backends": backends,
    }


def sweep(
    expression: str,
    range: Any,
    *,
    num: int | str | None = None,
    step: float | str | None = None,
    wrt: str | list[str] | tuple[str, ...] = (),
    at: Any = None,
    dtype: str | list[str] | tuple[str, ...] = "float32",
    backends: str | list[str] | tuple[str, ...] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_ulps: float | None = None,
    order: int = 1,
    mode: str = "reverse",
    device: str = "cpu",
    strict: bool = False,
    timeout: float = 120.0,
    isolate: bool = True,
    arrays: bool = True,
    plot: bool = True,
    session: Session | None = None,
) -> SweepResult:
    """The same sweep as ``gradcheck EXPR --range A B``, as a :class:`SweepResult`:
    ``.report`` (the summary), ``.arrays`` (every point's numbers, as ``--arrays``),
    ``.figure`` (the ``--plot`` figure, a matplotlib Figure; needs matplotlib).

    ``range`` is ``(start, stop)`` (numbers, or text read as ``--range`` reads it);
    ``num`` (both ends included) or ``step`` (the end excluded), not both. ``wrt``
    names the swept variable and ``at`` fixes the others (``{"y": 2}``). The other
    arguments are :func:`compare`'s. Bad input raises ValueError before any work; the
    workers stay warm between calls as for :func:`compare`.
    """
    from autograd_cli.comparison import sweep as sweeps
    from autograd_cli.comparison.api import SweepResult, arrays_of
    from autograd_cli.comparison.verdicts import tolerance_for
    from autograd_cli.inputs import (
        InputError,
        check_flag,
        parse_backends,
        parse_dtypes,
        strings,
    )

    if not isinstance(expression, str):
        raise InputError(f"expression: expected a string, got {type(expression).__name__}")
    for name, value in (("isolate", isolate), ("strict", strict), ("arrays", arrays),
                        ("plot", plot)):
        check_flag(value, name)
    if isinstance(range, (str, bytes)) or not hasattr(range, "__len__") or len(range) != 2:
        raise InputError("range: give the start and the end, e.g. range=(-5, 5)")
    bounds = (_number_text(range[0], "range"), _number_text(range[1], "range"))
    if num is not None and step is not None:
        raise InputError("give num or step, not both")
    if num is not None and (isinstance(num, bool) or not isinstance(num, (int, str))):
        raise InputError(f"num: expected a whole number of points, got {num!r}")
    count = None if num is None else str(num)
    spacing = None if step is None else _number_text(step, "step")
    if at is None:
        fixed = []
    elif isinstance(at, (list, tuple)):
        fixed = list(at)
    else:
        fixed = [at]
    wanted = (wrt,) if isinstance(wrt, str) else strings(wrt, "wrt")
    if backends is not None and not isinstance(backends, str):
        backends = strings(backends, "backends")
    dtypes = parse_dtypes(dtype if isinstance(dtype, str) else strings(dtype, "dtype"))
    tolerances = [tolerance_for(d, rtol, atol, max_ulps) for d in dtypes]
    chosen, notes = parse_backends(backends)
    plans = []
    for each in dtypes:  # each dtype's refusals up front, as the command line's
        plan, said = sweeps.build_sweep(expression, bounds, num=count, step=spacing, at=fixed,
                                        wrt=wanted, dtype=each, backends=chosen,
                                        timeout=timeout, device=device, order=order,
                                        mode=mode)
        plans.append(plan)
        notes += said
    notes = list(dict.fromkeys(notes))
    first = plans[0]
    series = sweeps.series_names(chosen, mode)
    if arrays:
        sweeps.check_arrays_fit(first.size, len(series), len(plans))
    if plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise InputError("plot=True needs matplotlib: pip install 'gradcheck[plot]', "
                             "or pass plot=False")
    from autograd_cli.execution.warm import Session, default_session

    if session is not None and not isinstance(session, Session):
        raise InputError(f"session: expected a Session, got {type(session).__name__}")

    kept = {d: sweeps.ArraySink(first.size, series) for d in dtypes} if arrays else {}
    figure = (sweeps.PlotSink(first.size, series, sweeps.latex_of(first.expr, first.label),
                              dtypes=len(plans)) if plot else None)
    shared: list[sweeps.Sink] = [figure] if figure is not None else []

    def sinks(dtype: str) -> list[sweeps.Sink]:
        return [kept[dtype], *shared] if kept else shared

    if not isolate:  # backends in this process: nothing to keep warm
        report = sweeps.run_sweeps(plans, tolerances, isolate=False, notes=notes, sinks=sinks,
                                   values=arrays, strict=strict)
    else:
        from autograd_cli.report.sweep_model import merge_sweeps

        with (session or default_session()).pool() as pool:
            report = merge_sweeps([
                sweeps.run_sweep(plan, tolerance, notes=notes, sinks=sinks(plan.dtype),
                                 values=arrays, strict=strict, pool=pool)
                for plan, tolerance in zip(plans, tolerances, strict=True)
            ])
    found: dict[str, Any] = {}
    if kept:
        found = {d: arrays_of(kept[d], report, d) for d in dtypes}
        if len(dtypes) == 1:
            found = found[dtypes[0]]
    drawn = None
    if figure is not None:
        from autograd_cli.report.figure import build_figure

        drawn = build_figure(figure.figure_data(report))
    return SweepResult(report=report, arrays=found, figure=drawn)


def _number_text(value: Any, where: str) -> str:
    """A range end or step as ``--range``/``--step`` text: text as given, a number
    checked (no booleans, complex, or ints beyond float64) and written exactly."""
    from decimal import Decimal

    from autograd_cli.inputs import as_number

    if isinstance(value, str):
        return value
    number = as_number(value, where)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    return repr(number)
