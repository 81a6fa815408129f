"""Migrations rendered from a report's fixes: plain SQL (one up file, one down file) and Alembic revisions.

Both render the operations the checks built (``dbadvisor.model.ddl``), in one dependency order that
``apply`` shares: new indexes first, then settings and maintenance, drops last, so that an index is never
dropped before the one that replaces it exists. Down runs the reverses in the opposite order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from dbadvisor.model.catalog import qualname
from dbadvisor.model.ddl import CreateIndex, DropIndex, Operation
from dbadvisor.model.findings import Finding, reasons


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
# An index is dropped as unused only when its statistics cover at least this many days (the check's
# default ``min_window_days``); the plan holds to it even for a report written with a lower option.
MIN_DROP_WINDOW_DAYS = 7.0

Reason = tuple[str, str, Mapping[str, Any]]  # (finding id, check, evidence)


def _relies_on(evidence: Mapping[str, Any]) -> str | None:
    return next((str(evidence[k]) for k in RELIES_ON if evidence.get(k)), None)


def _unsound(check: str, evidence: Mapping[str, Any]) -> str | None:
    """Why a reason cannot justify a drop on its own evidence, or None when it can."""
    if evidence.get("serves_foreign_key"):
        return "the index serves a foreign key"
    if check == "unused_index":
        days = evidence.get("stats_window_days")
        if not isinstance(days, int | float) or days < MIN_DROP_WINDOW_DAYS:
            shown = "unknown" if days is None else f"{days} days"
            return f"its statistics window ({shown}) is shorter than {MIN_DROP_WINDOW_DAYS:g} days"
    return None


def _twins(evidence: Mapping[str, Any]) -> list[str]:
    out = [str(evidence["duplicate_of"])] if evidence.get("duplicate_of") else []
    return out + [str(x) for x in evidence.get("identical_to") or ()]


def plan_of(findings: Iterable[Finding]) -> Plan:
    """The findings' fixes in dependency order (stable within a rank, so reruns render identically).

    Several checks may propose the same statement (an index both unused and duplicated is dropped once;
    a foreign key's index may also be the advisor's): it becomes one step that names them all. A drop is
    planned only for a sound reason: not an unused index measured over too short a statistics window,
    never an index that serves a foreign key, and never for a reason that relies on another index the
    same plan drops (``redundant_index`` drops (a) because (a, b) serves its lookups while
    ``unused_index`` drops (a, b): applied together, the lookups lose both). Last, a plan never drops
    every copy of a set of identical indexes: the one the duplicate check keeps stays."""
    by_sql: dict[str, Step] = {}
    why: dict[str, list[Reason]] = {}
    for f in findings:
        if f.fix is None:
            continue
        key = f.fix.key()
        why.setdefault(key, []).extend(reasons(f))
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
            problems = [p for _, check, ev in why[key] if (p := _unsound(check, ev))]
            if len(problems) == len(why[key]):
                hold(key, "; ".join(dict.fromkeys(problems)))
    dropped = {qualname(s.op.schema, s.op.name): k for k, s in by_sql.items() if isinstance(s.op, DropIndex)}
    for key, step in list(by_sql.items()):
        if isinstance(step.op, DropIndex):
            sound = [ev for _, check, ev in why[key] if _unsound(check, ev) is None]
            relied = [_relies_on(ev) for ev in sound]
            if relied and all(r in dropped for r in relied):
                hold(key, f"it relies on {relied[0]}, which this plan drops too; analyze again after applying")
    dropped = {qualname(s.op.schema, s.op.name): k for k, s in by_sql.items() if isinstance(s.op, DropIndex)}
    for name, key in sorted(dropped.items()):
        if key not in by_sql:
            continue
        group = {name} | {t for _, _, ev in why[key] for t in _twins(ev)}
        if len(group) > 1 and group <= set(dropped) and all(dropped[g] in by_sql for g in group):
            kept = [t for g in group for _, _, ev in why[dropped[g]] if (t := ev.get("duplicate_of"))]
            keep = str(kept[0]) if kept else min(group)
            hold(dropped[keep], f"it is the last copy of identical indexes ({', '.join(sorted(group - {keep}))} "
                                "are dropped by this plan)")
    return Plan(tuple(sorted(by_sql.values(), key=lambda s: _rank(s.op))), tuple(held))
