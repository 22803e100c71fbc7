"""How ``gradcheck`` reads its command line: the expression-first group, an expression
that may start with a minus, every comparison option defined once (with its
environment variable and config-file key), and :class:`CheckOptions`, the one object
the check command hands on."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from autograd_cli.cli.output import fail
from autograd_cli.core.dtypes import ALL_DTYPES
from autograd_cli.core.model import DEVICES, MAX_ORDER, MODE_CHOICES
from autograd_cli.inputs import InputError

if TYPE_CHECKING:
    from autograd_cli.comparison.verdicts import Tolerance

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


def load_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
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
        expose_value=False, callback=load_config, envvar="GRADCHECK_CONFIG",
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


@dataclass(frozen=True)
class CheckOptions:
    """Everything ``gradcheck check`` was given, each option checked once, here: the
    point and the range paths read this, never click's raw values."""

    expression: str
    at: tuple[str, ...]
    wrt: tuple[str, ...]
    order: int
    mode: str
    dtypes: tuple[str, ...]
    device: str
    backends: str | None
    rtol: float | None
    atol: float | None
    max_ulps: float | None
    timeout: float
    jobs: int | None
    isolate: bool
    verbose: bool
    strict: bool
    fmt: str
    output: Path | None
    range_: tuple[str, str] | None
    num: str | None
    step: str | None
    plot: Path | None
    arrays: bool
    show_code: bool

    @classmethod
    def read(cls, given: dict[str, Any]) -> CheckOptions:
        """From click's values; raises InputError for a bad option or combination."""
        from autograd_cli.inputs import parse_dtypes

        values = dict(given)
        values["dtypes"] = parse_dtypes(values.pop("dtype"))
        values["isolate"] = not values.pop("no_isolate")
        options = cls(**values)
        if options.show_code and options.fmt == "csv":
            raise InputError("--show-code needs --format table, markdown or json (CSV has "
                             "no room for scripts)")
        if options.range_ is not None:
            if options.show_code and options.arrays:
                raise InputError("--show-code and --arrays: choose one (--arrays writes JSON "
                                 "as it goes)")
            return options
        for name, value in (("--num", options.num), ("--step", options.step),
                            ("--plot", options.plot), ("--arrays", options.arrays or None)):
            if value is not None:
                raise InputError(f"{name} needs --range A B (a sweep)")
        return options

    def tolerance(self, dtype: str) -> Tolerance:
        from autograd_cli.comparison.verdicts import tolerance_for

        return tolerance_for(dtype, self.rtol, self.atol, self.max_ulps)

    @property
    def color(self) -> bool:
        """Colour only for a table on a terminal, and never with NO_COLOR."""
        return bool(self.output is None and self.fmt == "table" and sys.stdout.isatty()
                    and not os.environ.get("NO_COLOR"))
