"""The hunt's loop: check candidates until the budget is spent, shrink each new hit,
deduplicate, and describe each finding with every backend's row and the scripts.

Why one warm session: every check goes through :func:`autograd_cli.compare` with the
same :class:`~autograd_cli.execution.warm.Session`, so each framework loads once per
hunt and a check costs what its computation costs. A candidate that cannot be checked
(too costly a derivative, a reference timeout, a function some layer does not know yet)
is skipped and counted, never the end of the hunt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from autograd_cli.core.dtypes import round_to
from autograd_cli.core.statuses import INACCURATE
from autograd_cli.expr.nodes import Expr
from autograd_cli.hunt.dedup import Finding, Findings, Signature, raw_key
from autograd_cli.hunt.generate import Candidate, Generator
from autograd_cli.hunt.judge import Hit, hits
from autograd_cli.hunt.shrink import shrink
from autograd_cli.hunt.text import to_text
from autograd_cli.report.model import Report


@dataclass
class Stats:
    """How the hunt went: what progress lines and the JSON say."""

    candidates: int = 0
    checked: int = 0
    skipped: int = 0
    shrink_checks: int = 0
    seconds: float = 0.0
    #: Why candidates were skipped: the exception's type and a count.
    skip_reasons: dict[str, int] = field(default_factory=dict)
    #: Failing rows that are no framework bug (:func:`~autograd_cli.hunt.judge.explained`).
    explained: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.checked / self.seconds if self.seconds > 0 else 0.0


class Checker:
    """Checks through one warm session: a candidate with every hunted backend, a
    shrinking step with the failing backend alone."""

    def __init__(self, backends: Sequence[str], *, ulps: float | None, timeout: float,
                 session: Any = None) -> None:
        from autograd_cli.execution.warm import Session

        self.backends = tuple(backends)
        self.ulps = ulps
        self.timeout = timeout
        # no background compiling: the hunt's own checks keep the workers busy, and
        # the exact reference needs the cores between them
        self.session = session if session is not None else Session(warm_up=False)
        self.count = 0

    def run(self, text: str, points: Sequence[float], backends: Sequence[str], dtype: str,
            order: int, mode: str, show_code: bool = False) -> Report:
        from autograd_cli import compare
        from autograd_cli.truth.deadline import Deadline

        self.count += 1
        # The whole check under the timeout (the reference has its own; the rest of the
        # judgement has none): one slow candidate must not eat the budget.
        with Deadline(self.timeout + 1.0).alarm():
            return compare(text, at=list(points), backends=list(backends), dtype=dtype,
                           order=order, mode=mode, timeout=self.timeout,
                           session=self.session, show_code=show_code)

    def hits(self, expr: Expr, points: Sequence[float], like: Hit) -> list[Hit]:
        """The hits of ``like``'s backend for ``expr`` at ``points``, each point as it was
        asked (not as rounded to the dtype), so the simplest spelling survives."""
        report = self.run(to_text(expr), points, (like.backend,), like.dtype, like.order,
                          like.mode or "reverse")
        asked: dict[float, float] = {}
        for value, rounded in zip(points, round_to(np.asarray(points, dtype=np.float64),
                                                   like.dtype).astype(np.float64), strict=True):
            asked.setdefault(float(rounded), float(value))
        return [replace(h, point=asked.get(h.point, h.point))
                for h in hits(report, self.ulps, (like.backend,))]

    def value(self, expr: Expr, point: float, like: Hit) -> float | None:
        """``expr`` at ``point`` as ``like``'s backend computes it in its dtype."""
        try:
            report = self.run(to_text(expr), [point], (like.backend,), like.dtype, 1,
                              like.mode or "reverse")
        except (ValueError, ArithmeticError):
            return None
        row = next((r for r in report.rows if r.backend == like.backend), None)
        return None if row is None else row.value

    def describe(self, finding: Finding, mode: str) -> None:
        """Fill ``finding.report`` with every hunted backend's row at the reproducer and
        the failing backend's ``--show-code`` script."""
        hit = finding.hit
        try:
            report = self.run(finding.text, [hit.point], ("analytic", *self.backends),
                              hit.dtype, hit.order, hit.mode or mode, show_code=True)
        except (ValueError, ArithmeticError) as error:
            finding.report = {"error": str(error)}
            return
        data = report.to_dict()
        scripts = report.code.get(hit.dtype, {})
        data["code"] = scripts.get(f"{hit.backend}:{hit.mode}", scripts.get(hit.backend))
        data["verified"] = any(
            h.backend == hit.backend and h.mode == hit.mode and h.family == hit.family
            for h in hits(report, self.ulps))
        data["float64"] = self._in_float64(finding, mode)
        finding.report = data

    def _in_float64(self, finding: Finding, mode: str) -> dict[str, Any] | None:
        """The failing backend at the very same input in float64: right there, the
        error is float32's range or precision at work (an intermediate that overflows,
        a formula that cancels); wrong there too, the kernel is wrong whatever the dtype."""
        hit = finding.hit
        if hit.dtype == "float64":
            return None
        point = float(round_to(np.asarray([hit.point], dtype=np.float64), hit.dtype)[0])
        try:
            report = self.run(finding.text, [point], ("analytic", hit.backend), "float64",
                              hit.order, hit.mode or mode)
        except (ValueError, ArithmeticError):
            return None
        row = next((r for r in report.rows if r.backend == hit.backend), None)
        if row is None:
            return None
        return {"point": point, "derivative": row.derivative, "exact": row.exact,
                "status": row.status}

    def close(self) -> None:
        self.session.close()


Progress = Callable[[Stats, Findings], None]


def hunt(generator: Generator, checker: Checker, findings: Findings, stats: Stats, *,
         budget: float, on_progress: Progress | None = None, shrink_tries: int = 40) -> None:
    """Check candidates 0, 1, 2, ... until ``budget`` seconds have passed, adding each
    finding (shrunk, described) to ``findings`` as soon as it is known; ``stats`` and
    ``findings`` hold what was found when an interruption ends the loop."""
    started = time.monotonic()
    known: dict[tuple[object, ...], Signature] = {}
    index = 0
    try:
        while time.monotonic() - started < budget:
            candidate = generator.candidate(index)
            index += 1
            stats.candidates += 1
            report = _check(checker, candidate, stats)
            stats.seconds = time.monotonic() - started
            if report is not None:
                left = budget - stats.seconds
                for hit in _distinct(hits(report, checker.ulps, checker.backends,
                                          stats.explained)):
                    _found(checker, findings, known, candidate, hit, shrink_tries, left, stats)
            stats.seconds = time.monotonic() - started
            if on_progress is not None:
                on_progress(stats, findings)
    finally:
        stats.seconds = time.monotonic() - started


def _check(checker: Checker, candidate: Candidate, stats: Stats) -> Report | None:
    try:
        report = checker.run(candidate.text, candidate.points, checker.backends,
                             candidate.dtype, candidate.order, candidate.mode)
    except Exception as error:  # not checkable here: skipped, counted, the hunt goes on
        name = type(error).__name__
        stats.skipped += 1
        stats.skip_reasons[name] = stats.skip_reasons.get(name, 0) + 1
        return None
    stats.checked += 1
    return report


def _distinct(found: list[Hit]) -> list[Hit]:
    """One hit per failure class of a candidate (its first point)."""
    seen: dict[tuple[object, ...], Hit] = {}
    for hit in found:
        seen.setdefault(hit.key, hit)
    return list(seen.values())


def _found(checker: Checker, findings: Findings, known: dict[tuple[object, ...], Signature],
           candidate: Candidate, hit: Hit, tries: int, left: float, stats: Stats) -> None:
    """Count a hit: on a known signature without shrinking, else shrunk and described.
    Interrupted while shrinking, the hit is kept as found."""
    key = raw_key(candidate.expr, hit)
    if known.get(key) == ASIDE:
        stats.explained[RANGE_ONLY] = stats.explained.get(RANGE_ONLY, 0) + 1
        return
    if key in known and known[key] in findings.by_signature:
        findings.count(known[key], candidate.index)
        return
    expr, found = candidate.expr, hit
    try:
        expr, found, used = shrink(candidate.expr, hit, checker.hits, tries=tries,
                                   seconds=min(30.0, max(5.0, left)), value=checker.value)
        stats.shrink_checks += used
        finding = Finding(expr, found, seen_in=[candidate.index])
        checker.describe(finding, candidate.mode)
    except BaseException:
        findings.add(Finding(expr, found, seen_in=[candidate.index],
                             report={"note": "not shrunk: interrupted"}))
        raise
    if range_only(finding):
        stats.explained[RANGE_ONLY] = stats.explained.get(RANGE_ONLY, 0) + 1
        known[key] = ASIDE
        return
    findings.add(finding)
    known[key] = finding.signature


#: Why a shrunk finding is set aside: NaN or inf in its dtype, right in float64.
RANGE_ONLY = ("NaN, inf or 0 only in the dtype, right in float64 (an intermediate leaves "
              "its range or is flushed to zero)")
ASIDE: Signature = ("", None, 0, "", "", "aside")


def range_only(finding: Finding) -> bool:
    """A result that the same backend does not get wrong in float64 at the same input
    (ok, or inaccurate: the third derivative of asinh(1e30*x) at 1 is 1 for 2 in
    float32, 9 ULPs off in float64), and
    that is NaN or infinite, or comes from a reproducer with a huge or tiny constant,
    or is 0 for a truth so small (below the smallest normal over
    epsilon) that an intermediate of its computation is subnormal: an intermediate over-
    or underflows in the narrower dtype, or is flushed to zero (``x/(1e10*x)``
    differentiated twice needs ``(1e10*x)**4``; ``atan'(1.8e19)`` is subnormal in
    float32), which is the expression as written or flush-to-zero, not a wrong kernel."""
    from autograd_cli.comparison.verdicts import range_of

    wide = finding.report.get("float64")
    if not isinstance(wide, dict) or wide.get("status") not in ("ok", INACCURATE):
        return False
    hit = finding.hit
    if hit.family == "non-finite" or _scaled(finding.expr):
        return True
    limits = range_of(hit.dtype)
    return (hit.kind == "zero" and hit.exact is not None
            and abs(hit.exact) < limits.smallest_normal / _epsilon(hit.dtype))


def _scaled(expr: Expr) -> bool:
    """Whether the reproducer still holds a huge or tiny constant (1e30*x): its chain
    rule multiplies by powers of it (``asinh(1e30*x)`` twice: 1e60 times asinh'' at
    1e30, about 1e-60), which no float32 evaluation of the expression survives."""
    from fractions import Fraction

    from autograd_cli.expr.nodes import Binary, Call, Num, Unary

    if isinstance(expr, Num):
        size = abs(expr.value)
        return size >= 10**10 or Fraction(0) < size <= Fraction(1, 10**10)
    if isinstance(expr, Unary):
        return _scaled(expr.operand)
    if isinstance(expr, Binary):
        return _scaled(expr.left) or _scaled(expr.right)
    if isinstance(expr, Call):
        return any(_scaled(arg) for arg in expr.args)
    return False


def _epsilon(dtype: str) -> float:
    from autograd_cli.core.dtypes import finfo

    return float(finfo(dtype).eps)
