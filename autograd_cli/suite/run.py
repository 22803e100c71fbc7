"""Suites: TOML files of cases, run as one CI job after a framework upgrade.

A suite file holds ``[defaults]`` (what its cases share) and ``[[case]]`` tables, each
with a name, an expression and any option a single run takes, plus ``expect``: the
derivative the author knows to be right, checked on top of cross-backend agreement.

Everything is checked when the file loads (every expression parsed, every point and
option validated) so a bad file is refused with exit 2 before any framework starts.
Cases then run one after another through one pool of workers, so each framework is
imported once per suite, not once per case. A failing case never stops the others
unless asked (``exitfirst``). JUnit XML is written with :mod:`xml.etree` in the shape
CI systems (Jenkins, GitLab, GitHub Actions reporters) read.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
import re
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd_cli.comparison.verdicts import Tolerance, tolerance_for
from autograd_cli.core.dtypes import ALL_DTYPES
from autograd_cli.core.model import DEVICES, MODE_CHOICES, Request, notation
from autograd_cli.core.names import nearest, unknown
from autograd_cli.expr.nodes import Expr, variables
from autograd_cli.expr.parser import ExpressionError, parse
from autograd_cli.report.model import EXIT_MISMATCH, EXIT_OK, EXIT_USAGE, Report
from autograd_cli.suite import config
from autograd_cli.suite.config import ConfigError, Invalid, describe

if TYPE_CHECKING:
    from autograd_cli.execution import runner
    from autograd_cli.inputs import Point

JSON_SCHEMA_VERSION = 1

#: Outcomes of a case, from best to worst; the exit code follows the worst.
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"

#: A failing case's table shows at most this many rows, and this many expect problems.
MAX_ROWS = 60
MAX_PROBLEMS = 10

#: Limits that keep a suite file from exhausting time or memory, all checked while it
#: loads, before any framework starts. Cases count once per dtype; a case's sweep is
#: judged point by point, so it is capped (``gradcheck --range`` streams larger ones);
#: rows (points x derivatives x backends) are what every report keeps, a few KB each.
MAX_CASES = 1000
MAX_CASE_POINTS = 10_001
MAX_SUITE_ROWS = 200_000


# ------------------------------------------------------------------------- validators


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a non-empty string, got {describe(value)}")
    return value


def _dtypes(value: Any) -> tuple[str, ...]:
    """One dtype, or a list: the case then runs once per dtype."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise Invalid(f"name at least one of {', '.join(ALL_DTYPES)}")
    check = config.choice(ALL_DTYPES, "dtype")
    return tuple(dict.fromkeys(check(item) for item in items))


def _wrt(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item.strip() for item in items):
        raise Invalid(f"expected a variable name or a list of them, got {describe(value)}",
                      'for example wrt = "x" or wrt = ["x", "y"]')
    # Not deduplicated: with order = 3, wrt = ["x", "x", "y"] is a mixed partial.
    return tuple(item.strip() for item in items)


def _point(value: Any) -> Point:
    """A point: a number, "x=1,y=2" (read as ``--at``), or a table {x = 1, y = 2}; numbers
    stay numbers."""
    if config.is_number(value):
        return float(value)
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, dict) and value:
        for name, number in value.items():
            if not config.is_number(number):
                raise Invalid(f"{name} should be a number, got {describe(number)}",
                              config.unquote_hint(number))
        return {name: float(number) for name, number in value.items()}
    raise Invalid(f"expected a number, a string like \"x=1,y=2\" or a table, got "
                  f"{describe(value)}", "for example at = [0.5, 1.0] or at = [{x = 1, y = 2}]")


def _points(value: Any) -> tuple[Point, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise Invalid("expected at least one point", "for example at = [0.5, 1.0]")
    return tuple(_point(item) for item in items)


def _range(value: Any) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(config.is_number(v) for v in value)):
        raise Invalid(f"expected two numbers [start, stop], got {describe(value)}",
                      "for example range = [-4, 4]")
    start, stop = float(value[0]), float(value[1])
    if not (math.isfinite(start) and math.isfinite(stop)) or start >= stop:
        raise Invalid(f"expected finite start < stop, got {value!r}")
    return start, stop


def _expect(value: Any) -> Any:
    """Checked for shape here; against the expression once the case is built."""
    def one(item: Any) -> Any:
        if config.is_number(item):
            return float(item)
        if isinstance(item, str) and item.strip():
            return item
        if isinstance(item, list) and item and all(config.is_number(v) for v in item):
            return tuple(float(v) for v in item)
        raise Invalid(
            f"expected a number, a list of numbers (one per point) or a formula string, "
            f"got {describe(item)}", 'for example expect = 10.5 or expect = "6*x**2 + 8*x + 5"'
        )

    if isinstance(value, dict):
        if not value:
            raise Invalid("expected a value per variable, got an empty table")
        return {name: one(item) for name, item in value.items()}
    return one(value)


def _path(value: Any) -> Path:
    return Path(_text(value))


#: Options a case shares with a single run (and with [defaults]).
OPTION_KEYS: dict[str, config.Validator] = {
    "at": _points,
    "range": _range,
    "num": config.integer(2),
    "step": config.number(open_minimum=True),
    "wrt": _wrt,
    "dtype": _dtypes,
    "backends": config.backends,
    "rtol": config.number(),
    "atol": config.number(),
    "max-ulps": config.number(),
    "strict": config.flag,
    "timeout": config.number(open_minimum=True, maximum=config.MAX_TIMEOUT),
    "order": config.integer(1),
    "mode": config.choice(MODE_CHOICES, "mode"),
    "device": config.choice(DEVICES, "device"),
}
CASE_KEYS: dict[str, config.Validator] = {
    "name": _text,
    "expression": _text,
    **OPTION_KEYS,
    "expect": _expect,
    "plot": _path,
}
TOP_KEYS = ("name", "description", "defaults", "case")
#: Project settings that reach cases (the rest are run-wide: format, jobs, ...).
INHERITED = ("dtype", "backends", "rtol", "atol", "max-ulps", "strict", "timeout", "mode",
             "device")


# ----------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Case:
    """One run of the suite: a case at one dtype."""

    suite: str
    name: str
    id: str
    request: Request
    tolerance: Tolerance
    expect: Any = None
    expect_expr: Mapping[str, Expr] = field(default_factory=dict)
    plot: Path | None = None
    notes: tuple[str, ...] = ()
    strict: bool = False  # undefined/kink/overflow rows fail the case

    @property
    def nodeid(self) -> str:
        """What -k matches and JUnit names: ``suite::case [dtype]``."""
        return f"{self.suite}::{self.id}"


@dataclass(frozen=True)
class Suite:
    path: Path
    name: str
    description: str
    cases: tuple[Case, ...]


@dataclass
class CaseResult:
    case: Case
    outcome: str
    exit_code: int
    seconds: float = 0.0
    report: Report | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """One line for the progress line and JUnit's message attribute."""
        parts = [] if self.report is None or (self.report.ok and self.problems) else [
            self.report.verdict()
        ]
        shown = self.problems[:MAX_PROBLEMS]
        parts += shown
        if len(self.problems) > len(shown):
            parts.append(f"and {len(self.problems) - len(shown)} more")
        return "; ".join(parts)

    def details(self) -> str:
        """The case's table and its problems: the body of a JUnit failure. A large
        sweep shows only the rows that did not pass (at most MAX_ROWS)."""
        from dataclasses import replace

        from autograd_cli.report.render import render

        text = ""
        if self.report is not None:
            report = self.report
            if len(report.rows) > MAX_ROWS:
                bad = [row for row in report.rows if row.status != "ok"]
                note = (f"showing {min(len(bad), MAX_ROWS)} of {len(report.rows)} rows: "
                        "those that did not pass" if bad else
                        f"all {len(report.rows)} rows pass; showing the first {MAX_ROWS}")
                report = replace(report, rows=(bad or report.rows)[:MAX_ROWS])
                text = f"({note})\n"
            text = render(report, "table") + text
        shown = self.problems[:MAX_PROBLEMS]
        text += "".join(f"{problem}\n" for problem in shown)
        if len(self.problems) > len(shown):
            text += f"... and {len(self.problems) - len(shown)} more\n"
        return text


# --------------------------------------------------------------------------- loading


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
        expect, expect_expr = _check_expect(path, where, options.get("expect"), request)
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


def _check_expect(
    path: Path, where: str, expect: Any, request: Request
) -> tuple[Any, dict[str, Expr]]:
    """Match ``expect`` to the case's variables and points; parse formulas."""
    if expect is None:
        return None, {}
    place = f"{where}: expect"
    if isinstance(expect, dict):
        for name in expect:
            if name not in request.wrt:
                kind = "variable" if request.order == 1 else 'derivative (as "x,y")'
                raise ConfigError(path, unknown(kind, name, request.wrt, in_file=True),
                                  where=place)
        by_name = dict(expect)
    elif len(request.wrt) == 1:
        by_name = {request.wrt[0]: expect}
    else:
        raise ConfigError(
            path, f"the case differentiates by {', '.join(request.wrt)}; say which", where=place,
            hint="expect = { " + ", ".join(f'{n} = "..."' for n in request.wrt) + " }",
        )
    formulas: dict[str, Expr] = {}
    for name, value in by_name.items():
        if isinstance(value, tuple) and len(value) != request.size:
            raise ConfigError(
                path, f"{len(value)} numbers for {request.size} points", where=place,
                hint="give one number per point, or a formula string",
            )
        if isinstance(value, str):
            try:
                formulas[name] = parse(value)
            except ExpressionError as error:
                rendered = error.render().splitlines()
                raise ConfigError(
                    path, error.message, where=place, hint=error.hint,
                    excerpt=[line[2:] for line in rendered if line.startswith("  ")],
                ) from None
            extra = [v for v in variables(formulas[name]) if v not in request.variables]
            if extra:
                raise ConfigError(
                    path, f"the formula uses {', '.join(extra)}, which the expression "
                    f"does not have", where=place,
                    hint=f"the expression's variables: {', '.join(request.variables)}",
                )
    return by_name, formulas


def _check_plot(path: Path, where: str, plot: Path, request: Request, dtypes: int) -> None:
    from autograd_cli.report.figure import validate_plot_path

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


# ------------------------------------------------------------------ selection, shards


def select(cases: Sequence[Case], keywords: Sequence[str]) -> list[Case]:
    """Cases whose ``suite::case [dtype]`` contains any keyword (case-insensitive)."""
    if not keywords:
        return list(cases)
    lowered = [k.lower() for k in keywords]
    return [c for c in cases if any(k in c.nodeid.lower() for k in lowered)]


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` with 1 <= K <= N; ValueError otherwise."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found:
        raise ValueError(f"{text!r} is not K/N (for example 1/4)")
    k, n = int(found.group(1)), int(found.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"{text!r}: K must be between 1 and N (for example 1/{max(n, 1)})")
    return k, n


def shard(cases: Sequence[Case], k: int, n: int) -> list[Case]:
    """The K-th of N slices, dealt round-robin so slow neighbours spread over jobs."""
    return list(cases[k - 1 :: n])


# --------------------------------------------------------------------------- running


def run_cases(
    cases: Sequence[Case],
    *,
    jobs: int | None = None,
    isolate: bool = True,
    verbose: bool = False,
    exitfirst: bool = False,
    on_case: Callable[[CaseResult, int, int], None] | None = None,
    pool: runner.Pool | None = None,
) -> list[CaseResult]:
    """Run every case through one pool of workers (``pool``, or one opened here and
    closed after), so each framework is imported once; a failure never stops the rest
    unless ``exitfirst``, and the cases not run then are ``skipped``."""
    from autograd_cli.backends import REGISTRY
    from autograd_cli.execution import runner

    if pool is None:
        frameworks = [
            name for name in REGISTRY
            if name != "analytic" and any(name in c.request.backends for c in cases)
        ]
        with runner.Pool(frameworks, jobs=jobs, isolate=isolate, verbose=verbose) as own:
            return run_cases(cases, exitfirst=exitfirst, on_case=on_case, pool=own)
    results: list[CaseResult] = []
    for index, case in enumerate(cases, start=1):
        if exitfirst and any(r.exit_code != EXIT_OK for r in results):
            result = CaseResult(case, SKIPPED, EXIT_OK,
                                problems=["not run: an earlier case failed (-x)"])
        else:
            result = run_case(case, pool=pool)
        results.append(result)
        if on_case is not None:
            on_case(result, index, len(cases))
    return results


def run_case(
    case: Case,
    *,
    jobs: int | None = None,
    isolate: bool = True,
    verbose: bool = False,
    pool: runner.Pool | None = None,
) -> CaseResult:
    """One case: the cross-backend check, then ``expect``, then the plot."""
    from autograd_cli.comparison.points import run_check

    started = time.perf_counter()
    try:
        report = run_check(case.request, case.tolerance, jobs=jobs, isolate=isolate,
                           verbose=verbose, notes=list(case.notes), pool=pool,
                           strict=case.strict)
    except ValueError as error:
        return CaseResult(case, ERROR, EXIT_USAGE, time.perf_counter() - started,
                          problems=[f"error: {error}"])
    problems = check_expect(case, report)
    if case.plot is not None:
        problems += _draw(case, report)
    code = report.exit_code
    if problems and code == EXIT_OK:
        code = EXIT_MISMATCH
    outcome = PASSED if code == EXIT_OK else FAILED if code == EXIT_MISMATCH else ERROR
    return CaseResult(case, outcome, code, time.perf_counter() - started, report, problems)


def check_expect(case: Case, report: Report) -> list[str]:
    """Problems with ``expect``: numbers against the exact derivative within the case's
    tolerance, formulas against SymPy's derivative, symbolically."""
    if not case.expect:
        return []
    problems: list[str] = []
    first = (report.rows[0].backend, report.rows[0].mode) if report.rows else None
    for name, expected in case.expect.items():
        if isinstance(expected, str):
            problems += _check_formula(case, name, expected)
            continue
        rows = [row for row in report.rows
                if row.wrt == name and (row.backend, row.mode) == first]
        values = expected if isinstance(expected, tuple) else (expected,) * len(rows)
        tolerance = case.tolerance
        for row, value in zip(rows, values, strict=True):
            exact = math.nan if row.exact is None else row.exact
            if math.isnan(exact) and math.isnan(value):
                continue
            error = abs(value - exact)
            if not error <= tolerance.atol + tolerance.rtol * abs(exact) and error != 0:
                where = ", ".join(f"{k} = {v!r}" for k, v in row.point.items())
                problems.append(
                    f"expect: {notation(name)} at {where} should be {value!r}, "
                    f"the exact derivative is {exact!r} (off by {error:.3g})"
                )
    return problems


def _check_formula(case: Case, name: str, expected: str) -> list[str]:
    import sympy

    from autograd_cli.truth.symbolic import derivative, format_sympy, to_sympy

    exact = derivative(case.request.expr, name)
    difference = exact - to_sympy(case.expect_expr[name])
    if difference == 0 or sympy.simplify(difference) == 0 or difference.equals(0) is True:
        return []
    return [f"expect: {notation(name)} should be {expected}, the exact derivative is "
            f"{format_sympy(exact)}"]


def _draw(case: Case, report: Report) -> list[str]:
    from autograd_cli.comparison import sweep

    assert case.plot is not None
    target = Path(str(case.plot).replace("{dtype}", case.request.dtype))
    try:
        sweep.save_plot(case.request, report, target)
    except (OSError, ValueError) as error:
        return [f"plot: cannot write {target}: {error}"]
    return []


# --------------------------------------------------------------------------- reports


def exit_code(results: Sequence[CaseResult]) -> int:
    """Worst case wins: 3 (a backend could not run) > 2 > 1 (mismatch) > 0."""
    return max((r.exit_code for r in results), default=EXIT_OK)


def counts(results: Sequence[CaseResult]) -> dict[str, int]:
    found = {outcome: 0 for outcome in (PASSED, FAILED, ERROR, SKIPPED)}
    for result in results:
        found[result.outcome] += 1
    return {"total": len(results), **found}


def verdict(results: Sequence[CaseResult]) -> str:
    """The closing line, naming the cases that did not pass."""
    tally = counts(results)
    ran = tally["total"] - tally[SKIPPED]
    if not results:
        return "OK: no cases selected"
    skipped = f", {tally[SKIPPED]} skipped" if tally[SKIPPED] else ""
    if exit_code(results) == EXIT_OK:
        return f"OK: {ran} {'case' if ran == 1 else 'cases'} passed{skipped}"
    parts = []
    for outcome, label in ((FAILED, "failed"), (ERROR, "could not run")):
        ids = [r.case.id for r in results if r.outcome == outcome]
        if ids:
            parts.append(f"{len(ids)} {label}: {', '.join(ids)}")
    return f"FAIL: {tally[PASSED]} of {ran} passed; " + "; ".join(parts) + skipped


def worst_ulps(result: CaseResult) -> float | None:
    if result.report is None:
        return None
    found = [r.ulp_error for r in result.report.rows if r.ulp_error is not None]
    return max(found) if found else None


def _summary_rows(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    from autograd_cli.report.render import format_ulps

    several = len({r.case.suite for r in results}) > 1
    rows = []
    for r in results:
        request = r.case.request
        rows.append({
            "case": r.case.nodeid if several else r.case.id,
            "dtype": request.dtype,
            "points": str(request.size),
            "backends": ",".join(request.backends),
            "worst ULP": format_ulps(worst_ulps(r)),
            "time": f"{r.seconds:.2f} s",
            "result": f"ERROR (exit {r.exit_code})" if r.outcome == ERROR
            else r.outcome.upper() if r.outcome == FAILED else r.outcome,
        })
    return rows


def render_summary(results: Sequence[CaseResult], fmt: str) -> str:
    """The summary as ``fmt`` (table, markdown, csv); failing cases' tables follow."""
    rows = _summary_rows(results)
    columns = ["case", "dtype", "points", "backends", "worst ULP", "time", "result"]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["suite", "case", "dtype", "points", "backends", "worst_ulp",
                         "seconds", "outcome", "exit_code", "message"])
        for r in results:
            ulps = worst_ulps(r)
            writer.writerow([r.case.suite, r.case.id, r.case.request.dtype,
                             r.case.request.size, ",".join(r.case.request.backends),
                             "" if ulps is None else repr(ulps), f"{r.seconds:.3f}",
                             r.outcome, r.exit_code, r.message])
        return buffer.getvalue()
    failing = [r for r in results if r.outcome in (FAILED, ERROR)]
    if fmt == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(row[c].replace("|", "\\|") for c in columns) + " |"
                  for row in rows]
        for r in failing:
            lines += ["", f"### {r.case.nodeid}", "", "```", r.details().rstrip(), "```"]
        return "\n".join([*lines, "", f"**{verdict(results)}**", ""])
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, header_style="")
    for column in columns:
        numeric = column in ("points", "worst ULP", "time")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    buffer = io.StringIO()
    console = Console(file=buffer, width=160, no_color=True, highlight=False, soft_wrap=False)
    for r in failing:
        console.print(Text(f"── {r.case.nodeid} " + "─" * 20))
        console.print(Text(r.details().rstrip()))
        console.print()
    console.print(table)
    console.print()
    console.print(Text(verdict(results)))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def to_dict(suites: Sequence[Suite], results: Sequence[CaseResult],
            selection: Mapping[str, Any]) -> dict[str, Any]:
    """The whole run as JSON: each case with its full report (the single-run contract)."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "ok": exit_code(results) == EXIT_OK,
        "exit_code": exit_code(results),
        "suites": [{"name": s.name, "path": str(s.path), "description": s.description,
                    "cases": len(s.cases)} for s in suites],
        "selection": dict(selection),
        "summary": counts(results),
        "verdict": verdict(results),
        "cases": [
            {
                "suite": r.case.suite,
                "name": r.case.name,
                "id": r.case.id,
                "dtype": r.case.request.dtype,
                "device": r.case.request.device,
                "outcome": r.outcome,
                "exit_code": r.exit_code,
                "seconds": round(r.seconds, 6),
                "message": r.message,
                "problems": list(r.problems),
                "report": None if r.report is None else r.report.to_dict(),
            }
            for r in results
        ],
    }


def render_json(suites: Sequence[Suite], results: Sequence[CaseResult],
                selection: Mapping[str, Any]) -> str:
    return json.dumps(to_dict(suites, results, selection), indent=2) + "\n"


def junit_xml(suites: Sequence[Suite], results: Sequence[CaseResult]) -> str:
    """JUnit XML: <testsuites> of one <testsuite> per file, a <testcase> per case.

    A mismatch (exit 1) is a <failure>, a backend that could not run (exit 3) or a case
    that could not start an <error>, both with the verdict as ``message`` and the
    case's table as text; cases left out by -x are <skipped>.
    """
    stamp = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    host = socket.gethostname() or "localhost"
    root = ET.Element("testsuites", name="gradcheck")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for suite in suites:
        own = {id(c) for c in suite.cases}
        mine = [r for r in results if id(r.case) in own]
        tally = counts(mine)
        seconds = sum(r.seconds for r in mine)
        element = ET.SubElement(
            root, "testsuite", name=suite.name, tests=str(len(mine)),
            failures=str(tally[FAILED]), errors=str(tally[ERROR]), skipped=str(tally[SKIPPED]),
            time=f"{seconds:.3f}", timestamp=stamp, hostname=host,
        )
        properties = ET.SubElement(element, "properties")
        ET.SubElement(properties, "property", name="file", value=str(suite.path))
        ET.SubElement(properties, "property", name="python", value=platform.python_version())
        for backend, version in _versions(mine).items():
            ET.SubElement(properties, "property", name=backend, value=version)
        for r in mine:
            case = ET.SubElement(element, "testcase", name=r.case.id,
                                 classname=f"gradcheck.{suite.name}", time=f"{r.seconds:.3f}")
            if r.outcome == SKIPPED:
                ET.SubElement(case, "skipped", message=r.message)
            elif r.outcome in (FAILED, ERROR):
                kind = "failure" if r.outcome == FAILED else "error"
                detail = ET.SubElement(case, kind, message=r.message or r.outcome,
                                       type="mismatch" if kind == "failure" else "backend")
                detail.text = r.details()
        for key in ("tests", "failures", "errors", "skipped"):
            totals[key] += int(element.get(key, "0"))
        totals["time"] += seconds
    for key, value in totals.items():
        root.set(key, f"{value:.3f}" if key == "time" else str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _versions(results: Sequence[CaseResult]) -> dict[str, str]:
    found: dict[str, str] = {}
    for r in results:
        for row in r.report.rows if r.report is not None else []:
            if row.version and row.backend not in found:
                found[row.backend] = row.version
    return found


__all__ = [
    "Case",
    "CaseResult",
    "Suite",
    "exit_code",
    "junit_xml",
    "load_suite",
    "parse_shard",
    "render_json",
    "render_summary",
    "run_cases",
    "select",
    "shard",
]
