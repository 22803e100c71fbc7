"""``gradcheck EXPR --at ...``: the point check, from checked options to the exit code."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from autograd_cli.cli.options import CheckOptions
from autograd_cli.cli.output import check_writable, fail, terminal_width, write_output
from autograd_cli.expr.parser import ExpressionError
from autograd_cli.inputs import InputError


def check_points(options: CheckOptions) -> NoReturn:
    """Build the request (every refusal first), run every dtype through one pool, render."""
    from dataclasses import replace

    from autograd_cli.inputs import build_request, parse_backends

    o = options
    try:
        chosen, notes = parse_backends(o.backends)
        request = build_request(o.expression, o.at, o.wrt, o.dtypes[0], chosen, o.timeout,
                                device=o.device, order=o.order, mode=o.mode)
    except ExpressionError as error:
        fail(error.render())
    except InputError as error:
        fail(f"error: {error}")
    if o.output is not None:
        check_writable(o.output)
    notes += device_notes(o.device, chosen) + code_notes(request, o.show_code)
    for note in notes:
        click.echo(f"note: {note}", err=True)

    from autograd_cli.comparison.points import run_checks
    from autograd_cli.report.render import render

    def progress(result: Any) -> None:
        if o.verbose:
            click.echo(f"{result.backend}: {result.status} in {result.seconds:.2f} s", err=True)

    try:
        report = run_checks(
            [replace(request, dtype=d) for d in o.dtypes],
            [o.tolerance(d) for d in o.dtypes],
            show_code=o.show_code,
            jobs=o.jobs,
            isolate=o.isolate,
            verbose=o.verbose,
            notes=notes,
            on_result=progress,
            strict=o.strict,
        )
    except ValueError as error:
        fail(f"error: {error}")
    report.config_files = list(o.config_files)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    text = render(report, o.fmt, color=o.color, width=terminal_width(o.output))
    write_output(text, o.output)
    sys.exit(report.exit_code)


def device_notes(device: str, backends: tuple[str, ...]) -> list[str]:
    """Which backends --device does not move (they have only the CPU)."""
    from autograd_cli.backends import backend_class

    if device == "cpu":
        return []
    cpu_only = [name for name in backends if device not in backend_class(name).devices]
    if not cpu_only:
        return []
    return [f"{', '.join(cpu_only)} {'runs' if len(cpu_only) == 1 else 'run'} on the CPU "
            f"(--device {device} applies to torch, tensorflow and jax)"]


def code_notes(request: Any, show_code: bool) -> list[str]:
    from autograd_cli.report.show_code import PRINTERS

    if not show_code:
        return []
    without = [name for name in request.backends if name not in PRINTERS]
    if without:
        return [f"--show-code: no script for {', '.join(without)} (scripts are for "
                f"{', '.join(PRINTERS)})"]
    return []
