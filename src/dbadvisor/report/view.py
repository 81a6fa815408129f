"""What every report format shows, computed once: summary counts, the database overview, findings
grouped by priority, and the JSON-ready dictionaries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dbadvisor import dialects
from dbadvisor.model.catalog import Table
from dbadvisor.model.findings import Finding, Report, Severity
from dbadvisor.model.units import human_bytes
from dbadvisor.report.monitoring import MONITORING_QUERIES

TOP_TABLES = 15
PRIORITY_TITLES = {
    Severity.CRITICAL: "Critical: act now",
    Severity.HIGH: "High priority",
    Severity.MEDIUM: "Medium priority",
    Severity.LOW: "Low priority",
    Severity.INFO: "For information",
}


@dataclass(frozen=True)
class TableRow:
    name: str
    kind: str
    rows: int
    total_bytes: int
    heap_bytes: int
    index_bytes: int
    toast_bytes: int
    index_count: int


@dataclass(frozen=True)
class View:
    report: Report
    counts: Mapping[Severity, int]
    largest_tables: tuple[TableRow, ...]
    groups: tuple[tuple[Severity, str, tuple[Finding, ...]], ...]
    monitoring: tuple[tuple[str, str], ...]
    table_count: int
    index_count: int
    total_table_bytes: int
    total_index_bytes: int
    advisor: str | None = None  # the index advisor's run in one line, when it ran


def advisor_line(figures: Mapping[str, Any]) -> str:
    """The index advisor's run in one line: what it read, planned and spent, and whether the budget bound it."""
    if figures.get("unit") == "ms":  # SQLite: built and timed on a private copy
        return (f"Index advisor: {figures['statements']:,} statement(s), {figures['measured_statements']:,} timed, "
                f"{figures['candidates']:,} candidate(s), {figures['builds']:,} built and timed on a private copy "
                f"in {figures['seconds']:.1f} s; budget {human_bytes(figures['budget_bytes'])}, "
                f"{human_bytes(figures['budget_used_bytes'])} used.")
    line = (f"Index advisor: {figures['statements']:,} statement(s) from {figures['texts']:,} text(s), "
            f"{figures['planned_cases']:,} planned case(s), {figures['candidates']:,} candidate(s), "
            f"{figures['what_if_calls']:,} what-if plans in {figures['seconds']:.1f} s; budget "
            f"{human_bytes(figures['budget_bytes'])}, {human_bytes(figures['budget_used_bytes'])} used.")
    left = figures.get("did_not_fit") or []
    if left:
        names = ", ".join(f"{x['index']} ({human_bytes(x['size_bytes'])})" for x in left)
        line += f" Paying on their own but over the budget: {names}: raise --budget to weigh them."
    return line


def build(report: Report) -> View:
    snap = report.snapshot
    leaves = [t for t in snap.tables if t.kind != "partitioned"]
    largest = sorted(leaves, key=lambda t: t.total_bytes, reverse=True)[:TOP_TABLES]
    groups = []
    for sev in Severity:
        items = tuple(f for f in report.findings if f.severity == sev)
        if items:
            groups.append((sev, PRIORITY_TITLES[sev], items))
    return View(
        report=report,
        counts=report.count_by_severity(),
        largest_tables=tuple(_row(report, t) for t in largest),
        groups=tuple(groups),
        monitoring=MONITORING_QUERIES,
        table_count=len(snap.tables),
        index_count=len(snap.indexes),
        total_table_bytes=sum(t.heap_bytes + t.toast_bytes for t in leaves),
        total_index_bytes=sum(t.index_bytes for t in leaves),
        advisor=advisor_line(report.advisor) if report.advisor else None,
    )


def _row(report: Report, t: Table) -> TableRow:
    return TableRow(
        name=t.qualname,
        kind=str(t.kind),
        rows=t.rows,
        total_bytes=t.total_bytes,
        heap_bytes=t.heap_bytes,
        index_bytes=t.index_bytes,
        toast_bytes=t.toast_bytes,
        index_count=len(report.snapshot.indexes_of(t.key)),
    )


def human_time(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if ts else "never"


# -- the JSON contract ---------------------------------------------------------------------------
def report_dict(report: Report) -> dict[str, Any]:
    snap, caps, db = report.snapshot, report.capabilities, report.snapshot.database
    return {
        "tool": {"name": "dbadvisor", "version": report.tool_version},
        "generated_at": _iso(report.generated_at),
        "database": {
            "dialect": db.dialect,
            "server_version": db.server_version,
            "server_version_num": db.server_version_num,
            "name": db.name,
            "size_bytes": db.size_bytes,
            "stats_reset": _iso(db.stats_reset),
            "server_started_at": _iso(db.server_started_at),
            "collected_at": _iso(db.collected_at),
            "schemas": len(snap.schemas),
            "tables": len(snap.tables),
            "indexes": len(snap.indexes),
            "capabilities": {
                "current_user": caps.current_user,
                "superuser": caps.is_superuser,
                "read_all_stats": caps.can_read_all_stats,
                "extensions": dict(sorted(caps.installed_extensions.items())),
                "pg_stat_statements": caps.has("pg_stat_statements"),
            },
        },
        "summary": {
            "findings": len(report.findings),
            "by_severity": {s.value: n for s, n in report.count_by_severity().items()},
            "checks_run": list(report.checks_run),
            "baselined": len(report.baselined),
            "advisor": dict(report.advisor) or None,
            "postgres_readiness": dict(report.readiness) or None,
        },
        "findings": [f.to_dict(dialects.get(db.dialect).fix_dict) for f in report.findings],
        "skipped": [{"check": s.check, "reason": s.reason} for s in report.skipped],
    }


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts else None
