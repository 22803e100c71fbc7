"""The ``gradcheck`` command: options -> Request -> check -> render -> exit code.

Only click and our own light modules load here; frameworks load in their workers and
SymPy only once a comparison actually runs, so --help and input errors answer at once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from autograd_cli import __version__
from autograd_cli.cli.functions import functions_command
from autograd_cli.cli.hunt import hunt_command
from autograd_cli.cli.options import (
    OPTIONS,
    CheckOptions,
    DefaultGroup,
    ExpressionCommand,
    comparison_options,
)
from autograd_cli.cli.output import check_writable, fail, write_output
from autograd_cli.cli.service import service_group
from autograd_cli.inputs import InputError
from autograd_cli.report.render import FORMATS


@click.group(
    cls=DefaultGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="gradcheck")
def cli() -> None:
    """Compare derivatives across autodiff frameworks against the exact derivative.

    \b
      gradcheck "2*x**3+4*x**2+5*x+6" --at 0.5
      gradcheck "x*y + sin(x*y)" --at x=1,y=2 --wrt y --dtype float64
      gradcheck "x*y + sin(x*y)" --at x=1,y=2 --order 2 --wrt x --wrt y --mode both
      gradcheck backends
      gradcheck diff old.json new.json --format markdown

    \b
    A background service keeps the frameworks loaded between runs, so a second
    run answers in a fraction of a second (gradcheck service status|stop).
    Off with --no-service or GRADCHECK_SERVICE=0, and when CI is set.

    \b
    Exit codes:
      0    no backend is wrong (inaccurate rows, undefined points, kinks and
           over- or underflow are shown and explained, not counted, unless --strict)
      1    a wrong row (or, with --strict or a tolerance given, an inaccurate one)
      2    bad input or usage (nothing was computed)
      3    a backend that was asked for could not run (the worst: 3 > 1)
      4    the output could not be written (disk full, folder gone)
      129  ended by SIGHUP, 130 by SIGINT (Ctrl-C), 143 by SIGTERM: workers and
           temporary files are cleaned up; a suite reports the cases that finished
    """


def main(args: Sequence[str] | None = None, *, held: Sequence[int] = (),
         prog_name: str | None = None) -> NoReturn:
    """The ``gradcheck`` command: ``main(["x**2", "--at", "3"])`` runs it in-process and
    ends in SystemExit with its exit code, as the console script does.

    Around click's own handling: SIGINT, SIGTERM and SIGHUP end the run through every
    cleanup (:mod:`.signals`) and exit 128 + N with one line on stderr, not click's
    "Aborted!" and exit 1. ``held``: signals that arrived while the CLI was imported.
    ``prog_name``: the name usage lines show (the service runs a client's command).
    """
    from autograd_cli.cli import signals

    code: int | str | None
    caught = signals.Caught()
    try:
        with signals.handled(held) as caught:
            cli.main(args=list(args) if args is not None else None, prog_name=prog_name)
        code = 0  # pragma: no cover - click's standalone mode always exits
    except signals.Interrupted as stop:
        code = stop.exit_code
        signals.say(stop.signum)
    except SystemExit as done:
        code = done.code
        if caught.signum is not None:  # its exception was swallowed on the way
            code = caught.exit_code
            signals.say(caught.signum)
    sys.exit(code)


cli.add_command(service_group)


@cli.command(cls=ExpressionCommand)
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
def check(**given: Any) -> None:
    """Differentiate EXPRESSION with every backend and compare with the exact derivative."""
    from autograd_cli.cli.points import check_points
    from autograd_cli.cli.sweeps import check_range

    try:
        options = CheckOptions.read(given)
    except InputError as error:
        fail(f"error: {error}")
    if options.range_ is not None:
        check_range(options)
    check_points(options)


cli.add_command(functions_command)


@cli.command("backends")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def backends_command(fmt: str) -> None:
    """List the backends: installed or not, version, how to install, and where each comes
    from (built in, or the plugin package and its version). Imports no framework."""
    import json

    from autograd_cli.backends import (
        NOTES,
        REGISTRY,
        SOURCES,
        Source,
        backend_class,
        load_problem,
    )

    rows = []
    for name in REGISTRY:
        source = SOURCES.get(name, Source("unknown", None, REGISTRY[name]))
        row: dict[str, Any] = {"backend": name, "installed": False, "version": None,
                               "method": "", "install": None}
        try:
            cls = backend_class(name)
            reason = load_problem(name)
            installed = cls.is_installed()
            row.update({
                "installed": installed,
                "version": cls.version() if installed else None,
                "method": cls.method,
                "install": None if installed or reason else cls.install_hint,
            })
        except Exception as exc:  # a plugin's class may fail any way: a row, not a traceback
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            reason = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        row.update({"source": source.name, "source_version": source.version,
                    "reason": reason})
        rows.append(row)
    for note in NOTES:
        click.echo(f"note: {note}", err=True)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in ("backend", "installed", "version", "method", "install", "source"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["backend"]),
            "unavailable" if row["reason"] else "yes" if row["installed"] else "no",
            str(row["version"] or "—"),
            str(row["method"]),
            str(row["reason"] or row["install"] or ""),
            " ".join(str(part) for part in (row["source"], row["source_version"]) if part),
        )
    Console(width=160, highlight=False, no_color=not sys.stdout.isatty()).print(table)


@cli.command("suite")
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
@click.option("--baseline", type=click.Path(path_type=Path), metavar="OLD.json",
              help="Compare each case with the same case of a suite JSON from an earlier "
              "run (--format json); exit 1 if one got worse.")
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
    baseline: Path | None,
) -> None:
    """Run the cases of suite FILEs (TOML): a line per case on stderr, then a summary.

    \b
      gradcheck suite configs/smoke.toml --junit gradcheck.xml
      gradcheck suite configs/smoke.toml -k sin --shard 2/4 -x

    Options from the command line or the environment (--backends, --timeout, --strict)
    override every case; the config file's settings sit under the suite's [defaults].
    The exit code is the worst case's: 3 > 1 > 0; with --baseline, at least 1 when a
    case got worse than in the baseline.
    """
    from click.core import ParameterSource

    from autograd_cli.cli import signals
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
    for repeated in suites.repeated_files(files):
        fail(f"error: {repeated}; give each suite file once")
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
    for collision in suites.collisions(cases, {"--junit": junit, "--output": output}):
        fail(f"error: {collision}; give each output its own file")
    for path, option in ((output, "--output"), (junit, "--junit")):
        if path is not None:
            check_writable(path, option)
    old_suite: dict[str, Any] | None = None
    if baseline is not None:
        from autograd_cli.report import diff as diffs

        try:
            old_suite = diffs.load_suite_baseline(baseline)
        except diffs.NotComparable as error:
            fail(f"error: --baseline: {error}")
    for note in dict.fromkeys(note for case in cases for note in case.notes):
        click.echo(f"note: {note}", err=True)
    if not cases:
        click.echo(f"note: shard {shard} has no cases", err=True)

    width = len(str(len(cases)))
    finished: list[suites.CaseResult] = []

    def progress(result: suites.CaseResult, index: int, total: int) -> None:
        finished.append(result)
        line = f"[{index:>{width}}/{total}] {result.outcome.upper():<7} {result.case.nodeid}"
        if result.outcome != suites.SKIPPED:
            line += f" ({result.seconds:.2f} s)"
        if result.outcome in (suites.FAILED, suites.ERROR):
            line += f": {result.message}"
        elif result.known:
            line += ": " + "; ".join(result.known)
        click.echo(line, err=True)

    def report(results: list[suites.CaseResult], interrupted: int | None = None) -> None:
        if junit is not None:
            write_output(suites.junit_xml(loaded, results, interrupted), junit)
        if fmt == "json":
            text = suites.render_json(loaded, results, selection, interrupted,
                                      config_files=found.files)
        else:
            text = suites.render_summary(results, fmt, interrupted)
        write_output(text, output)

    try:
        results = suites.run_cases(cases, jobs=jobs, isolate=not no_isolate, verbose=verbose,
                                   exitfirst=exitfirst, on_case=progress)
    except signals.Interrupted as stop:  # what finished is reported, as pytest does
        report(suites.not_run(cases, finished, stop.signum), stop.signum)
        raise
    report(results)
    code = suites.exit_code(results)
    if old_suite is not None:
        import json

        compared = diffs.compare_suites(old_suite, json.loads(
            suites.render_json(loaded, results, selection, config_files=found.files)))
        for line in compared.lines():
            click.echo(line, err=True)
        code = max(code, compared.exit_code)
    sys.exit(code)




@cli.command("diff")
@click.argument("old", type=click.Path(path_type=Path), metavar="OLD.json")
@click.argument("new", type=click.Path(path_type=Path), metavar="NEW.json")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]),
              default="table", show_default=True,
              help="Output format; markdown fits a pull-request comment.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the output to FILE instead of stdout.")
def diff_command(old: Path, new: Path, fmt: str, output: Path | None) -> None:
    """Compare two JSON reports of the same check (before and after an upgrade).

    \b
      gradcheck "tanh(x)" --at 3 --format json -o old.json
      (upgrade a framework)
      gradcheck "tanh(x)" --at 3 --format json -o new.json
      gradcheck diff old.json new.json --format markdown

    Each row is same (bitwise the same derivative), changed (other bits, same
    verdict), better or worse (ok < inaccurate < wrong < could not run), added or
    removed. Exit code 1 when a row got worse, 2 when the files cannot be compared.
    """
    from autograd_cli.cli.output import terminal_width
    from autograd_cli.report import diff as diffs

    if output is not None:
        check_writable(output)
    try:
        found = diffs.compare(diffs.load(old), diffs.load(new), str(old), str(new))
    except diffs.NotComparable as error:
        fail(f"error: {error}")
    color = fmt == "table" and output is None and sys.stdout.isatty()
    write_output(diffs.render(found, fmt, color=color, width=terminal_width(output)), output)
    sys.exit(found.exit_code)


cli.add_command(hunt_command)
