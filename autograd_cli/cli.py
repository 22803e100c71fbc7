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
from autograd_cli.core.dtypes import ALL_DTYPES
from autograd_cli.core.model import DEVICES, MAX_ORDER, MODE_CHOICES
from autograd_cli.expr.parser import ExpressionError
from autograd_cli.inputs import InputError
from autograd_cli.report.model import EXIT_USAGE
from autograd_cli.report.render import FORMATS

F = TypeVar("F", bound=Callable[..., Any])


class DefaultGroup(click.Group):
    """``gradcheck EXPR ...`` means ``gradcheck check EXPR ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["check", *args]
        return super().parse_args(ctx, args)


class ExpressionCommand(click.Command):
    """Lets an expression start with a minus (``gradcheck "-x**2" --at 1``): the first
    single-dash token that names no option and is no option's value is the expression,
    so it is moved behind ``--`` where click takes it as the argument."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes: dict[str, int] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                count = 0 if param.is_flag or param.count else param.nargs
                for name in (*param.opts, *param.secondary_opts):
                    takes[name] = count
        kept: list[str] = []
        expressions: list[str] = []
        pending = 0
        for index, token in enumerate(args):
            if token == "--":
                kept.extend(args[index:])
                break
            if pending:
                pending -= 1
                kept.append(token)
                continue
            name = token.split("=", 1)[0]
            looks_negated = token.startswith("-") and not token.startswith("--") and len(token) > 1
            if looks_negated and name not in takes and not expressions:
                expressions.append(token)
                continue
            if name in takes and "=" not in token:
                pending = takes[name]
            kept.append(token)
        if expressions:
            kept = [*kept, "--", *expressions] if "--" not in kept else kept + expressions
        return super().parse_args(ctx, kept)


def _load_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """Eager: the config file's values become click's default_map before any other
    option is read, so click itself orders command line > environment > file > default."""
    if ctx.resilient_parsing:
        return
    from autograd_cli.suite.config import ConfigError, project_config

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
#: environment (GRADCHECK_<NAME>) or a config file (see autograd_cli.suite.config).
OPTIONS: dict[str, Callable[[Any], Any]] = {
    "config": click.option(
        "--config", type=click.Path(dir_okay=False, path_type=Path), is_eager=True,
        expose_value=False, callback=_load_config, envvar="GRADCHECK_CONFIG",
        help="Settings file (default: the nearest gradcheck.toml or pyproject.toml "
        "with [tool.gradcheck], from here upward)."),
    "dtype": click.option(
        "--dtype", metavar="DTYPE[,DTYPE...]", default="float32", show_default=True,
        envvar="GRADCHECK_DTYPE",
        help=f"Precision the frameworks compute in: {', '.join(ALL_DTYPES)}; a comma "
        "list compares in each (a table section per dtype)."),
    "device": click.option(
        "--device", type=click.Choice(DEVICES), default="cpu", show_default=True,
        envvar="GRADCHECK_DEVICE",
        help="Where torch, tensorflow and jax compute (analytic and finite-diff: the CPU)."),
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
    "strict": click.option(
        "--strict", is_flag=True, envvar="GRADCHECK_STRICT",
        help="Count undefined, non-differentiable, overflow and underflow rows as "
        "mismatches (by default they are explained and not counted)."),
    "timeout": click.option(
        "--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0,
        show_default=True, envvar="GRADCHECK_TIMEOUT", help="Seconds each backend may take."),
    "jobs": click.option("--jobs", "-j", type=click.IntRange(min=1), envvar="GRADCHECK_JOBS",
                         help="Backends run at once (default: all)."),
    "no-isolate": click.option("--no-isolate", is_flag=True, envvar="GRADCHECK_NO_ISOLATE",
                               help="Run backends in this process (for debugging)."),
    "verbose": click.option("-v", "--verbose", is_flag=True, envvar="GRADCHECK_VERBOSE",
                            help="Timings on stderr; let framework logs through."),
    "order": click.option(
        "--order", type=int, default=1, show_default=True, envvar="GRADCHECK_ORDER",
        help=f"Derivative order, 1 to {MAX_ORDER}: one --wrt (or one variable) for its "
        f"Nth derivative, exactly N --wrt for a mixed partial (--wrt x --wrt y: "
        "d2f/dxdy), none for each variable's."),
    "mode": click.option(
        "--mode", type=click.Choice(MODE_CHOICES), default="reverse", show_default=True,
        envvar="GRADCHECK_MODE",
        help="Autodiff mode of torch, tensorflow and jax; both: a row per mode "
        "(analytic and finite-diff have no mode)."),
}


def comparison_options(func: F) -> F:
    """Options shared by every command that runs a comparison (defined once)."""
    for name in reversed(
        ("dtype", "device", "backends", "rtol", "atol", "max-ulps", "strict", "timeout",
         "jobs", "no-isolate", "verbose", "config")
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
      gradcheck "x*y + sin(x*y)" --at x=1,y=2 --order 2 --wrt x --wrt y --mode both
      gradcheck backends

    Exit codes: 0 all agree within tolerance (undefined points, kinks and over- or
    underflow are explained on stderr, not counted, unless --strict), 1 a discrepancy
    beyond tolerance, 2 bad input or usage, 3 a backend that was asked for could not run.
    """


@main.command(cls=ExpressionCommand)
@click.argument("expression")
@click.option("--at", "at", multiple=True, metavar="POINT",
              help="Where to differentiate: 0.5, or x=1,y=2. Repeat for more points.")
@click.option("--wrt", multiple=True, metavar="VAR",
              help="Variable to differentiate by (default: each one). Repeatable.")
@OPTIONS["order"]
@OPTIONS["mode"]
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
@click.option("--show-code", is_flag=True,
              help="After the table, a standalone script per framework that reproduces "
              "its rows (in JSON: a 'code' field per result).")
def check(
    expression: str,
    at: tuple[str, ...],
    wrt: tuple[str, ...],
    order: int,
    mode: str,
    dtype: str,
    device: str,
    backends: str | None,
    rtol: float | None,
    atol: float | None,
    max_ulps: float | None,
    timeout: float,
    jobs: int | None,
    no_isolate: bool,
    verbose: bool,
    strict: bool,
    fmt: str,
    output: Path | None,
    range_: tuple[str, str] | None,
    num: str | None,
    step: str | None,
    plot: Path | None,
    arrays: bool,
    show_code: bool,
) -> None:
    """Differentiate EXPRESSION with every backend and compare with the exact derivative."""
    from dataclasses import replace

    from autograd_cli.inputs import build_request, parse_backends, parse_dtypes

    try:
        dtypes = parse_dtypes(dtype)
    except InputError as error:
        fail(f"error: {error}")
    if show_code and fmt == "csv":
        fail("error: --show-code needs --format table, markdown or json (CSV has no room "
             "for scripts)")
    if range_ is not None:
        if show_code and arrays:
            fail("error: --show-code and --arrays: choose one (--arrays writes JSON as it "
                 "goes)")
        _sweep(expression, range_, num, step, at, wrt, dtypes, backends,
               (rtol, atol, max_ulps), timeout, jobs, not no_isolate, verbose, fmt, output,
               plot, arrays, strict=strict, device=device, order=order, mode=mode,
               show_code=show_code)
    for name, given in (("--num", num), ("--step", step), ("--plot", plot),
                        ("--arrays", arrays or None)):
        if given is not None:
            fail(f"error: {name} needs --range A B (a sweep)")
    try:
        chosen, notes = parse_backends(backends)
        request = build_request(expression, at, wrt, dtypes[0], chosen, timeout, device=device,
                                order=order, mode=mode)
    except ExpressionError as error:
        fail(error.render())
    except InputError as error:
        fail(f"error: {error}")
    if output is not None:
        check_writable(output)
    notes += _device_notes(device, chosen) + _code_notes(request, show_code)
    for note in notes:
        click.echo(f"note: {note}", err=True)

    from autograd_cli.comparison.points import run_checks
    from autograd_cli.comparison.verdicts import tolerance_for
    from autograd_cli.report.render import render

    def progress(result: Any) -> None:
        if verbose:
            click.echo(f"{result.backend}: {result.status} in {result.seconds:.2f} s", err=True)

    try:
        report = run_checks(
            [replace(request, dtype=d) for d in dtypes],
            [tolerance_for(d, rtol, atol, max_ulps) for d in dtypes],
            show_code=show_code,
            jobs=jobs,
            isolate=not no_isolate,
            verbose=verbose,
            notes=notes,
            on_result=progress,
            strict=strict,
        )
    except ValueError as error:
        fail(f"error: {error}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    color = output is None and fmt == "table" and sys.stdout.isatty() and not os.environ.get(
        "NO_COLOR"
    )
    text = render(report, fmt, color=bool(color), width=_terminal_width(output))
    write_output(text, output)
    sys.exit(report.exit_code)


def _terminal_width(output: Path | None) -> int | None:
    """The terminal's width when the table goes to one (tables then fold to fit it);
    None for a pipe or a file (tables keep their natural width)."""
    if output is not None or not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


def _device_notes(device: str, backends: tuple[str, ...]) -> list[str]:
    """Which backends --device does not move (they have only the CPU)."""
    from autograd_cli.backends import backend_class

    if device == "cpu":
        return []
    cpu_only = [name for name in backends if device not in backend_class(name).devices]
    if not cpu_only:
        return []
    return [f"{', '.join(cpu_only)} {'runs' if len(cpu_only) == 1 else 'run'} on the CPU "
            f"(--device {device} applies to torch, tensorflow and jax)"]


def _code_notes(request: Any, show_code: bool) -> list[str]:
    from autograd_cli.report.show_code import PRINTERS

    if not show_code:
        return []
    without = [name for name in request.backends if name not in PRINTERS]
    if without:
        return [f"--show-code: no script for {', '.join(without)} (scripts are for "
                f"{', '.join(PRINTERS)})"]
    return []


def _sweep(
    expression: str,
    range_: tuple[str, str],
    num: str | None,
    step: str | None,
    at: tuple[str, ...],
    wrt: tuple[str, ...],
    dtypes: tuple[str, ...],
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
    *,
    strict: bool = False,
    device: str = "cpu",
    order: int = 1,
    mode: str = "reverse",
    show_code: bool = False,
) -> NoReturn:
    """``check --range``: every refusal first, then the chunked sweep (once per dtype,
    one pool of workers for all), then its outputs (CSV streamed as it goes, the rest
    at the end)."""
    from autograd_cli.comparison import sweep
    from autograd_cli.comparison.verdicts import tolerance_for
    from autograd_cli.inputs import parse_backends
    from autograd_cli.report.render import render_sweep

    try:
        chosen, notes = parse_backends(backends)
        plans = []
        more: list[str] = []
        for dtype in dtypes:  # each dtype's refusals (a range beyond float16's) up front
            plan, said = sweep.build_sweep(expression, range_, num=num, step=step, at=at,
                                           wrt=wrt, dtype=dtype, backends=chosen,
                                           timeout=timeout, device=device, order=order,
                                           mode=mode)
            plans.append(plan)
            more += said
        request = plans[0]
        series = sweep.series_names(chosen, mode)
        if arrays and fmt != "json":
            raise InputError("--arrays needs --format json")
        if arrays:
            sweep.check_arrays_fit(request.size, len(series), len(plans))
    except ExpressionError as error:
        fail(error.render())
    except InputError as error:
        fail(f"error: {error}")
    if plot is not None:
        from autograd_cli.report.figure import validate_plot_path

        try:
            validate_plot_path(plot)
        except ValueError as error:
            fail(f"error: --plot: {error}")
    if output is not None:
        check_writable(output)
    notes = list(dict.fromkeys(notes + more + _device_notes(device, chosen)))
    for note in notes:
        click.echo(f"note: {note}", err=True)
    kept = {d: sweep.ArraySink(request.size, series) for d in dtypes} if arrays else {}
    figure = (
        sweep.PlotSink(request.size, series, sweep.latex_of(request.expr, request.label),
                       dtypes=len(plans))
        if plot is not None
        else None
    )
    try:
        with sweep.open_output(output if fmt == "csv" or arrays else None) as stream:
            shared: list[sweep.Sink] = [figure] if figure is not None else []
            if fmt == "csv":
                shared.append(sweep.CsvSink(stream, request.swept, series, dtypes))

            def sinks(dtype: str) -> list[sweep.Sink]:
                return [kept[dtype], *shared] if kept else shared

            with sweep.Progress(request.size * len(plans)) as bar:
                report = sweep.run_sweeps(
                    plans, [tolerance_for(d, *tolerances) for d in dtypes], jobs=jobs,
                    isolate=isolate, verbose=verbose, notes=notes, sinks=sinks,
                    values=fmt == "csv" or arrays, progress=bar, strict=strict,
                )
            if kept:
                sweep.write_json(stream, report, kept if len(kept) > 1 else kept[dtypes[0]])
    except ValueError as error:
        fail(f"error: {error}")
    for note in report.notes[len(notes):]:
        click.echo(f"note: {note}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if figure is not None and plot is not None:
        try:
            sweep.draw(figure, report, plot)
        except (OSError, ValueError) as error:
            fail(f"error: --plot {plot}: {error}")
    if fmt != "csv" and not arrays:
        color = output is None and fmt == "table" and sys.stdout.isatty() and not os.environ.get(
            "NO_COLOR"
        )
        if show_code:
            from autograd_cli.report.show_code import sweep_scripts

            for row, script in sweep_scripts(report, wrt, order, device):
                row.code = script
        text = render_sweep(report, fmt, color=bool(color), width=_terminal_width(output))
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
@OPTIONS["device"]
@OPTIONS["timeout"]
@OPTIONS["jobs"]
@OPTIONS["no-isolate"]
@OPTIONS["verbose"]
@OPTIONS["strict"]
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
    device: str,
    timeout: float,
    jobs: int | None,
    no_isolate: bool,
    verbose: bool,
    strict: bool,
    fmt: str,
    output: Path | None,
) -> None:
    """Run the cases of suite FILEs (TOML): a line per case on stderr, then a summary.

    \b
      gradcheck suite configs/smoke.toml --junit gradcheck.xml
      gradcheck suite configs/smoke.toml -k sin --shard 2/4 -x

    Options from the command line or the environment (--backends, --timeout, --strict)
    override every case; the config file's settings sit under the suite's [defaults].
    The exit code is the worst case's: 3 > 1 > 0.
    """
    from click.core import ParameterSource

    from autograd_cli.suite import run as suites
    from autograd_cli.suite.config import ConfigError, ProjectConfig

    found = ctx.meta.get("gradcheck.config") or ProjectConfig(None)
    explicit = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    overrides: dict[str, Any] = {}
    if backends is not None and ctx.get_parameter_source("backends") in explicit:
        from autograd_cli.suite.config import Invalid
        from autograd_cli.suite.config import backends as backend_names

        try:
            overrides["backends"] = backend_names(backends)
        except Invalid as error:
            fail(f"error: --backends: {error}")
    if ctx.get_parameter_source("timeout") in explicit:
        overrides["timeout"] = timeout
    if ctx.get_parameter_source("device") in explicit:
        overrides["device"] = device
    if strict and ctx.get_parameter_source("strict") in explicit:
        overrides["strict"] = True
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
