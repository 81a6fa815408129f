"""Findings and the report that carries them: the shape of the public JSON contract.

Field names here are public interface (see CHANGELOG.md); add, never rename.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from dbadvisor.model.capabilities import Capabilities
from dbadvisor.model.catalog import Snapshot
from dbadvisor.model.ddl import Operation, operation_from_dict


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: info=0 ... critical=4."""
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None


_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


@dataclass(frozen=True)
class Estimate:
    """Where a figure comes from. ``kind`` is "planner" (EXPLAIN costs), "measured" (EXPLAIN ANALYZE
    before/after) or "heuristic" (no way to ask the server; lower confidence). Never a guess in disguise."""

    kind: str
    figures: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.figures}


@dataclass(frozen=True)
class Finding:
    id: str  # stable across runs: "<check>:<subject>", used by apply --only and history
    check: str
    severity: Severity
    title: str
    detail: str
    table: str | None = None  # "schema.table"
    columns: tuple[str, ...] = ()  # key columns in index order
    index: str | None = None  # "schema.index"
    evidence: Mapping[str, Any] = field(default_factory=dict)
    sql: str | None = None
    rollback_sql: str | None = None
    estimate: Estimate | None = None
    fix: Operation | None = None  # the operation behind ``sql``: what migrations and apply act on

    def to_dict(self, fix_dict: Callable[[Operation], dict[str, Any]]) -> dict[str, Any]:
        """The finding as the JSON contract has it (README.md); ``fix_dict`` is the dialect's rendering of
        the fix (its fields, SQL and reverse SQL)."""
        return {
            "id": self.id,
            "check": self.check,
            "severity": self.severity.value,
            "title": self.title,
            "detail": self.detail,
            "table": self.table,
            "columns": list(self.columns),
            "index": self.index,
            "evidence": jsonable(self.evidence),
            "sql": self.sql,
            "rollback_sql": self.rollback_sql,
            "estimate": jsonable(self.estimate.to_dict()) if self.estimate else None,
            "fix": fix_dict(self.fix) if self.fix else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Read a finding back from a saved JSON report (``verify``, ``migrations`` and ``apply`` do)."""
        estimate = data.get("estimate")
        op = operation_from_dict(data["fix"]) if data.get("fix") else None
        return cls(
            id=str(data["id"]),
            check=str(data["check"]),
            severity=Severity.parse(str(data["severity"])),
            title=str(data.get("title", "")),
            detail=str(data.get("detail", "")),
            table=data.get("table"),
            columns=tuple(data.get("columns") or ()),
            index=data.get("index"),
            evidence=dict(data.get("evidence") or {}),
            sql=data.get("sql"),
            rollback_sql=data.get("rollback_sql"),
            estimate=Estimate(str(estimate["kind"]), {k: v for k, v in estimate.items() if k != "kind"})
            if estimate else None,
            fix=op,
        )


@dataclass(frozen=True)
class DropReason:
    """What a drop's evidence says to the planner of migrations, read in one place (the checks write
    these evidence fields: ``covered_by``/``duplicate_of`` from the hygiene checks, ``identical_to`` and
    ``stats_window_days`` from ``unused_index``)."""

    check: str
    relies_on: str | None  # the index whose presence makes this one safe to drop
    twins: tuple[str, ...]  # indexes with the same definition
    window_days: float | None
    serves_foreign_key: bool

    @classmethod
    def of(cls, check: str, evidence: Mapping[str, Any]) -> DropReason:
        relied = next((str(evidence[k]) for k in ("covered_by", "duplicate_of") if evidence.get(k)), None)
        twins = ([str(evidence["duplicate_of"])] if evidence.get("duplicate_of") else []) + [
            str(x) for x in evidence.get("identical_to") or ()]
        days = evidence.get("stats_window_days")
        return cls(check, relied, tuple(twins), float(days) if isinstance(days, int | float) else None,
                   bool(evidence.get("serves_foreign_key")))


@dataclass(frozen=True)
class StatementEvidence:
    """A statement a finding says it helps (``evidence.queries``): what verify and apply re-measure."""

    query: str
    bound_query: str | None = None  # the text as planned, when the advisor had values
    calls: float = 1.0
    source: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def all_of(cls, finding: Finding, key: str = "queries") -> tuple[StatementEvidence, ...]:
        """The statements under ``evidence[key]``: ``queries`` (those it helps) or ``bystanders`` (the other
        statements on its table, which it must not make slower)."""
        out = []
        for q in finding.evidence.get(key) or ():
            if isinstance(q, Mapping) and (q.get("bound_query") or q.get("query")):
                out.append(cls(str(q.get("query") or q.get("bound_query")), q.get("bound_query"),
                               float(q.get("calls") or 1), q.get("source"), dict(q)))
        return tuple(out)


def merge_same_fix(findings: list[Finding]) -> list[Finding]:
    """Findings whose fixes are the very same statement become one finding with every reason.

    An index both unused and duplicated, or proposed by the advisor, by ``unindexed_foreign_key`` and by
    an RLS check, is one object with one fix: the report shows it once. The finding with an estimate
    leads (else the worst), its id is the merged finding's and it takes the worst severity of the group;
    the others are kept under ``evidence.also`` with their ids, titles, details and evidence, so
    ``apply --only`` still knows them and the planner still reads each reason."""
    groups: dict[str, list[Finding]] = {}
    out: list[Finding | str] = []
    for f in findings:
        if f.fix is None:
            out.append(f)
            continue
        key = f.fix.key()
        if key not in groups:
            groups[key] = []
            out.append(key)
        groups[key].append(f)
    merged: list[Finding] = []
    for item in out:
        if isinstance(item, Finding):
            merged.append(item)
            continue
        # The one with a figure leads (the advisor's costs, what verify measures), at the worst severity.
        group = sorted(groups[item], key=lambda f: (f.estimate is None, -f.severity.rank))
        lead, rest = group[0], group[1:]
        if rest:
            also = [{"id": f.id, "check": f.check, "severity": f.severity.value, "title": f.title,
                     "detail": f.detail, "evidence": dict(f.evidence)} for f in rest]
            worst = max((f.severity for f in group), key=lambda x: x.rank)
            lead = replace(lead, severity=worst, evidence={**lead.evidence, "also": also},
                           detail=lead.detail + " Also: " + " ".join(f"{f.title} ({f.check})." for f in rest))
        merged.append(lead)
    return merged


def reasons(f: Finding) -> list[tuple[str, str, Mapping[str, Any]]]:
    """``(id, check, evidence)`` of each reason a (possibly merged) finding stands for."""
    return [(f.id, f.check, f.evidence)] + [(str(a.get("id")), str(a.get("check")), a.get("evidence") or {})
                                            for a in f.evidence.get("also") or () if isinstance(a, Mapping)]


def jsonable(value: Any) -> Any:
    """``value`` with every container made a dict or list and every odd scalar a string."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass(frozen=True)
class Skipped:
    """A check (or a workload statement) that could not run, and why."""

    check: str
    reason: str


@dataclass(frozen=True)
class Report:
    tool_version: str
    snapshot: Snapshot
    capabilities: Capabilities
    findings: tuple[Finding, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    checks_run: tuple[str, ...] = ()
    generated_at: datetime | None = None
    baselined: tuple[str, ...] = ()  # ids of findings left out because a baseline file already had them
    advisor: Mapping[str, Any] = field(default_factory=dict)  # the index advisor's run in figures, when it ran
    readiness: Mapping[str, Any] = field(default_factory=dict)  # a SQLite file measured on PostgreSQL too

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    def count_by_severity(self) -> dict[Severity, int]:
        counts = dict.fromkeys(Severity, 0)
        for f in self.findings:
            counts[f.severity] += 1
        return counts
