"""Migrations rendered from a report's fixes: plain SQL (one up file, one down file) and Alembic revisions.

Both render the operations the checks built (``dbadvisor.model.ddl``), in one dependency order that
``apply`` shares: new indexes first, then settings and maintenance, drops last, so that an index is never
dropped before the one that replaces it exists. Down runs the reverses in the opposite order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from dbadvisor.model.catalog import qualname
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


@dataclass(frozen=True)
class Held:
    """A fix left out of the plan, and why: applying it beside the others would undo its own reason."""

    finding: Finding
    reason: str


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    held: tuple[Held, ...] = ()


# Evidence fields naming the index a drop relies on: the narrow or duplicate index is safe to drop only
# while that one stays.
RELIES_ON = ("covered_by", "duplicate_of")


def _relies_on(f: Finding) -> str | None:
    return next((str(f.evidence[k]) for k in RELIES_ON if f.evidence.get(k)), None)


def plan_of(findings: Iterable[Finding]) -> Plan:
    """The findings' fixes in dependency order (stable within a rank, so reruns render identically).

    Several checks may propose the same statement (an index both unused and duplicated is dropped once;
    a foreign key's index may also be the advisor's): it becomes one step that names them all. Checks
    can also contradict each other: ``redundant_index`` drops (a) because (a, b) serves its lookups while
    ``unused_index`` drops (a, b); applied together, the lookups lose both. A drop whose every reason is
    another index that the plan also drops is held back (a new analysis after applying decides it)."""
    by_sql: dict[str, Step] = {}
    reasons: dict[str, list[Finding]] = {}
    for f in findings:
        if f.fix is None:
            continue
        key = f.fix.to_sql()
        reasons.setdefault(key, []).append(f)
        if key in by_sql:
            first = by_sql[key]
            by_sql[key] = replace(first, also=(*first.also, f.id))
        else:
            by_sql[key] = Step(f, f.fix, f.fix.reverse())
    dropped = {qualname(s.op.schema, s.op.name) for s in by_sql.values() if isinstance(s.op, DropIndex)}
    held = []
    for key, step in list(by_sql.items()):
        relied = [_relies_on(f) for f in reasons[key]]
        if isinstance(step.op, DropIndex) and all(r in dropped for r in relied):
            del by_sql[key]
            held += [Held(f, f"it relies on {r}, which this plan drops too; analyze again after applying")
                     for f, r in zip(reasons[key], relied, strict=True)]
    return Plan(tuple(sorted(by_sql.values(), key=lambda s: _rank(s.op))), tuple(held))
