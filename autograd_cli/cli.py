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
from typing import Any, NoReturn, TypeVar

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


def _load_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """Eager: the config file's values become click's default_map before any other
    option is read, so click itself orders command line > environment > file > default."""
    if ctx.resilient_parsing:
        return
    from autograd_cli.config import ConfigError, project_config

    try:
        found = project_config(value)
    except ConfigError as error:
        fail(error.render())
    ctx.meta["gradcheck.config"] = found
    names = {
        option.lstrip("-"): p.name
        for p in ctx.command.params
        if isinstance(p, click.Option) and p.name
        for option in p.opts
        if option.startswith("--")
    }
    ctx.default_map = {**found.default_map(names), **(ctx.default_map or {})}


#: Every option a comparison takes, defined once; each can also come from the
#: environment (GRADCHECK_<NAME>) or a config file (see autograd_cli.config).
OPTIONS: dict[str, Callable[[Any], Any]] = {
    "config": click.option(
        "--config", type=click.Path(dir_okay=False, path_type=Path), is_eager=True,
        expose_value=False, callback=_load_config, envvar="GRADCHECK_CONFIG",
        help="Settings file (default: the nearest gradcheck.toml or pyproject.toml "
        "with [tool.gradcheck], from here upward)."),
    "dtype": click.option(
        "--dtype", type=click.Choice(DTYPES), default="float32", show_default=True,
        envvar="GRADCHECK_DTYPE", help="Precision the frameworks compute in."),
    "backends": click.option(
        "--backends", "backends", metavar="LIST", envvar="GRADCHECK_BACKENDS",
        help="Comma-separated backends (default: all installed)."),
    "rtol": click.option("--rtol", type=click.FloatRange(min=0), envvar="GRADCHECK_RTOL",
                         help="Relative tolerance."),
    "atol": click.option("--atol", type=click.FloatRange(min=0), envvar="GRADCHECK_ATOL",
                         help="Absolute tolerance."),
    "max-ulps": click.option(
        "--max-ulps", type=click.FloatRange(min=0), envvar="GRADCHECK_MAX_ULPS",
        help="Also pass results within this many ULPs of the truth."),
    "timeout": click.option(
        "--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0,
        show_default=True, envvar="GRADCHECK_TIMEOUT", help="Seconds each backend may take."),
    "jobs": click.option("--jobs", "-j", type=click.IntRange(min=1), envvar="GRADCHECK_JOBS",
                         help="Backends run at once (default: all)."),
    "no-isolate": click.option("--no-isolate", is_flag=True, envvar="GRADCHECK_NO_ISOLATE",
                               help="Run backends in this process (for debugging)."),
    "verbose": click.option("-v", "--verbose", is_flag=True, envvar="GRADCHECK_VERBOSE",
                            help="Timings on stderr; let framework logs through."),
}


def comparison_options(func: F) -> F:
    """Options shared by every command that runs a comparison (defined once)."""
    for name in reversed(
        ("dtype", "backends", "rtol", "atol", "max-ulps", "timeout", "jobs", "no-isolate",
         "verbose", "config")
    ):
        func = OPTIONS[name](func)
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
              envvar="GRADCHECK_FORMAT", help="Output format (stdout, or --output).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the output to FILE instead of stdout.")
@click.option("--range", "range_", nargs=2, metavar="A B",
              help="Sweep the variable (--wrt) from A to B; a summary per backend.")
@click.option("--num", metavar="N", help="Sweep points, both ends included (default 10001).")
@click.option("--step", metavar="S", help="Sweep step instead of --num; B is excluded.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Sweep figure (.png, .svg or .pdf).")
@click.option("--arrays", is_flag=True,
              help="With --range and --format json: every point's numbers too.")
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
    range_: tuple[str, str] | None,
    num: str | None,
    step: str | None,
    plot: Path | None,
    arrays: bool,
) -> None:
    """Differentiate EXPRESSION with every backend and compare with the exact derivative."""
    from autograd_cli.inputs import build_request, parse_backends

    if range_ is not None:
        _sweep(expression, range_, num, step, at, wrt, dtype, backends,
               (rtol, atol, max_ulps), timeout, jobs, not no_isolate, verbose, fmt, output,
               plot, arrays)
    for name, given in (("--num", num), ("--step", step), ("--plot", plot),
                        ("--arrays", arrays or None)):
        if given is not None:
            fail(f"error: {name} needs --range A B (a sweep)")
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


def _sweep(
    expression: str,
    range_: tuple[str, str],
    num: str | None,
    step: str | None,
    at: tuple[str, ...],
    wrt: tuple[str, ...],
    dtype: str,
    backends: str | None,
    tolerances: tuple[float | None, float | None, float | None],
    timeout: float,
    jobs: int | None,
    isolate: bool,
    verbose: bool,
    fmt: str,
    output: Path | None,
    plot: Path | None,
    arrays: bool,
) -> NoReturn:
    """``check --range``: every refusal first, then the chunked sweep, then its outputs
    (CSV streamed as it goes, the rest at the end)."""
    from autograd_cli import sweep
    from autograd_cli.compare import tolerance_for
    from autograd_cli.inputs import parse_backends
    from autograd_cli.render import render_sweep

    try:
        chosen, notes = parse_backends(backends)
        request, more = sweep.build_sweep(expression, range_, num=num, step=step, at=at,
                                          wrt=wrt, dtype=dtype, backends=chosen,
                                          timeout=timeout)
        if arrays and fmt != "json":
            raise InputError("--arrays needs --format json")
        if arrays:
            sweep.check_arrays_fit(request.size, len(chosen))
    except ExpressionError as error:
        fail(error.render())
    except InputError as error:
        fail(f"error: {error}")
    if plot is not None:
        from autograd_cli.plot import validate_plot_path

        try:
            validate_plot_path(plot)
        except ValueError as error:
            fail(f"error: --plot: {error}")
    if output is not None:
        check_writable(output)
    notes += more
    for note in notes:
        click.echo(f"note: {note}", err=True)
    kept = sweep.ArraySink(request.size, chosen) if arrays else None
    figure = sweep.PlotSink(request.size, chosen) if plot is not None else None
    try:
        with sweep.open_output(output if fmt == "csv" or arrays else None) as stream:
            sinks: list[sweep.Sink] = [s for s in (kept, figure) if s is not None]
            if fmt == "csv":
                sinks.append(sweep.CsvSink(stream, request.swept, chosen))
            with sweep.Progress(request.size) as bar:
                report = sweep.run_sweep(
                    request, tolerance_for(dtype, *tolerances), jobs=jobs, isolate=isolate,
                    verbose=verbose, notes=notes, sinks=sinks, values=fmt == "csv" or arrays,
                    progress=bar,
                )
            if kept is not None:
                sweep.write_json(stream, report, kept)
    except ValueError as error:
        fail(f"error: {error}")
    for note in report.notes[len(notes):]:
        click.echo(f"note: {note}", err=True)
    if figure is not None and plot is not None:
        try:
            sweep.draw(figure, report, plot)
        except (OSError, ValueError) as error:
            fail(f"error: --plot {plot}: {error}")
    if fmt != "csv" and not arrays:
        color = output is None and fmt == "table" and sys.stdout.isatty() and not os.environ.get(
            "NO_COLOR"
        )
        write_output(render_sweep(report, fmt, color=bool(color)), output)
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


@main.command("suite")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path), metavar="FILE...")
@click.option("-k", "keywords", multiple=True, metavar="TEXT",
              help="Only cases whose 'suite::name [dtype]' contains TEXT "
              "(case-insensitive; repeat -k for any of several).")
@click.option("--shard", metavar="K/N",
              help="Run the K-th of N slices of the selected cases (one per CI job).")
@click.option("-x", "--exitfirst", is_flag=True,
              help="Stop at the first case that does not pass; the rest are skipped.")
@click.option("--list", "list_only", is_flag=True,
              help="Print the selected cases and exit without running them.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              envvar="GRADCHECK_JUNIT", help="Also write JUnit XML (a testcase per case).")
@OPTIONS["backends"]
@OPTIONS["timeout"]
@OPTIONS["jobs"]
@OPTIONS["no-isolate"]
@OPTIONS["verbose"]
@OPTIONS["config"]
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              envvar="GRADCHECK_FORMAT",
              help="Summary format; json holds every case's full report.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the output to FILE instead of stdout.")
@click.pass_context
def suite_command(
    ctx: click.Context,
    files: tuple[Path, ...],
    keywords: tuple[str, ...],
    shard: str | None,
    exitfirst: bool,
    list_only: bool,
    junit: Path | None,
    backends: str | None,
    timeout: float,
    jobs: int | None,
    no_isolate: bool,
    verbose: bool,
    fmt: str,
    output: Path | None,
) -> None:
    """Run the cases of suite FILEs (TOML): a line per case on stderr, then a summary.

    \b
      gradcheck suite configs/smoke.toml --junit gradcheck.xml
      gradcheck suite configs/smoke.toml -k sin --shard 2/4 -x

    Options from the command line or the environment (--backends, --timeout) override
    every case; the config file's settings sit under the suite's [defaults].
    The exit code is the worst case's: 3 > 1 > 0.
    """
    from click.core import ParameterSource

    from autograd_cli import suite as suites
    from autograd_cli.config import ConfigError, ProjectConfig

    found = ctx.meta.get("gradcheck.config") or ProjectConfig(None)
    explicit = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    overrides: dict[str, Any] = {}
    if backends is not None and ctx.get_parameter_source("backends") in explicit:
        from autograd_cli.config import Invalid
        from autograd_cli.config import backends as backend_names

        try:
            overrides["backends"] = backend_names(backends)
        except Invalid as error:
            fail(f"error: --backends: {error}")
    if ctx.get_parameter_source("timeout") in explicit:
        overrides["timeout"] = timeout
    try:
        loaded = [suites.load_suite(path, found.settings, overrides) for path in files]
    except ConfigError as error:
        fail(error.render())
    cases = suites.select([c for s in loaded for c in s.cases], keywords)
    if keywords and not cases:
        fail(f"error: -k {' '.join(keywords)}: no case matches; "
             f"'gradcheck suite {files[0]} --list' shows them all")
    selection: dict[str, Any] = {"keywords": list(keywords), "shard": shard,
                                 "selected": len(cases)}
    if shard is not None:
        try:
            k, n = suites.parse_shard(shard)
        except ValueError as error:
            fail(f"error: --shard {error}")
        cases = suites.shard(cases, k, n)
    if list_only:
        click.echo("".join(f"{case.nodeid}\n" for case in cases), nl=False)
        return
    for path, option in ((output, "--output"), (junit, "--junit")):
        if path is not None:
            check_writable(path, option)
    for note in dict.fromkeys(note for case in cases for note in case.notes):
        click.echo(f"note: {note}", err=True)
    if not cases:
        click.echo(f"note: shard {shard} has no cases", err=True)

    width = len(str(len(cases)))

    def progress(result: suites.CaseResult, index: int, total: int) -> None:
        line = f"[{index:>{width}}/{total}] {result.outcome.upper():<7} {result.case.nodeid}"
        if result.outcome != suites.SKIPPED:
            line += f" ({result.seconds:.2f} s)"
        if result.outcome in (suites.FAILED, suites.ERROR):
            line += f": {result.message}"
        click.echo(line, err=True)

    results = suites.run_cases(cases, jobs=jobs, isolate=not no_isolate, verbose=verbose,
                               exitfirst=exitfirst, on_case=progress)
    if junit is not None:
        write_output(suites.junit_xml(loaded, results), junit)
    if fmt == "json":
        text = suites.render_json(loaded, results, selection)
    else:
        text = suites.render_summary(results, fmt)
    write_output(text, output)
    sys.exit(suites.exit_code(results))


def fail(message: str) -> Any:
    """A user error: the message on stderr, exit code 2, no traceback."""
    click.echo(message, err=True)
    sys.exit(EXIT_USAGE)


def check_writable(path: Path, option: str = "--output") -> None:
    """Refuse an output path before any work starts, not after minutes of it."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        fail(f"error: {option} {path}: folder {folder} does not exist")
    if path.is_dir():
        fail(f"error: {option} {path}: is a folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"error: {option} {path}: not writable")


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
