"""Migrations rendered from a report's fixes: plain SQL (one up file, one down file) and Alembic revisions.

Both render the operations the checks built (``dbadvisor.model.ddl``), in one dependency order that
``apply`` shares: new indexes first, then settings and maintenance, drops last, so that an index is never
dropped before the one that replaces it exists. Down runs the reverses in the opposite order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from dbadvisor.model.ddl import CreateIndex, DropIndex, Operation
from dbadvisor.model.findings import Finding


@dataclass(frozen=True)
class Step:
    """One action: the finding it fixes, the operation that fixes it, and that operation's reverse."""

    finding: Finding
    op: Operation
    reverse: Operation | None
    also: tuple[str, ...] = ()  # other findings whose fix is this very statement

    @property
    def label(self) -> str:
        also = f" (also fixes {', '.join(self.also)})" if self.also else ""
        return f"{self.finding.id}: {self.finding.title}{also}"


def _rank(op: Operation) -> int:
    if isinstance(op, CreateIndex):
        return 0
    if isinstance(op, DropIndex):
        return 2
    return 1


def steps(findings: Iterable[Finding]) -> list[Step]:
    """The findings' fixes in dependency order (stable within a rank, so reruns render identically).

    Several checks may propose the same statement (an index both unused and duplicated is dropped once;
    a foreign key's index may also be the advisor's): it becomes one step that names them all."""
    by_sql: dict[str, Step] = {}
    for f in findings:
        if f.fix is None:
            continue
        key = f.fix.to_sql()
        if key in by_sql:
            first = by_sql[key]
            by_sql[key] = replace(first, also=(*first.also, f.id))
        else:
            by_sql[key] = Step(f, f.fix, f.fix.reverse())
    return sorted(by_sql.values(), key=lambda s: _rank(s.op))
