"""Findings and the report that carries them: the shape of the public JSON contract.

Field names here are public interface (see CHANGELOG.md); add, never rename.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
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

    def to_dict(self) -> dict[str, Any]:
        """The finding as the JSON contract has it (README.md)."""
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
            "fix": self.fix.to_dict() if self.fix else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Read a finding back from a saved JSON report (``verify``, ``migrations`` and ``apply`` do)."""
        estimate = data.get("estimate")
        op = operation_from_dict(data["fix"]) if data.get("fix") else None
        if op is not None:
            reverse = op.reverse()
            if data.get("sql") != op.to_sql() or data.get("rollback_sql") != (reverse.to_sql() if reverse else None):
                # What a person reads (``sql``, the Markdown report) must be what ``apply`` would run.
                raise ValueError(f"finding {data.get('id')}: its sql is not what its fix renders (edited by hand?)")
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

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    def count_by_severity(self) -> dict[Severity, int]:
        counts = dict.fromkeys(Severity, 0)
        for f in self.findings:
            counts[f.severity] += 1
        return counts
