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
    for note in found.notes:
        click.echo(f"note: {note}", err=True)
    ctx.meta["gradcheck.config"] = found
    names = {
        option.lstrip("-"): p.name
        for p in ctx.command.params
        if isinstance(p, click.Option) and p.name
        for option in p.opts
        if option.startswith("--")
    }
    ctx.default_map = {**found.default_map(names), **(ctx.default_map or {})}


def say_config(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """``-v``: name the configuration files in use on stderr (the config option is
    eager, so it has been read by the time -v is)."""
    if value and not ctx.resilient_parsing:
        found = ctx.meta.get("gradcheck.config")
        for path in found.files if found is not None else []:
            click.echo(f"config: {path}", err=True)
    return value


def config_files() -> tuple[str, ...]:
    """The configuration files the running command uses (none outside a command)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_root().meta.get("gradcheck.config") if ctx is not None else None
    return tuple(found.files) if found is not None else ()


def origin(name: str, flag: str) -> tuple[str, str]:
    """Where option ``name``'s value came from, and the template a message names it
    by (``{}`` the value): ``--rtol {}`` (the command line, or outside a command),
    ``GRADCHECK_RTOL={}`` (the environment), ``/path/gradcheck.toml: rtol = {}`` (a
    config file). The first item is the template's prefix (``--rtol``, ...)."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source(name) if ctx is not None else None
    if ctx is not None and source is ParameterSource.ENVIRONMENT:
        param = next((p for p in ctx.command.params if p.name == name), None)
        envvar = param.envvar if param is not None else None
        if isinstance(envvar, (list, tuple)) and envvar:
            envvar = next((e for e in envvar if e in os.environ), envvar[0])
        if isinstance(envvar, str):
            return envvar, envvar + "={}"
    if ctx is not None and source is ParameterSource.DEFAULT_MAP:
        found = ctx.meta.get("gradcheck.config")
        if found is not None and found.path is not None:
            where = f"{found.path}: {flag.lstrip('-')}"
            return where, where + " = {}"
    return flag, flag + " {}"


def relabeled(error: InputError, name: str, flag: str) -> InputError:
    """The same message, naming where the value came from when that was not ``flag``
    on the command line: ``GRADCHECK_ORDER=9: ...``, ``gradcheck.toml: order = 9: ...``."""
    where, template = origin(name, flag)
    text = str(error)
    if where == flag or not text.startswith(flag):
        return error
    rest = text[len(flag):]
    if rest.startswith(" "):
        return InputError(template.format(rest[1:]))
    return InputError(where + rest)


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
                         help="Relative tolerance (giving any tolerance replaces the "
                         "default judgement, noise floor + 2 ULPs, by |d - exact| <= "
                         "atol + rtol*|exact|)."),
    "atol": click.option("--atol", type=click.FloatRange(min=0), envvar="GRADCHECK_ATOL",
                         help="Absolute tolerance."),
    "max-ulps": click.option(
        "--max-ulps", type=click.FloatRange(min=0), envvar="GRADCHECK_MAX_ULPS",
        help="Also pass results within this many ULPs of the truth."),
    "strict": click.option(
        "--strict", is_flag=True, envvar="GRADCHECK_STRICT",
        help="Fail on inaccurate rows too, and count undefined, non-differentiable, "
        "overflow and underflow rows as failures (by default they are shown and "
        "explained, and only wrong rows fail)."),
    "timeout": click.option(
        "--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0,
        show_default=True, envvar="GRADCHECK_TIMEOUT", help="Seconds each backend may take."),
    "jobs": click.option("--jobs", "-j", type=click.IntRange(min=1), envvar="GRADCHECK_JOBS",
                         help="Backends run at once (default: all)."),
    "no-isolate": click.option("--no-isolate", is_flag=True, envvar="GRADCHECK_NO_ISOLATE",
                               help="Run backends in this process (for debugging)."),
    "verbose": click.option("-v", "--verbose", is_flag=True, envvar="GRADCHECK_VERBOSE",
                            callback=say_config,
                            help="Timings and the config file in use on stderr; let "
                            "framework logs through."),
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
    #: The configuration files in use (``-v`` names them; JSON reports list them).
    config_files: tuple[str, ...] = ()

    @classmethod
    def read(cls, given: dict[str, Any]) -> CheckOptions:
        """From click's values; raises InputError for a bad option or combination."""
        from autograd_cli.comparison.verdicts import tolerance_for
        from autograd_cli.inputs import check_order, check_timeout, parse_dtypes

        values = dict(given)
        try:
            values["dtypes"] = parse_dtypes(values.pop("dtype"))
        except InputError as error:
            raise relabeled(error, "dtype", "--dtype") from None
        for name, check in (("order", check_order), ("timeout", check_timeout)):
            try:
                check(values[name])
            except InputError as error:
                raise relabeled(error, name, f"--{name}") from None
        # The tolerances' one check (a finite number >= 0), before any work, naming
        # each value's source.
        rtol, atol, max_ulps = (origin(name, flag)[1] for name, flag in (
            ("rtol", "--rtol"), ("atol", "--atol"), ("max_ulps", "--max-ulps")))
        tolerance_for(values["dtypes"][0], values["rtol"], values["atol"],
                      values["max_ulps"], names=(rtol, atol, max_ulps))
        values["isolate"] = not values.pop("no_isolate")
        values["config_files"] = config_files()
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
