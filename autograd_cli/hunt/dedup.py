"""Deduplication: one finding per signature, its smallest reproducer, and a count.

Why a signature rather than the text: the same framework bug shows in countless
expressions. Two hits are the same bug when the same backend, in the same mode, order
and dtype, fails the same way (kind) in the same primitive (the functions and
operators of the shrunk reproducer). The kind is compared by family (NaN and inf are
one, 0, the wrong sign and far off are one: a kernel that cancels near a point gives
all three there).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from autograd_cli.expr.nodes import Expr
from autograd_cli.hunt.judge import Hit
from autograd_cli.hunt.points import simplicity
from autograd_cli.hunt.text import primitives, size, to_text

Signature = tuple[str, str | None, int, str, str, str]


@dataclass
class Finding:
    """A deduplicated finding: the smallest reproducer seen for its signature."""

    expr: Expr
    hit: Hit
    count: int = 1
    #: The candidates (index) that hit it: a run's seed and index reproduce each.
    seen_in: list[int] = field(default_factory=list)
    #: Filled in by the search: the reproducer's report with every backend, as a dict
    #: (``Report.to_dict()``), and its ``--show-code`` scripts.
    report: dict[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return to_text(self.expr)

    @property
    def primitive(self) -> str:
        """The primitives at fault: those of the shrunk reproducer ("sin", "log+mul")."""
        return "+".join(primitives(self.expr)) or "x"

    @property
    def signature(self) -> Signature:
        hit = self.hit
        return (hit.backend, hit.mode, hit.order, hit.dtype, self.primitive, hit.family)

    def smaller_than(self, other: Finding) -> bool:
        return (size(self.expr), len(self.text), simplicity(self.hit.point)) < (
            size(other.expr), len(other.text), simplicity(other.hit.point))


class Findings:
    """Findings by signature, in the order first found."""

    def __init__(self) -> None:
        self.by_signature: dict[Signature, Finding] = {}

    def add(self, finding: Finding) -> bool:
        """Count ``finding``; True when its signature is new. The smaller reproducer of
        the two is kept."""
        known = self.by_signature.get(finding.signature)
        if known is None:
            self.by_signature[finding.signature] = finding
            return True
        known.count += finding.count
        known.seen_in += finding.seen_in
        if finding.smaller_than(known):
            known.expr, known.hit, known.report = finding.expr, finding.hit, finding.report
        return False

    def count(self, signature: Signature, index: int) -> None:
        """One more hit of a known signature (seen again before shrinking)."""
        known = self.by_signature[signature]
        known.count += 1
        known.seen_in.append(index)

    def __len__(self) -> int:
        return len(self.by_signature)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.by_signature.values())

    @property
    def hits(self) -> int:
        return sum(f.count for f in self.by_signature.values())


def raw_key(expr: Expr, hit: Hit) -> tuple[object, ...]:
    """What an unshrunk hit is remembered by: its failure class and primitives. A hit
    with the same raw key as one already shrunk is counted there without shrinking
    again (shrinking costs dozens of checks)."""
    return (*hit.key, tuple(sorted(primitives(expr))))

