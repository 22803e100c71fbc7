"""Sweep bookkeeping: a sweep's labelled points gathered chunk by chunk as runs of one
status and one reason (:class:`SpecialRuns`), and the runs of equal codes (:func:`runs`).

Why a module of its own: only sweeps need it, and it reads labels without making them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_cli.core.statuses import POINT_STATUSES, STATUS_OF_CODE
from autograd_cli.domain.labels import Labels, short


def runs(codes: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs of equal non-zero codes: (code, first index, last index)."""
    codes = np.asarray(codes)
    if codes.size == 0:
        return []
    edges = np.flatnonzero(np.diff(codes)) + 1
    starts = np.r_[0, edges]
    ends = np.r_[edges, codes.size] - 1
    return [(int(codes[s]), int(s), int(e)) for s, e in zip(starts, ends, strict=True)
            if codes[s]]


@dataclass
class SpecialRuns:
    """A sweep's labelled points, gathered chunk by chunk as runs of one status and one
    reason (the first ``limit`` runs kept, every point counted)."""

    wrt: str
    limit: int = 100
    kept: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(POINT_STATUSES, 0))
    dropped: int = 0
    unchecked: int = 0
    checked: int = 0

    def add(self, start: int, x: np.ndarray, labels: Labels) -> None:
        """The labelled points of a chunk whose first point is number ``start``."""
        self.unchecked += labels.unchecked
        self.checked += labels.checked
        codes = labels.codes[self.wrt]
        if not codes.any():
            return
        reasons = labels.reasons[self.wrt].astype(np.int64)
        key = np.where(codes > 0, codes.astype(np.int64) * (1 << 32) + reasons + 1, 0)
        for _, first, last in runs(key):
            status = STATUS_OF_CODE[int(codes[first])]
            reason = labels.texts[int(reasons[first])]
            count = last - first + 1
            self.counts[status] += count
            previous = self.kept[-1] if self.kept else None
            if (previous is not None and previous["end"] == start + first - 1
                    and previous["status"] == status and previous["reason"] == reason):
                previous.update(to=float(x[last]), end=start + last)
                previous["points"] += count
                previous.pop("left", None)
                previous.pop("right", None)
            elif len(self.kept) < self.limit:
                run: dict[str, Any] = {"status": status, "from": float(x[first]),
                                       "to": float(x[last]), "points": count,
                                       "reason": reason, "end": start + last}
                if count == 1 and (self.wrt, first) in labels.sides:
                    run["left"], run["right"] = labels.sides[(self.wrt, first)]
                self.kept.append(run)
            else:
                self.dropped += 1

    def to_list(self) -> list[dict[str, Any]]:
        """The kept runs for JSON: status, from, to, points, reason (left, right)."""
        return [{k: v for k, v in run.items() if k != "end"} for run in self.kept]

    def warnings(self, swept: str, shown: int = 5) -> list[str]:
        """One line per run (the first few), for stderr."""
        lines = []
        for run in self.kept[:shown]:
            where = (f"{swept} = {short(run['from'])}" if run["points"] == 1 else
                     f"{swept} from {short(run['from'])} to {short(run['to'])} "
                     f"({run['points']:,} points)")
            lines.append(f"{run['status']} at {where}: {run['reason']}")
        more = len(self.kept) - shown + self.dropped
        if more > 0:
            lines.append(f"... and {more:,} more runs of such points (see the JSON output)")
        if self.unchecked:
            lines.append(f"{self.unchecked:,} points near a kink or a domain edge were not "
                         "checked exactly (too many): they are judged as usual")
        return lines
