"""What a hunt hands back: a markdown report, a suite TOML of the reproducers, and JSON.

Why three: the markdown is for a person (one section per finding, ready to paste into a
framework's issue tracker: the command, every backend's value, the exact value, the
ULPs and the framework script), the suite is for CI (``gradcheck suite`` re-runs each
reproducer), the JSON for tools. All are rendered from the same findings and written
atomically (:func:`autograd_cli.report.files.write_file`), so a hunt ended by Ctrl-C
leaves complete files or none.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from autograd_cli.hunt.dedup import Finding, Findings
from autograd_cli.hunt.search import Stats
from autograd_cli.report.common import json_number

SCHEMA = "gradcheck-hunt/1"
FILES = {"markdown": "findings.md", "suite": "findings.toml", "json": "findings.json"}


def command_of(finding: Finding, mode: str) -> str:
    """The ``gradcheck`` command that shows the finding."""
    hit = finding.hit
    parts = [f"gradcheck {json.dumps(finding.text)} --at {_number(hit.point)}",
             f"--backends analytic,{hit.backend}", f"--dtype {hit.dtype}"]
    if hit.order != 1:
        parts.append(f"--order {hit.order}")
    if (hit.mode or mode) != "reverse":
        parts.append(f"--mode {hit.mode or mode}")
    return " ".join(parts)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return repr(float(value)) if math.isfinite(value) else str(value)


def title(finding: Finding) -> str:
    hit = finding.hit
    mode = f" {hit.mode}" if hit.mode else ""
    order = "" if hit.order == 1 else f", order {hit.order}"
    return f"{hit.backend}{mode}: {finding.primitive} ({hit.family}, {hit.dtype}{order})"


def to_dict(findings: Findings, stats: Stats, settings: dict[str, Any],
            interrupted: str | None = None) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "settings": settings,
        "interrupted": interrupted,
        "candidates": stats.candidates,
        "checked": stats.checked,
        "skipped": stats.skipped,
        "skip_reasons": dict(stats.skip_reasons),
        "explained": dict(stats.explained),
        "shrink_checks": stats.shrink_checks,
        "seconds": round(stats.seconds, 3),
        "checked_per_second": round(stats.rate, 3),
        "hits": findings.hits,
        "findings": [_finding(f, settings) for f in findings],
    }


def _finding(finding: Finding, settings: dict[str, Any]) -> dict[str, Any]:
    hit = finding.hit
    return {
        "signature": {"backend": hit.backend, "mode": hit.mode, "order": hit.order,
                      "dtype": hit.dtype, "primitive": finding.primitive, "kind": hit.family},
        "result": hit.kind,
        "expression": finding.text,
        "point": json_number(hit.point),
        "wrt": hit.wrt,
        "derivative": json_number(hit.derivative),
        "exact": json_number(hit.exact),
        "ulp_error": json_number(hit.ulps),
        "count": finding.count,
        "seen_in": list(finding.seen_in),
        "command": command_of(finding, settings.get("mode", "reverse")),
        "report": finding.report,
    }


def markdown(data: dict[str, Any]) -> str:
    """The report for people, from :func:`to_dict`'s data."""
    settings = data["settings"]
    lines = [
        "# gradcheck hunt",
        "",
        f"Seed {settings['seed']}, budget {settings['budget']} s, backends "
        f"{', '.join(settings['backends'])}, dtypes {', '.join(settings['dtypes'])}, "
        f"orders {', '.join(map(str, settings['orders']))}, mode {settings['mode']}.",
        f"{data['checked']} expressions checked ({data['checked_per_second']:.2f}/s), "
        f"{data['skipped']} skipped, {data['hits']} hits, {len(data['findings'])} findings"
        + (f"; interrupted ({data['interrupted']})" if data["interrupted"] else "") + ".",
    ]
    if data["explained"]:
        lines.append("Failing rows set aside as no framework bug: " + ", ".join(
            f"{why} ({n})" for why, n in data["explained"].items()) + ".")
    lines.append("")
    if not data["findings"]:
        lines += ["No backend was wrong.", ""]
        return "\n".join(lines)
    lines += ["| # | backend | mode | order | dtype | primitive | kind | reproducer | hits |",
              "|---|---|---|---|---|---|---|---|---|"]
    for k, item in enumerate(data["findings"], start=1):
        s = item["signature"]
        lines.append(f"| {k} | {s['backend']} | {s['mode'] or '-'} | {s['order']} | "
                     f"{s['dtype']} | {s['primitive']} | {s['kind']} | "
                     f"`{item['expression']}` at {item['point']} | {item['count']} |")
    for k, item in enumerate(data["findings"], start=1):
        lines += ["", *_section(k, item)]
    return "\n".join(lines) + "\n"


def _section(k: int, item: dict[str, Any]) -> list[str]:
    s = item["signature"]
    mode = f" {s['mode']}" if s["mode"] else ""
    times = "once" if item["count"] == 1 else f"{item['count']} times"
    seen = ", ".join(map(str, item["seen_in"][:10]))
    more = ", ..." if len(item["seen_in"]) > 10 else ""
    lines = [f"## {k}. {s['backend']}{mode}: {s['primitive']} ({s['kind']}, {s['dtype']}, "
             f"order {s['order']})", "", "```", item["command"], "```", "",
             f"The derivative is {item['result']}: {item['derivative']} where the exact "
             f"value is {item['exact']} ({_ulps(item['ulp_error'])} ULPs).",
             "", f"Hit {times} (candidates {seen}{more}).", ""]
    report = item["report"]
    rows = report.get("results") if isinstance(report, dict) else None
    if rows:
        lines += ["| backend | mode | derivative | exact | ULPs | status |",
                  "|---|---|---|---|---|---|"]
        for row in rows:
            lines.append(f"| {row['backend']} | {row['mode'] or '-'} | {row['derivative']} | "
                         f"{row['exact']} | {_ulps(row['ulp_error'])} | {row['status']} |")
        if not report.get("verified", True):
            lines += ["", "Note: the reproducer did not fail again when described."]
        wide = report.get("float64")
        if isinstance(wide, dict):
            verdict = ("right: float32's range or precision is at work here"
                       if wide["status"] == "ok" else "wrong too: the kernel is wrong "
                       "whatever the dtype" if wide["status"] == "wrong" else wide["status"])
            lines += ["", f"In float64, at the same input ({wide['point']!r}), "
                      f"{s['backend']} gives {wide['derivative']!r}: {verdict}."]
    elif isinstance(report, dict) and report:
        lines.append(f"({report.get('note') or report.get('error')})")
    code = report.get("code") if isinstance(report, dict) else None
    if code:
        lines += ["", "```python", code.rstrip(), "```"]
    return lines


def _ulps(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) else str(value)


def suite(data: dict[str, Any]) -> str:
    """A ``gradcheck suite`` file with a case per finding: each case runs the
    reproducer with the analytic truth and the backend at fault, the failure marked
    ``known`` with ``known-strict``, so the suite passes while every framework bug is
    still there and a case fails once its bug is gone (or fails another way)."""
    settings = data["settings"]
    lines = [
        "# Reproducers found by `gradcheck hunt` (seed "
        f"{settings['seed']}): each case passes while its framework bug is there.",
        "# Run: gradcheck suite THIS_FILE  (exit 0: every bug still reproduces; 1: a case",
        "# no longer fails as found (fixed by an upgrade?) or fails differently)",
        f'name = "hunt-seed-{settings["seed"]}"',
        f"description = {json.dumps(_describe(data))}",
    ]
    names: set[str] = set()
    for item in data["findings"]:
        s = item["signature"]
        name = f"{s['backend']} {s['mode'] or ''} {s['primitive']} {s['kind']} {s['dtype']} " \
               f"order {s['order']}".replace("  ", " ")
        while name in names:
            name += "'"
        names.add(name)
        point = item["point"]
        lines += [
            "",
            "[[case]]",
            f"name = {json.dumps(name)}",
            f"expression = {json.dumps(item['expression'])}",
            f"at = {_toml_number(point)}",
            f"dtype = {json.dumps(s['dtype'])}",
            f"order = {s['order']}",
            f"backends = {json.dumps(['analytic', s['backend']])}",
            f"known = {{ {json.dumps(s['backend'])} = {json.dumps(_why(item))} }}",
            "known-strict = true",
        ]
        if s["mode"]:
            lines.append(f"mode = {json.dumps(s['mode'])}")
    return "\n".join(lines) + "\n"


def _why(item: dict[str, Any]) -> str:
    s = item["signature"]
    return f"{s['kind']} in {s['primitive']} (found by gradcheck hunt)"


def _describe(data: dict[str, Any]) -> str:
    return f"{len(data['findings'])} findings of a {data['settings']['budget']} s hunt"


def _toml_number(value: Any) -> str:
    if isinstance(value, str):  # json_number's "inf"/"nan"
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(value.lower(), "nan")
    return repr(float(value))


def write_all(folder: Path, data: dict[str, Any]) -> list[Path]:
    """The three files into ``folder`` (made if missing), each written atomically."""
    from autograd_cli.report.files import write_file

    folder.mkdir(parents=True, exist_ok=True)
    texts = {"markdown": markdown(data), "suite": suite(data),
             "json": json.dumps(data, indent=2) + "\n"}
    written = []
    for kind, name in FILES.items():
        write_file(folder / name, texts[kind])
        written.append(folder / name)
    return written
