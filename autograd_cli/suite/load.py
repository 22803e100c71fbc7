"""Reading a suite file: validated, expanded into one :class:`~.model.Case` per dtype,
each with its Request built.

Everything is checked here (every expression parsed, every point and option validated,
the limits of :mod:`.schema` enforced) so a bad file is refused with exit 2 before any
framework starts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from autograd_cli.comparison.verdicts import tolerance_for
from autograd_cli.core.model import Request
from autograd_cli.core.names import nearest
from autograd_cli.expr.nodes import variables
from autograd_cli.expr.parser import ExpressionError, parse
from autograd_cli.suite import config
from autograd_cli.suite.config import ConfigError, describe
from autograd_cli.suite.expect import match_expect
from autograd_cli.suite.model import Case, Suite
from autograd_cli.suite.output import same_file
from autograd_cli.suite.schema import (
    CASE_KEYS,
    INHERITED,
    MAX_CASE_POINTS,
    MAX_CASES,
    MAX_SUITE_ROWS,
    OPTION_KEYS,
    TOP_KEYS,
)


def load_suite(
    path: Path,
    base: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Suite:
    """Read, validate and expand a suite file; raises ConfigError for anything wrong.

    ``base`` (the project configuration) sits under the file's ``[defaults]``, which sit
    under each case's own keys; ``overrides`` (command line, environment) sit above all.
    """
    data = config.read_toml(path)
    for key in data:
        if key not in TOP_KEYS:
            close = nearest(key, TOP_KEYS)
            raise ConfigError(
                path, f"unknown top-level key {key!r}",
                hint=(f"did you mean {close!r}? " if close else "")
                + "a suite holds name, description, [defaults] and [[case]] tables",
            )
    name = data.get("name", path.stem)
    description = data.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, got {describe(value)}", where=key)
    defaults_table = data.get("defaults", {})
    if not isinstance(defaults_table, dict):
        raise ConfigError(path, f"expected a table, got {describe(defaults_table)}",
                          where="defaults", hint="write [defaults] on a line of its own")
    defaults = config.validate_table(defaults_table, OPTION_KEYS, path, "[defaults]",
                                     kind="option")
    raw_cases = data.get("case", [])
    if isinstance(raw_cases, dict):
        raw_cases = [raw_cases]
    if not isinstance(raw_cases, list) or not all(isinstance(c, dict) for c in raw_cases):
        raise ConfigError(path, "cases must be [[case]] tables", where="case",
                          hint='write each case as [[case]] followed by name = "..." lines')
    if not raw_cases:
        raise ConfigError(path, "the suite has no cases", hint=_CASE_EXAMPLE)
    if len(raw_cases) > MAX_CASES:
        raise ConfigError(path, f"{len(raw_cases):,} cases is too many (at most {MAX_CASES:,})",
                          hint="split the suite into several files")
    inherited = {key: value for key, value in (base or {}).items() if key in INHERITED}
    cases: list[Case] = []
    seen: set[str] = set()
    rows = 0
    for number, raw in enumerate(raw_cases, start=1):
        label = raw.get("name") if isinstance(raw.get("name"), str) else None
        if label is not None and len(label) > 40:
            label = label[:37] + "..."
        where = f"case {label!r}" if label else f"case #{number}"
        options = config.validate_table(raw, CASE_KEYS, path, where, kind="case option")
        for required in ("name", "expression"):
            if required not in options:
                raise ConfigError(path, f"no {required}", where=where, hint=_CASE_EXAMPLE)
        merged = {**inherited, **defaults, **options, **(overrides or {})}
        for case in _expand(path, name, where, merged):
            if case.id in seen:
                raise ConfigError(path, f"two cases are named {case.id!r}", where=where,
                                  hint="give every case its own name")
            seen.add(case.id)
            cases.append(case)
            request = case.request
            rows += request.size * len(request.wrt) * len(request.backends)
            if len(cases) > MAX_CASES:
                raise ConfigError(
                    path, f"more than {MAX_CASES:,} cases (each dtype of a case counts)",
                    where=where, hint="split the suite into several files")
            if rows > MAX_SUITE_ROWS:
                raise ConfigError(
                    path, f"the cases so far make {rows:,} rows (points x derivatives x "
                    f"backends), more than the {MAX_SUITE_ROWS:,} one suite file may have",
                    where=where, hint="use fewer points or backends, or split the suite")
    return Suite(path, name, description, tuple(cases))


def repeated_files(paths: Sequence[Path]) -> list[str]:
    """A sentence for each suite file given more than once (under any name): its cases
    would run twice and JUnit would hold each of them twice."""
    found = []
    for i, path in enumerate(paths):
        earlier = next((p for p in paths[:i] if same_file(p, path)), None)
        if earlier is not None:
            also = "" if earlier == path else f" (as {earlier})"
            found.append(f"{path} is given twice{also}")
    return found


_CASE_EXAMPLE = (
    'for example: [[case]] / name = "polynomial" / expression = "2*x**3+4*x**2+5*x+6" / '
    "at = [0.5]"
)


def _expand(path: Path, suite: str, where: str, options: dict[str, Any]) -> Iterator[Case]:
    """The case once per dtype, each with its Request built and checked."""
    from autograd_cli.inputs import InputError, parse_backends

    text = options["expression"]
    try:
        expr = parse(text)
    except ExpressionError as error:
        rendered = error.render().splitlines()
        raise ConfigError(
            path, error.message, where=f"{where}: expression",
            excerpt=[line[2:] for line in rendered if line.startswith("  ")], hint=error.hint,
        ) from None
    names = variables(expr)
    if "at" not in options and "range" not in options:
        example = "0.5" if len(names) <= 1 else "{" + ", ".join(f"{n} = 1" for n in names) + "}"
        raise ConfigError(path, "no points", where=where,
                          hint=f"say where to differentiate: at = [{example}] or range = [-4, 4]")
    if "range" not in options and ("num" in options or "step" in options):
        raise ConfigError(path, "num and step go with range", where=where,
                          hint="add range = [start, stop], or remove num/step")
    try:
        chosen, notes = parse_backends(options.get("backends"))
    except InputError as error:
        raise ConfigError(path, _plain(str(error)), where=where) from None
    dtypes = options.get("dtype", ("float32",))
    if isinstance(dtypes, str):
        dtypes = (dtypes,)
    for dtype in dtypes:
        try:
            request = _request(text, options, dtype, chosen)
        except ExpressionError as error:  # pragma: no cover - parsed above
            raise ConfigError(path, error.message, where=where) from None
        except ValueError as error:
            raise ConfigError(path, _plain(str(error)), where=where) from None
        expect, expect_expr = match_expect(path, where, options.get("expect"), request)
        plot = options.get("plot")
        if plot is not None:
            _check_plot(path, where, plot, request, len(dtypes))
        yield Case(
            suite=suite,
            name=options["name"],
            id=options["name"] if len(dtypes) == 1 else f"{options['name']} [{dtype}]",
            request=request,
            tolerance=tolerance_for(
                dtype, options.get("rtol"), options.get("atol"), options.get("max-ulps")
            ),
            expect=expect,
            expect_expr=expect_expr,
            plot=plot,
            notes=tuple(notes),
            strict=bool(options.get("strict", False)),
            known={backend: reason for (backend, only), reason in options.get("known", {}).items()
                   if only in (None, dtype)},
            known_strict=bool(options.get("known-strict", False)),
        )


def _plain(message: str) -> str:
    """Messages from the single-run code name options as flags; a file names keys."""
    message = re.sub(r"e\.g\. --at (\S+)$", r'e.g. at = ["\1"]', message)
    return re.sub(r"--(at|wrt|dtype|backends|range|num|step|order|mode)\b", r"\1", message)


def _request(text: str, options: Mapping[str, Any], dtype: str, chosen: tuple[str, ...]
             ) -> Request:
    from autograd_cli.inputs import build_request

    wrt = options.get("wrt", ())
    timeout = options.get("timeout", 120.0)
    if "range" in options:
        return _sweep_request(text, options, dtype, chosen, wrt, timeout)
    return build_request(text, options["at"], wrt, dtype, chosen, timeout,
                         order=options.get("order", 1), mode=options.get("mode", "reverse"),
                         device=options.get("device", "cpu"))


def _sweep_request(
    text: str,
    options: Mapping[str, Any],
    dtype: str,
    chosen: tuple[str, ...],
    wrt: Sequence[str],
    timeout: float,
) -> Request:
    from autograd_cli.comparison import sweep

    start, stop = options["range"]
    step = options.get("step")
    count = options.get("num", sweep.DEFAULT_NUM)
    if step is not None:
        count = math.ceil((Fraction(stop) - Fraction(start)) / Fraction(step))
    if count > MAX_CASE_POINTS:
        many = f"{count:,}" if count < 10**15 else f"about {float(count):.3g}"
        raise ValueError(
            f"range: {many} points is too many for a suite case (at most "
            f"{MAX_CASE_POINTS:,}); use a larger step or a smaller num (the command line's "
            "sweeps stream any size)"
        )
    request = sweep.build_sweep_request(
        text, repr(start), repr(stop), num=options.get("num"), step=options.get("step"),
        at=options.get("at", ()), wrt=wrt, dtype=dtype, backends=chosen, timeout=timeout,
        order=options.get("order", 1), mode=options.get("mode", "reverse"),
        device=options.get("device", "cpu"),
    )
    # A case's sweep is judged point by point in mpmath: the point checks' limit.
    from autograd_cli.inputs import check_cost, check_work

    size = check_cost(request.expr, request.partials, request.order)
    check_work(size, request.size, request.order, where="--range")
    return request


def _check_plot(path: Path, where: str, plot: Path, request: Request, dtypes: int) -> None:
    from autograd_cli.report.plot_files import validate_plot_path

    if dtypes > 1 and "{dtype}" not in str(plot):
        raise ConfigError(path, "one plot file for several dtypes", where=f"{where}: plot",
                          hint='put {dtype} in the name, e.g. plot = "sweep-{dtype}.png"')
    if len(request.wrt) != 1:
        raise ConfigError(path, "a plot shows one derivative", where=f"{where}: plot",
                          hint='name it: wrt = "x"')
    try:
        validate_plot_path(Path(str(plot).replace("{dtype}", request.dtype)))
    except ValueError as error:
        raise ConfigError(path, str(error), where=f"{where}: plot") from None
