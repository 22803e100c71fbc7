"""``gradcheck diff OLD.json NEW.json``: what changed between two JSON reports of the same
comparison, typically before and after a framework upgrade.

Rows are matched by (backend, mode, dtype, wrt, point) in point reports and by
(backend, mode, dtype, wrt) in sweeps. Each matched row gets a label: ``same`` (the
derivative bitwise identical; in a sweep, every error statistic identical), ``changed``
(other bits, the same rank), ``better`` or ``worse`` (its rank moved: ok and the
explained statuses < inaccurate < wrong < a backend that could not run); rows only in
one report are ``added`` or ``removed``. Pure functions from parsed JSON to text; the
command lives in :mod:`autograd_cli.cli`.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograd_cli.core.statuses import FAILURE_STATUSES, INACCURATE, WRONG
from autograd_cli.report.common import JSON_SCHEMA_VERSION

SAME, CHANGED, BETTER, WORSE, ADDED, REMOVED = (
    "same", "changed", "better", "worse", "added", "removed")
LABELS: tuple[str, ...] = (WORSE, BETTER, CHANGED, ADDED, REMOVED, SAME)
DIFF_FORMATS: tuple[str, ...] = ("table", "markdown", "json")
#: The sweep statistics that must all be identical for a sweep row to be ``same``.
SWEEP_NUMBERS: tuple[str, ...] = (
    "points", "max_abs_error", "max_rel_error", "max_ulp_error", "mean_ulp_error",
    "worst_at", "max_abs_at", "nonfinite", "mismatches", "inaccurate", "wrong",
    "undefined", "nondifferentiable", "overflow", "underflow",
)
UNKNOWN = "unknown"


class NotComparable(Exception):
    """A file that is no gradcheck report, or two reports that cannot be compared."""


def rank(status: str) -> int:
    """How bad a row is: ok and the explained statuses 0, inaccurate 1, wrong 2, a
    backend that could not run (error, crashed, timeout, unavailable) 3."""
    if status in FAILURE_STATUSES:
        return 3
    return {INACCURATE: 1, WRONG: 2}.get(status, 0)


def _read_json(path: Path) -> Any:
    """The JSON in ``path``; NotComparable with one line when it is missing or not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotComparable(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NotComparable(f"{path}: is a folder") from None
    except (OSError, UnicodeDecodeError) as error:
        raise NotComparable(f"{path}: cannot be read ({error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotComparable(f"{path}: not JSON ({error.msg} at line {error.lineno})") from None
    return data


def load(path: Path) -> dict[str, Any]:
    """A point or sweep report read from ``path``; NotComparable with one line if not."""
    data = _read_json(path)
    if not isinstance(data, dict) or "schema_version" not in data:
        raise NotComparable(f"{path}: not a gradcheck JSON report "
                            "(write one with --format json)")
    if "cases" in data and "results" not in data:
        raise NotComparable(f"{path}: a suite report; diff compares point or sweep reports")
    if data["schema_version"] != JSON_SCHEMA_VERSION:
        raise NotComparable(f"{path}: schema_version {data['schema_version']!r}; diff reads "
                            f"version {JSON_SCHEMA_VERSION} (run it again with this gradcheck)")
    results = data.get("results")
    if (not isinstance(results, list) or not isinstance(data.get("expression"), str)
            or not all(isinstance(r, dict) and "backend" in r and "status" in r
                       for r in results)):
        raise NotComparable(f"{path}: not a gradcheck JSON report "
                            "(write one with --format json)")
    return data


def kind(data: dict[str, Any]) -> str:
    return "sweep" if data.get("kind") == "sweep" else "point"


def number(value: Any) -> float | None:
    """A JSON number back to a float ("nan", "inf", "-inf" are strings there)."""
    if value is None:
        return None
    return float(value)


def bits(value: Any) -> bytes | None:
    """The float64 bits of a JSON number (-0.0 and 0.0 differ; every NaN is one)."""
    parsed = number(value)
    if parsed is None:
        return None
    if math.isnan(parsed):
        return b"nan"
    return struct.pack(">d", parsed)


def point_key(point: dict[str, Any]) -> tuple[tuple[str, bytes | None], ...]:
    return tuple(sorted((name, bits(v)) for name, v in point.items()))


def row_key(data: dict[str, Any], row: dict[str, Any]) -> tuple[Any, ...]:
    key: tuple[Any, ...] = (row["backend"], row.get("mode"), row.get("dtype"), row.get("wrt"))
    if kind(data) == "point":
        key += (point_key(row.get("point") or {}),)
    return key


def _squeeze(text: str) -> str:
    return "".join(text.split())


def check_comparable(old: dict[str, Any], new: dict[str, Any]) -> None:
    """NotComparable unless both reports compare the same thing (rows may differ)."""
    if kind(old) != kind(new):
        raise NotComparable(f"not comparable: a {kind(old)} report against a "
                            f"{kind(new)} report")
    if (_squeeze(old["expression"]) != _squeeze(new["expression"])
            and old.get("exact_expression") != new.get("exact_expression")):
        raise NotComparable(f"not comparable: different expressions "
                            f"({old['expression']!r} and {new['expression']!r})")
    if kind(old) == "sweep":
        for name in ("swept", "range", "fixed"):
            if old.get(name) != new.get(name):
                raise NotComparable(f"not comparable: different sweeps ({name} "
                                    f"{json.dumps(old.get(name))} and "
                                    f"{json.dumps(new.get(name))})")
        return
    points = [{point_key(r.get("point") or {}) for r in data["results"]} for data in (old, new)]
    if points[0] and points[1] and not points[0] & points[1]:
        raise NotComparable("not comparable: the reports have no point in common")


@dataclass
class RowDiff:
    change: str
    key: tuple[Any, ...]
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    @property
    def row(self) -> dict[str, Any]:
        found = self.new if self.new is not None else self.old
        assert found is not None
        return found


@dataclass
class Diff:
    kind: str
    old_path: str
    new_path: str
    old: dict[str, Any]
    new: dict[str, Any]
    rows: list[RowDiff] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {label: sum(1 for r in self.rows if r.change == label) for label in LABELS}

    @property
    def exit_code(self) -> int:
        return 1 if self.counts[WORSE] else 0

    @property
    def variables(self) -> list[str]:
        return list(self.new.get("variables") or self.old.get("variables") or [])


def same_numbers(kind_: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    names = SWEEP_NUMBERS if kind_ == "sweep" else ("derivative",)
    return all(bits(old.get(n)) == bits(new.get(n)) for n in names)


def label(kind_: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    before, after = rank(old["status"]), rank(new["status"])
    if after > before:
        return WORSE
    if after < before:
        return BETTER
    if old["status"] == new["status"] and same_numbers(kind_, old, new):
        return SAME
    return CHANGED


def compare(old: dict[str, Any], new: dict[str, Any], old_path: str = "OLD",
            new_path: str = "NEW") -> Diff:
    """Match the rows of two reports (see the module's docstring); NotComparable when
    they compare different things."""
    check_comparable(old, new)
    found = Diff(kind(old), old_path, new_path, old, new)
    olds = {row_key(old, r): r for r in old["results"]}
    news = {row_key(new, r): r for r in new["results"]}
    for key, row in news.items():
        before = olds.get(key)
        found.rows.append(RowDiff(ADDED if before is None else label(found.kind, before, row),
                                  key, before, row))
    found.rows += [RowDiff(REMOVED, key, row, None) for key, row in olds.items()
                   if key not in news]
    return found


# ----------------------------------------------------------------------- provenance

def provenance(data: dict[str, Any]) -> dict[str, Any] | None:
    found = data.get("produced_by")
    return found if isinstance(found, dict) else None


def frameworks(data: dict[str, Any]) -> dict[str, str | None]:
    """Each backend's version: produced_by's, else the rows' own."""
    given = (provenance(data) or {}).get("frameworks")
    if isinstance(given, dict):
        return dict(given)
    found: dict[str, str | None] = {}
    for row in data["results"]:
        if found.get(row["backend"]) is None:
            found[row["backend"]] = row.get("version")
    return found


def describe(data: dict[str, Any]) -> str:
    """"gradcheck 0.1.0, Python 3.11.7, Linux-...-x86_64, cpu; torch 2.13.0+cpu, ..."."""
    made = provenance(data)
    parts = ", ".join(f"{name} {version or 'not installed'}"
                      for name, version in frameworks(data).items())
    if made is None:
        return f"{UNKNOWN} (no produced_by); rows: {parts}"
    return (f"gradcheck {made.get('gradcheck', UNKNOWN)}, Python {made.get('python', UNKNOWN)}, "
            f"{made.get('platform', UNKNOWN)}, {made.get('device', UNKNOWN)}; {parts}")


def version_changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What differs in what produced the two reports: [{name, old, new}], gradcheck,
    python, platform, machine and device first (only where both reports say), then each
    framework (``None``: not installed or not in that report)."""
    changes = []
    before, after = provenance(old), provenance(new)
    if before is not None and after is not None:
        for name in ("gradcheck", "python", "platform", "machine", "device"):
            if before.get(name) != after.get(name):
                changes.append({"name": name, "old": before.get(name), "new": after.get(name)})
    was, now = frameworks(old), frameworks(new)
    for name in dict.fromkeys([*was, *now]):
        if was.get(name) != now.get(name):
            changes.append({"name": name, "old": was.get(name), "new": now.get(name)})
    return changes


def change_text(change: dict[str, Any]) -> str:
    return f"{change['name']} {change['old'] or 'none'} -> {change['new'] or 'none'}"


# ----------------------------------------------------------------------- rendering

def _value(value: Any, dtype: Any = None) -> str:
    """The shortest text that reads back as the same value of ``dtype``."""
    parsed = number(value)
    if parsed is None:
        return "—"
    if dtype in ("float16", "bfloat16", "float32", "float64"):
        from autograd_cli.core.dtypes import shortest

        return shortest(parsed, dtype)
    return repr(parsed)


def _ulps(value: Any) -> str:
    parsed = number(value)
    if parsed is None:
        return "—"
    return "0" if parsed == 0 else f"{parsed:.3g}"


def _status(row: dict[str, Any] | None) -> str:
    return "—" if row is None else str(row["status"])


def _point(point: dict[str, Any]) -> str:
    return ", ".join(f"{name}={_value(v)}" for name, v in point.items())


def _columns(diff: Diff) -> list[str]:
    rows = [r.row for r in diff.rows]
    columns = ["dtype"] if len({r.get("dtype") for r in rows}) > 1 else []
    columns.append("backend")
    if any(r.get("mode") == "forward" for r in rows):
        columns.append("mode")
    if len({r.get("wrt") for r in rows}) > 1:
        columns.append("wrt")
    if diff.kind == "point":
        if len({point_key(r.get("point") or {}) for r in rows}) > 1:
            columns.append("point")
        columns += ["old f'", "new f'", "old ULP err", "new ULP err"]
    else:
        columns += ["old max ULP", "new max ULP", "old mean ULP", "new mean ULP"]
    return [*columns, "old verdict", "new verdict", "change"]


def _cells(diff: Diff, found: RowDiff, columns: list[str]) -> list[str]:
    row, old, new = found.row, found.old or {}, found.new or {}
    cells = {
        "dtype": str(row.get("dtype")),
        "backend": str(row["backend"]),
        "mode": str(row.get("mode") or "—"),
        "wrt": str(row.get("wrt")),
        "point": _point(row.get("point") or {}),
        "old f'": _value(old.get("derivative"), row.get("dtype")),
        "new f'": _value(new.get("derivative"), row.get("dtype")),
        "old ULP err": _ulps(old.get("ulp_error")),
        "new ULP err": _ulps(new.get("ulp_error")),
        "old max ULP": _ulps(old.get("max_ulp_error")),
        "new max ULP": _ulps(new.get("max_ulp_error")),
        "old mean ULP": _ulps(old.get("mean_ulp_error")),
        "new mean ULP": _ulps(new.get("mean_ulp_error")),
        "old verdict": _status(found.old),
        "new verdict": _status(found.new),
        "change": found.change,
    }
    if (cells["old f'"] == cells["new f'"] and found.old and found.new
            and bits(old.get("derivative")) != bits(new.get("derivative"))):
        cells["old f'"], cells["new f'"] = (_value(old.get("derivative")),
                                            _value(new.get("derivative")))
    return [cells[c] for c in columns]


def _where(diff: Diff) -> str:
    data = diff.new
    if diff.kind == "sweep":
        span = data.get("range") or {}
        return (f"sweep of {data.get('swept')} from {span.get('start')} to {span.get('stop')}, "
                f"{data.get('points')} points")
    points = dict.fromkeys(_point(r.get("point") or {}) for r in data["results"])
    return "at " + "; ".join(points) if len(points) <= 3 else f"at {len(points)} points"


def _at(diff: Diff, row: dict[str, Any]) -> str:
    return f" at {_point(row['point'])}" if diff.kind == "point" and row.get("point") else ""


def summary(diff: Diff) -> str:
    """The closing line: REGRESSION or OK, then each label's count."""
    counts = diff.counts
    listed = ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "no rows"
    if counts[WORSE]:
        worse = [r for r in diff.rows if r.change == WORSE]
        names = ", ".join(dict.fromkeys(
            f"{r.row['backend']} {r.row.get('dtype')}{_at(diff, r.row)} "
            f"({_status(r.old)} -> {_status(r.new)})" for r in worse))
        return f"REGRESSION: {counts[WORSE]} {'row' if counts[WORSE] == 1 else 'rows'} " \
               f"worse: {names}; {listed}"
    return f"OK: no row got worse; {listed}"


def render_table(diff: Diff, *, color: bool = False, width: int | None = None) -> str:
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from autograd_cli.report.render import TABLE_WIDTH

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color,
                      width=width or TABLE_WIDTH, highlight=False, soft_wrap=False)
    console.print(Text(f"f = {diff.new.get('exact_expression') or diff.new['expression']}"))
    console.print(Text(_where(diff)))
    console.print(Text(f"old: {diff.old_path}: {describe(diff.old)}"))
    console.print(Text(f"new: {diff.new_path}: {describe(diff.new)}"))
    changes = version_changes(diff.old, diff.new)
    console.print(Text("changed: " + ("; ".join(map(change_text, changes)) or "nothing")))
    console.print()
    table = Table(show_edge=False, pad_edge=False, header_style="bold" if color else "")
    columns = _columns(diff)
    for column in columns:
        numeric = "ULP" in column or "f'" in column
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    styles = {WORSE: "red", BETTER: "green", CHANGED: "yellow"}
    for found in diff.rows:
        cells = _cells(diff, found, columns)
        style = styles.get(found.change, "") if color else ""
        table.add_row(*cells[:-1], Text(cells[-1], style=style))
    console.print(table)
    console.print()
    console.print(Text(summary(diff),
                       style=("red" if diff.exit_code else "green") if color else ""))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def render_markdown(diff: Diff) -> str:
    """For a pull-request comment: a header line, the version changes, the rows that
    are not ``same``, and the summary line."""
    changes = version_changes(diff.old, diff.new)
    title = diff.new.get("exact_expression") or diff.new["expression"]
    lines = [f"**gradcheck diff** `{title}` {_where(diff)}", ""]
    if changes:
        lines += [f"- {change_text(c)}" for c in changes]
    else:
        lines.append("- no version changed")
    lines.append("")
    shown = [r for r in diff.rows if r.change != SAME]
    if shown:
        columns = _columns(diff)
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "|".join("---" for _ in columns) + "|")
        for found in shown:
            cells = [c.replace("|", "\\|") for c in _cells(diff, found, columns)]
            if found.change == WORSE:
                cells[-1] = f"**{cells[-1]}**"
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"**{summary(diff)}**", ""]
    return "\n".join(lines)


def _side(row: dict[str, Any] | None, kind_: str) -> dict[str, Any] | None:
    if row is None:
        return None
    names = (("derivative", "ulp_error") if kind_ == "point"
             else ("max_ulp_error", "mean_ulp_error", "max_abs_error", "inaccurate", "wrong"))
    return {**{n: row.get(n) for n in names}, "status": row["status"],
            "tier": row.get("tier", row["status"] if rank(row["status"]) < 3 else None),
            "version": row.get("version")}


def to_dict(diff: Diff) -> dict[str, Any]:
    """``--format json``: a stable dict (``schema_version`` as the reports')."""
    rows = []
    for found in diff.rows:
        row = found.row
        entry: dict[str, Any] = {
            "change": found.change,
            "backend": row["backend"],
            "mode": row.get("mode"),
            "dtype": row.get("dtype"),
            "wrt": row.get("wrt"),
        }
        if diff.kind == "point":
            entry["point"] = row.get("point")
        entry["bitwise_same"] = (None if found.old is None or found.new is None
                                 else same_numbers(diff.kind, found.old, found.new))
        entry["old"] = _side(found.old, diff.kind)
        entry["new"] = _side(found.new, diff.kind)
        rows.append(entry)
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": "diff",
        "compared": diff.kind,
        "ok": diff.exit_code == 0,
        "exit_code": diff.exit_code,
        "expression": diff.new["expression"],
        "old": {"file": diff.old_path, "produced_by": provenance(diff.old)},
        "new": {"file": diff.new_path, "produced_by": provenance(diff.new)},
        "version_changes": version_changes(diff.old, diff.new),
        "counts": diff.counts,
        "summary": summary(diff),
        "rows": rows,
    }


def render(diff: Diff, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    if fmt == "json":
        return json.dumps(to_dict(diff), indent=2) + "\n"
    if fmt == "markdown":
        return render_markdown(diff)
    if fmt == "table":
        return render_table(diff, color=color, width=width)
    raise ValueError(f"unknown format {fmt!r}")


# ----------------------------------------------------------------------- suites

def _report_problem(data: Any) -> str | None:
    """Why a case's report in a suite JSON is no comparable report, or None."""
    if not isinstance(data, dict) or "schema_version" not in data:
        return "not a gradcheck JSON report"
    if data["schema_version"] != JSON_SCHEMA_VERSION:
        return (f"report schema_version {data['schema_version']!r}; diff reads version "
                f"{JSON_SCHEMA_VERSION} (run the suite again with this gradcheck)")
    results = data.get("results")
    if (not isinstance(results, list) or not isinstance(data.get("expression"), str)
            or not all(isinstance(r, dict) and "backend" in r and "status" in r
                       for r in results)):
        return "not a gradcheck JSON report"
    return None


def case_key(case: dict[str, Any]) -> str:
    """A case of a suite JSON by its node id, ``suite::id``."""
    return f"{case.get('suite')}::{case.get('id')}"


def load_suite_baseline(path: Path) -> dict[str, Any]:
    """A suite JSON (``gradcheck suite ... --format json``) read from ``path``;
    NotComparable with one line when it is missing, not JSON, or no suite JSON."""
    from autograd_cli.suite.output import JSON_SCHEMA_VERSION as SUITE_SCHEMA_VERSION

    data = _read_json(path)
    cases = data.get("cases") if isinstance(data, dict) else None
    if (not isinstance(data, dict) or "schema_version" not in data
            or not isinstance(cases, list) or "results" in data):
        raise NotComparable(f"{path}: not a gradcheck suite JSON report "
                            "(write one with 'gradcheck suite FILE --format json')")
    if data["schema_version"] != SUITE_SCHEMA_VERSION:
        raise NotComparable(f"{path}: suite schema_version {data['schema_version']!r}; "
                            f"this gradcheck reads version {SUITE_SCHEMA_VERSION} "
                            "(run the suite again with this gradcheck)")
    for case in cases:
        if not isinstance(case, dict) or not isinstance(case.get("id"), str):
            raise NotComparable(f"{path}: not a gradcheck suite JSON report "
                                "(a case without an id)")
        report = case.get("report")
        if report is not None and (problem := _report_problem(report)) is not None:
            raise NotComparable(f"{path}: case {case_key(case)}: {problem}")
    return data


@dataclass
class SuiteDiff:
    """Each case of a suite run against the same case of a baseline suite run."""

    diffs: dict[str, Diff] = field(default_factory=dict)
    worse: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    #: Cases whose reports compare different things (another expression): id -> why.
    changed_definition: dict[str, str] = field(default_factory=dict)
    #: Cases with no report on one side (the case could not run): id -> why.
    not_compared: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.worse else 0

    def lines(self) -> list[str]:
        """The regression summary for stderr: a line per case that got worse, one per
        case that could not be compared, the new and missing cases, then the counts."""
        found = [f"regression: {key}: {summary(self.diffs[key])}" for key in self.worse]
        found += [f"baseline: {key}: changed definition ({why})"
                  for key, why in self.changed_definition.items()]
        found += [f"baseline: {key}: not compared ({why})"
                  for key, why in self.not_compared.items()]
        found += [f"baseline: {key}: new (not in the baseline)" for key in self.new]
        found += [f"baseline: {key}: missing (in the baseline, not run now)"
                  for key in self.missing]
        found.append(f"baseline: {len(self.diffs)} "
                     f"{'case' if len(self.diffs) == 1 else 'cases'} compared, "
                     f"{len(self.worse)} worse, {len(self.new)} new, "
                     f"{len(self.missing)} missing")
        return found


def compare_suites(old_suite: dict[str, Any], new_suite: dict[str, Any]) -> SuiteDiff:
    """Match the cases of two suite JSONs by ``suite::id`` and :func:`compare` each
    pair's reports; a case in only one is new or missing, a pair comparing different
    things a changed definition, neither a regression."""
    olds: dict[str, dict[str, Any]] = {}
    for case in old_suite.get("cases") or []:
        olds.setdefault(case_key(case), case)
    news: dict[str, dict[str, Any]] = {}
    for case in new_suite.get("cases") or []:
        news.setdefault(case_key(case), case)
    found = SuiteDiff()
    for key, case in news.items():
        before = olds.get(key)
        if before is None:
            found.new.append(key)
            continue
        old_report, new_report = before.get("report"), case.get("report")
        if old_report is None or new_report is None:
            side = "the baseline" if old_report is None else "this run"
            found.not_compared[key] = f"no report in {side}"
            continue
        try:
            diff = compare(old_report, new_report, "baseline", "this run")
        except NotComparable as error:
            found.changed_definition[key] = str(error)
            continue
        found.diffs[key] = diff
        if diff.exit_code:
            found.worse.append(key)
    found.missing = [key for key in olds if key not in news]
    return found
