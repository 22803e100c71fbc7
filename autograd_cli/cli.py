"""The ``gradcheck`` command: options -> Request -> check -> render -> exit code.

Only click and our own light modules load here; frameworks load in their workers and
SymPy only once a comparison actually runs, so --help and input errors answer at once.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from autograd_cli import __version__
from autograd_cli.expr.parser import ExpressionError
from autograd_cli.inputs import InputError
from autograd_cli.model import DTYPES
from autograd_cli.render import FORMATS
from autograd_cli.report import EXIT_USAGE

F = TypeVar("F", bound=Callable[..., Any])


class DefaultGroup(click.Group):
    """``gradcheck EXPR ...`` means ``gradcheck check EXPR ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["check", *args]
        return super().parse_args(ctx, args)


def comparison_options(func: F) -> F:
    """Options shared by every command that runs a comparison (defined once)."""
    options = [
        click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True,
                     help="Precision the frameworks compute in."),
        click.option("--backends", "backends", metavar="LIST",
                     help="Comma-separated backends (default: all installed)."),
        click.option("--rtol", type=click.FloatRange(min=0), help="Relative tolerance."),
        click.option("--atol", type=click.FloatRange(min=0), help="Absolute tolerance."),
        click.option("--max-ulps", type=click.FloatRange(min=0),
                     help="Also pass results within this many ULPs of the truth."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0,
                     show_default=True, help="Seconds each backend may take."),
        click.option("--jobs", "-j", type=click.IntRange(min=1),
                     help="Backends run at once (default: all)."),
        click.option("--no-isolate", is_flag=True,
                     help="Run backends in this process (for debugging)."),
        click.option("-v", "--verbose", is_flag=True,
                     help="Timings on stderr; let framework logs through."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(
    cls=DefaultGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="gradcheck")
def main() -> None:
    """Compare derivatives across autodiff frameworks against the exact derivative.

    \b
      gradcheck "2*x**3+4*x**2+5*x+6" --at 0.5
      gradcheck "x*y + sin(x*y)" --at x=1,y=2 --wrt y --dtype float64
      gradcheck backends

    Exit codes: 0 all agree within tolerance, 1 a discrepancy beyond tolerance,
    2 bad input or usage, 3 a backend that was asked for could not run.
    """


@main.command()
@click.argument("expression")
@click.option("--at", "at", multiple=True, metavar="POINT",
              help="Where to differentiate: 0.5, or x=1,y=2. Repeat for more points.")
@click.option("--wrt", multiple=True, metavar="VAR",
              help="Variable to differentiate by (default: each one). Repeatable.")
@comparison_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format (stdout, or --output).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the output to FILE instead of stdout.")
def check(
    expression: str,
    at: tuple[str, ...],
    wrt: tuple[str, ...],
    dtype: str,
    backends: str | None,
    rtol: float | None,
    atol: float | None,
    max_ulps: float | None,
    timeout: float,
    jobs: int | None,
    no_isolate: bool,
    verbose: bool,
    fmt: str,
    output: Path | None,
) -> None:
    """Differentiate EXPRESSION with every backend and compare with the exact derivative."""
    from autograd_cli.inputs import build_request, parse_backends

    try:
        chosen, notes = parse_backends(backends)
        request = build_request(expression, at, wrt, dtype, chosen, timeout)
    except ExpressionError as error:
        fail(error.render())
    except InputError as error:
        fail(f"error: {error}")
    if output is not None:
        check_writable(output)
    for note in notes:
        click.echo(f"note: {note}", err=True)

    from autograd_cli.check import run_check
    from autograd_cli.compare import tolerance_for
    from autograd_cli.render import render

    def progress(result: Any) -> None:
        if verbose:
            click.echo(f"{result.backend}: {result.status} in {result.seconds:.2f} s", err=True)

    try:
        report = run_check(
            request,
            tolerance_for(dtype, rtol, atol, max_ulps),
            jobs=jobs,
            isolate=not no_isolate,
            verbose=verbose,
            notes=notes,
            on_result=progress,
        )
    except ValueError as error:
        fail(f"error: {error}")
    color = output is None and fmt == "table" and sys.stdout.isatty() and not os.environ.get(
        "NO_COLOR"
    )
    text = render(report, fmt, color=bool(color))
    write_output(text, output)
    sys.exit(report.exit_code)


@main.command("backends")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def backends_command(fmt: str) -> None:
    """List the backends: installed or not, version, how to install. Imports no framework."""
    import json

    from autograd_cli.backends import REGISTRY, backend_class

    rows = []
    for name in REGISTRY:
        cls = backend_class(name)
        installed = cls.is_installed()
        rows.append({
            "backend": name,
            "installed": installed,
            "version": cls.version() if installed else None,
            "method": cls.method,
            "install": None if installed else cls.install_hint,
        })
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in ("backend", "installed", "version", "method", "install"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["backend"]),
            "yes" if row["installed"] else "no",
            str(row["version"] or "—"),
            str(row["method"]),
            str(row["install"] or ""),
        )
    Console(width=160, highlight=False, no_color=not sys.stdout.isatty()).print(table)


def fail(message: str) -> Any:
    """A user error: the message on stderr, exit code 2, no traceback."""
    click.echo(message, err=True)
    sys.exit(EXIT_USAGE)


def check_writable(path: Path) -> None:
    """Refuse an output path before any work starts, not after minutes of it."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        fail(f"error: --output {path}: folder {folder} does not exist")
    if path.is_dir():
        fail(f"error: --output {path}: is a folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"error: --output {path}: not writable")


def write_output(text: str, path: Path | None) -> None:
    """stdout, or the file replaced whole: a reader never sees half an output."""
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
