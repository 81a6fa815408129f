"""Migrations rendered from a report's fixes: plain SQL (one up file, one down file) and Alembic revisions.

Both render the operations the checks built (``dbadvisor.model.ddl``), in one dependency order that
``apply`` shares: new indexes first, then settings and maintenance, drops last, so that an index is never
dropped before the one that replaces it exists. Down runs the reverses in the opposite order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dbadvisor.model.ddl import CreateIndex, DropIndex, Operation
from dbadvisor.model.findings import Finding


@dataclass(frozen=True)
class Step:
    """One action: the finding it fixes, the operation that fixes it, and that operation's reverse."""

    finding: Finding
    op: Operation
    reverse: Operation | None

    @property
    def label(self) -> str:
        return f"{self.finding.id}: {self.finding.title}"


def _rank(op: Operation) -> int:
    if isinstance(op, CreateIndex):
        return 0
    if isinstance(op, DropIndex):
        return 2
    return 1


def steps(findings: Iterable[Finding]) -> list[Step]:
    """The findings' fixes in dependency order (stable within a rank, so reruns render identically)."""
    out = [Step(f, f.fix, f.fix.reverse()) for f in findings if f.fix is not None]
    return sorted(out, key=lambda s: _rank(s.op))
