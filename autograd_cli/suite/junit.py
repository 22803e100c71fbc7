"""JUnit XML for a suite run, written with :mod:`xml.etree` in the shape CI systems
(Jenkins, GitLab, GitHub Actions reporters) read.

Its own module because it is one output format with its own conventions (a
<testsuite> per file, <failure>, <error> and <skipped> per case, properties for the
framework versions). A run a signal stopped still writes one, as pytest does: the cases
that finished, the others ``<skipped>`` with "not run: interrupted (SIGTERM)", and an
``interrupted`` property naming the signal in every <testsuite>.
"""

from __future__ import annotations

import platform
import signal
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime, timezone

from autograd_cli.suite.model import ERROR, FAILED, SKIPPED, CaseResult, Suite
from autograd_cli.suite.output import counts


def junit_xml(suites: Sequence[Suite], results: Sequence[CaseResult],
              interrupted: int | None = None) -> str:
    """JUnit XML: <testsuites> of one <testsuite> per file, a <testcase> per case.

    A failing case (exit 1: a wrong row, or inaccurate with --strict or an explicit
    tolerance) is a <failure> of that type; inaccurate rows that do not fail are a
    ``inaccurate`` property and a <system-out> line each. A backend that could not run
    (exit 3) or a case that could not start an <error>, both with the verdict as ``message`` and the
    case's table as text; cases left out by -x, or by a signal (``interrupted``), are
    <skipped>.
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
        if interrupted is not None:
            ET.SubElement(properties, "property", name="interrupted",
                          value=signal.Signals(interrupted).name)
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
                                       type=_failure_type(r) if kind == "failure"
                                       else "backend")
                detail.text = r.details()
            shown, missing = _inaccurate_lines(r), _unsupported_lines(r)
            if (shown or missing or r.known) and r.outcome != SKIPPED:
                listed = ET.SubElement(case, "properties")
                if shown:
                    ET.SubElement(listed, "property", name="inaccurate", value=str(len(shown)))
                if missing:
                    ET.SubElement(listed, "property", name="unsupported",
                                  value=str(len(missing)))
                if r.known:
                    ET.SubElement(listed, "property", name="known", value=str(len(r.known)))
                ET.SubElement(case, "system-out").text = "\n".join(
                    shown + missing + r.known) + "\n"
        for key in ("tests", "failures", "errors", "skipped"):
            totals[key] += int(element.get(key, "0"))
        totals["time"] += seconds
    for key, value in totals.items():
        root.set(key, f"{value:.3f}" if key == "time" else str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _failure_type(result: CaseResult) -> str:
    """The JUnit failure's type: "wrong" where a row is wrong, else "inaccurate" (with
    --strict or an explicit tolerance), else "failure" (an ``expect`` that does not
    hold, or special rows under --strict: the message says which)."""
    rows = result.report.rows if result.report is not None else []
    statuses = {row.status for row in rows}
    return next((tier for tier in ("wrong", "inaccurate") if tier in statuses), "failure")


def _inaccurate_lines(result: CaseResult) -> list[str]:
    """One line per inaccurate row (a point) or series (a sweep): shown, not failing
    unless the case's verdict says so."""
    if result.report is None:
        return []
    lines = []
    for row in result.report.inaccurate:
        where = ", ".join(f"{n} = {v!r}" for n, v in getattr(row, "point", {}).items())
        ulps = getattr(row, "ulp_error", None) if where else getattr(row, "max_ulp_error", None)
        count = "" if where else f" at {row.inaccurate:,} points"
        lines.append(f"inaccurate: {row.backend} ({row.dtype}) d/d{row.wrt}"
                     f"{' at ' + where if where else count}"
                     f"{'' if ulps is None else f', {ulps:.3g} ULPs'}")
    return lines


def _unsupported_lines(result: CaseResult) -> list[str]:
    """One line per framework that has no native op for the case (its rows are
    ``unsupported``: not judged, not failing)."""
    if result.report is None:
        return []
    reasons = {row.backend: row.reason for row in result.report.unsupported}
    return [f"unsupported: {backend}: {reason}" for backend, reason in reasons.items()]


def _versions(results: Sequence[CaseResult]) -> dict[str, str]:
    found: dict[str, str] = {}
    for r in results:
        for row in r.report.rows if r.report is not None else []:
            if row.version and row.backend not in found:
                found[row.backend] = row.version
    return found
