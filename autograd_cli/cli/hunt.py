"""``gradcheck hunt``: the command around :mod:`autograd_cli.hunt`.

Its own module because the options, the progress line and the writing of what was
found on the way out (Ctrl-C included) are one job, apart from the search itself.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from autograd_cli.cli.output import fail, output_failed, write_output

#: Exit codes: 0 nothing found, 1 findings (as a check's "wrong"), 2 usage; signals 128+N.
EXIT_FOUND = 1


def _orders(text: str) -> list[int]:
    """``1,2`` or ``1-3``: the derivative orders to hunt."""
    from autograd_cli.core.model import MAX_ORDER

    found: list[int] = []
    for part in text.split(","):
        low, sep, high = part.strip().partition("-")
        try:
            span = range(int(low), int(high) + 1) if sep else range(int(low), int(low) + 1)
        except ValueError:
            fail(f"error: --order {text!r}: give orders as 1,2 or 1-3")
        found += [n for n in span if n not in found]
    if not found or any(n < 1 or n > MAX_ORDER for n in found):
        fail(f"error: --order {text!r}: orders are 1 to {MAX_ORDER}")
    return found


def _backends(text: str | None) -> tuple[str, ...]:
    """The named backends, or every installed one but analytic (the truth is always
    there) and finite-diff (an approximation: its misses are not framework bugs)."""
    from autograd_cli.inputs import InputError, parse_backends

    try:
        chosen, _ = parse_backends(text)
    except InputError as error:
        fail(f"error: {error}")
    if text is None:
        chosen = tuple(name for name in chosen if name not in ("analytic", "finite-diff"))
    chosen = tuple(name for name in chosen if name != "analytic")
    if not chosen:
        fail("error: --backends: name at least one backend besides analytic to hunt in")
    return chosen


@click.command("hunt")
@click.option("--budget", type=click.FloatRange(min=0), default=60.0, show_default=True,
              metavar="SECONDS", help="How long to search (shrinking included).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The run's seed: the same seed checks the same candidates.")
@click.option("--backends", metavar="A,B", help="Backends to hunt in (default: every "
              "installed framework and plugin; analytic is the truth).")
@click.option("--dtype", "dtypes", default="float32", show_default=True, metavar="D,D",
              help="Dtypes, comma-separated (each candidate draws one).")
@click.option("--order", "orders", default="1,2", show_default=True, metavar="1,2|1-4",
              help="Derivative orders to draw from.")
@click.option("--mode", type=click.Choice(["reverse", "forward", "both"]), default="reverse",
              show_default=True, help="Autodiff mode; both: each candidate draws one.")
@click.option("--functions", metavar="F,G", help="Focus on these functions (others still "
              "appear around them, less often).")
@click.option("--start", metavar="EXPR", help="An expression to start from: checked as "
              "given, wrapped and with x replaced.")
@click.option("--inaccurate-ulps", type=click.FloatRange(min=0), metavar="N",
              help="Also count inaccurate rows beyond N ULPs as findings.")
@click.option("--points", type=click.IntRange(1, 64), default=6, show_default=True,
              help="Points per candidate expression.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=20.0,
              show_default=True, help="Seconds each check may take (a slower one is "
              "skipped).")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write findings.md, findings.toml (a suite) and findings.json here.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown",
              show_default=True, help="What goes to stdout at the end.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def hunt_command(**given: Any) -> None:
    """Search for expressions and points where a backend's derivative is wrong.

    \b
      gradcheck hunt --budget 600 --seed 1
      gradcheck hunt --functions gelu,softplus --order 1-3 --mode both
      gradcheck hunt --start "log1p(x)" --output-dir hunt-out

    Candidates are drawn from the function table, weighted toward kinks, domain edges,
    subnormals and the dtype's overflow and underflow; only rows the verdict calls
    wrong count (inaccurate ones too beyond --inaccurate-ulps). Each finding is shrunk
    to its smallest reproducer and deduplicated by backend, mode, order, dtype,
    primitive and kind. Progress goes to stderr; the report to stdout and, with
    --output-dir, to findings.md, findings.toml and findings.json (written on Ctrl-C
    too). Exit codes: 0 no findings, 1 findings, 2 bad usage, 130/143 interrupted
    (what was found is written first).
    """
    from autograd_cli.cli import signals
    from autograd_cli.hunt import output
    from autograd_cli.hunt.dedup import Findings
    from autograd_cli.hunt.generate import Generator
    from autograd_cli.hunt.search import Checker, Stats, hunt
    from autograd_cli.inputs import InputError, parse_dtypes
    from autograd_cli.report.files import OutputError

    backends = _backends(given["backends"])
    try:
        dtypes = list(parse_dtypes(given["dtypes"]))
    except InputError as error:
        fail(f"error: {error}")
    orders = _orders(given["orders"])
    functions = _functions(given["functions"])
    start = _start(given["start"])
    modes = ["reverse", "forward"] if given["mode"] == "both" else [given["mode"]]
    settings = {"seed": given["seed"], "budget": given["budget"], "backends": list(backends),
                "dtypes": dtypes, "orders": orders, "mode": given["mode"],
                "functions": functions, "start": given["start"],
                "inaccurate_ulps": given["inaccurate_ulps"], "points": given["points"]}
    generator = Generator(given["seed"], functions=functions, dtypes=dtypes, orders=orders,
                          modes=modes, start=start, points=given["points"])
    checker = Checker(backends, ulps=given["inaccurate_ulps"], timeout=given["timeout"])
    findings, stats = Findings(), Stats()
    shown = [0.0]

    def progress(stats: Stats, found: Findings) -> None:
        now = time.monotonic()
        if given["quiet"] or now - shown[0] < 1.0:
            return
        shown[0] = now
        click.echo(f"hunt: {stats.checked} checked ({stats.rate:.1f}/s), {stats.skipped} "
                   f"skipped, {len(found)} findings ({found.hits} hits), "
                   f"{max(given['budget'] - stats.seconds, 0):.0f} s left", err=True)

    def finish(interrupted: str | None) -> None:
        data = output.to_dict(findings, stats, settings, interrupted)
        try:
            if given["output_dir"] is not None:
                for path in output.write_all(given["output_dir"], data):
                    if not given["quiet"]:
                        click.echo(f"wrote {path}", err=True)
            import json

            text = json.dumps(data, indent=2) + "\n" if given["fmt"] == "json" \
                else output.markdown(data)
            write_output(text, None)
        except OutputError as error:
            output_failed(error)

    try:
        hunt(generator, checker, findings, stats, budget=given["budget"],
             on_progress=progress)
    except signals.Interrupted as stop:
        finish(stop.name)
        raise
    finally:
        checker.close()
    finish(None)
    sys.exit(EXIT_FOUND if len(findings) else 0)


def _functions(text: str | None) -> list[str]:
    from autograd_cli.core.names import unknown
    from autograd_cli.expr.functions import ALIASES, FUNCTIONS

    if not text:
        return []
    found = []
    for raw in text.split(","):
        name = ALIASES.get(raw.strip(), raw.strip())
        if name not in FUNCTIONS:
            fail(f"error: --functions: {unknown('function', name, tuple(FUNCTIONS))}")
        found.append(name)
    return found


def _start(text: str | None) -> Any:
    from autograd_cli.expr.nodes import variables
    from autograd_cli.expr.parser import ExpressionError, parse

    if text is None:
        return None
    try:
        expr = parse(text)
    except ExpressionError as error:
        fail(error.render())
    if variables(expr) != ("x",):
        fail(f"error: --start {text!r}: the hunt varies x; write the expression in x alone")
    return expr
