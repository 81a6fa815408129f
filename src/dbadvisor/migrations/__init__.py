"""Migrations rendered from a report's fixes: plain SQL (one up file, one down file) and Alembic revisions.

Both render the operations the checks built (``dbadvisor.model.ddl``), in one dependency order that
``apply`` shares: new indexes first, then table rebuilds (partitioning), settings and maintenance,
drops last, so that an index is never dropped before the one that replaces it exists. Down runs the
reverses in the opposite order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from dbadvisor.model.catalog import qualname
from dbadvisor.model.ddl import CreateIndex, DropIndex, Operation, RebuildTable, SetRetention
from dbadvisor.model.findings import DropReason, Finding, reasons


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
    if isinstance(op, RebuildTable):  # before the retention that then drops its partitions
        return 1
    if isinstance(op, DropIndex):
        return 3
    return 2


@dataclass(frozen=True)
class Held:
    """A fix left out of the plan, and why: applying it beside the others would undo its own reason."""

    finding: Finding
    reason: str


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    held: tuple[Held, ...] = ()
    dialect: str = "postgresql"  # whose SQL the steps are rendered in


# An index is dropped as unused only when its statistics cover at least this many days (the check's
# default ``min_window_days``); the plan holds to it even for a report written with a lower option.
MIN_DROP_WINDOW_DAYS = 7.0

def _unsound(reason: DropReason) -> str | None:
    """Why a reason cannot justify a drop on its own evidence, or None when it can."""
    if reason.serves_foreign_key:
        return "the index serves a foreign key"
    if reason.check == "unused_index" and (reason.window_days is None or reason.window_days < MIN_DROP_WINDOW_DAYS):
        shown = "unknown" if reason.window_days is None else f"{reason.window_days:g} days"
        return f"its statistics window ({shown}) is shorter than {MIN_DROP_WINDOW_DAYS:g} days"
    return None


def plan_of(findings: Iterable[Finding], dialect: str = "postgresql") -> Plan:
    """The findings' fixes in dependency order (stable within a rank, so reruns render identically).

    Several checks may propose the same statement (an index both unused and duplicated is dropped once;
    a foreign key's index may also be the advisor's): it becomes one step that names them all. A drop is
    planned only for a sound reason: not an unused index measured over too short a statistics window,
    never an index that serves a foreign key, and never for a reason that relies on another index the
    same plan drops (``redundant_index`` drops (a) because (a, b) serves its lookups while
    ``unused_index`` drops (a, b): applied together, the lookups lose both). Last, a plan never drops
    every copy of a set of identical indexes: the one the duplicate check keeps stays."""
    by_sql: dict[str, Step] = {}
    why: dict[str, list[DropReason]] = {}
    for f in findings:
        if f.fix is None:
            continue
        key = f.fix.key()
        why.setdefault(key, []).extend(DropReason.of(check, ev) for _, check, ev in reasons(f))
        if key in by_sql:
            first = by_sql[key]
            by_sql[key] = replace(first, also=(*first.also, f.id))
        else:
            by_sql[key] = Step(f, f.fix, f.fix.reverse())
    held: list[Held] = []

    def hold(key: str, reason: str) -> None:
        step = by_sql.pop(key)
        held.append(Held(step.finding, reason))

    for key, step in list(by_sql.items()):
        if isinstance(step.op, DropIndex):
            problems = [p for r in why[key] if (p := _unsound(r))]
            if len(problems) == len(why[key]):
                hold(key, "; ".join(dict.fromkeys(problems)))
    dropped = {qualname(s.op.schema, s.op.name): k for k, s in by_sql.items() if isinstance(s.op, DropIndex)}
    for key, step in list(by_sql.items()):
        if isinstance(step.op, DropIndex):
            relied = [r.relies_on for r in why[key] if _unsound(r) is None]
            if relied and all(r in dropped for r in relied):
                hold(key, f"it relies on {relied[0]}, which this plan drops too; analyze again after applying")
    dropped = {qualname(s.op.schema, s.op.name): k for k, s in by_sql.items() if isinstance(s.op, DropIndex)}
    for name, key in sorted(dropped.items()):
        if key not in by_sql:
            continue
        group = {name} | {t for r in why[key] for t in r.twins}
        if len(group) > 1 and group <= set(dropped) and all(dropped[g] in by_sql for g in group):
            kept = [r.relies_on for g in group for r in why[dropped[g]] if r.check == "duplicate_index" and r.relies_on]
            keep = str(kept[0]) if kept else min(group)
            hold(dropped[keep], f"it is the last copy of identical indexes ({', '.join(sorted(group - {keep}))} "
                                "are dropped by this plan)")
    # A table rebuilt (partitioned) carries its indexes over as the report saw them: an index change on it
    # in the same plan would be lost (made before) or refused (CONCURRENTLY, after).
    rebuilt = {qualname(s.op.schema, s.op.table): s.finding.id for s in by_sql.values()
               if isinstance(s.op, RebuildTable)}
    for key, step in list(by_sql.items()):
        table = step.finding.table
        if table in rebuilt and not isinstance(step.op, RebuildTable | SetRetention):
            hold(key, f"{table} is rebuilt by {rebuilt[table]}, which recreates its indexes as they are now; "
                      "analyze again after the conversion")
    return Plan(tuple(sorted(by_sql.values(), key=lambda s: _rank(s.op))), tuple(held), dialect)
