"""``gradcheck EXPR --range A B``: the sweep, from checked options to the exit code."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from autograd_cli.cli.options import CheckOptions
from autograd_cli.cli.output import (
    check_distinct,
    check_writable,
    fail,
    output_failed,
    terminal_width,
    write_output,
)
from autograd_cli.cli.points import device_notes
from autograd_cli.expr.parser import ExpressionError
from autograd_cli.inputs import InputError
from autograd_cli.report.files import OutputError


def check_range(options: CheckOptions) -> NoReturn:
    """``check --range``: every refusal first, then the chunked sweep (once per dtype,
    one pool of workers for all), then its outputs (CSV streamed as it goes, the rest
    at the end)."""
    from autograd_cli.comparison import sweep
    from autograd_cli.inputs import parse_backends
    from autograd_cli.report.render import render_sweep

    o = options
    assert o.range_ is not None
    try:
        chosen, notes = parse_backends(o.backends)
        plans = []
        more: list[str] = []
        for dtype in o.dtypes:  # each dtype's refusals (a range beyond float16's) up front
            plan, said = sweep.build_sweep(o.expression, o.range_, num=o.num, step=o.step,
                                           at=o.at, wrt=o.wrt, dtype=dtype, backends=chosen,
                                           timeout=o.timeout, device=o.device, order=o.order,
                                           mode=o.mode)
            plans.append(plan)
            more += said
        request = plans[0]
        series = sweep.series_names(chosen, o.mode)
        if o.arrays and o.fmt != "json":
            raise InputError("--arrays needs --format json")
        if o.arrays:
            sweep.check_arrays_fit(request.size, len(series), len(plans))
    except ExpressionError as error:
        fail(error.render())
    except InputError as error:
        fail(f"error: {error}")
    if o.plot is not None:
        from autograd_cli.report.plot_files import validate_plot_path

        try:
            validate_plot_path(o.plot)
        except ValueError as error:
            fail(f"error: --plot: {error}")
    if o.output is not None:
        check_writable(o.output)
    check_distinct([("--plot", o.plot), ("--output", o.output)])
    notes = list(dict.fromkeys(notes + more + device_notes(o.device, chosen)))
    for note in notes:
        click.echo(f"note: {note}", err=True)
    kept = {d: sweep.ArraySink(request.size, series) for d in o.dtypes} if o.arrays else {}
    figure = (
        sweep.PlotSink(request.size, series, sweep.latex_of(request.expr, request.label),
                       dtypes=len(plans))
        if o.plot is not None
        else None
    )
    try:
        with sweep.open_output(o.output if o.fmt == "csv" or o.arrays else None) as stream:
            shared: list[sweep.Sink] = [figure] if figure is not None else []
            if o.fmt == "csv":
                shared.append(sweep.CsvSink(stream, request.swept, series, o.dtypes))

            def sinks(dtype: str) -> list[sweep.Sink]:
                return [kept[dtype], *shared] if kept else shared

            with sweep.Progress(request.size * len(plans)) as bar:
                report = sweep.run_sweeps(
                    plans, [o.tolerance(d) for d in o.dtypes], jobs=o.jobs,
                    isolate=o.isolate, verbose=o.verbose, notes=notes, sinks=sinks,
                    values=o.fmt == "csv" or o.arrays, progress=bar, strict=o.strict,
                )
            report.config_files = list(o.config_files)
            if kept:
                sweep.write_json(stream, report, kept if len(kept) > 1 else kept[o.dtypes[0]])
    except OutputError as error:
        output_failed(error)
    except ValueError as error:
        fail(f"error: {error}")
    for note in report.notes[len(notes):]:
        click.echo(f"note: {note}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if figure is not None and o.plot is not None:
        try:
            sweep.draw(figure, report, o.plot)
        except OutputError as error:
            output_failed(error)
        except (OSError, ValueError) as error:
            fail(f"error: --plot {o.plot}: {error}")
    if o.fmt == "csv" and not report.ok:  # the CSV has no summary: say why on stderr
        for row in report.failures:
            click.echo(f"error: {report.name(row)}: {row.status}: {row.reason}", err=True)
        click.echo(report.verdict(), err=True)
    if o.fmt != "csv" and not o.arrays:
        if o.show_code:
            from autograd_cli.report.show_code import sweep_scripts

            for row, script in sweep_scripts(report, o.wrt, o.order, o.device):
                row.code = script
        text = render_sweep(report, o.fmt, color=o.color, width=terminal_width(o.output))
        write_output(text, o.output)
    sys.exit(report.exit_code)
