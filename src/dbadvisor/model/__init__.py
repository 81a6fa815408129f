"""Typed, immutable objects that every later stage reads: the catalog snapshot, capabilities, findings."""

from dbadvisor.model.capabilities import Capabilities
from dbadvisor.model.catalog import (
    Column,
    ColumnStats,
    Constraint,
    DatabaseInfo,
    Index,
    IndexKey,
    Policy,
    Schema,
    Sequence,
    Snapshot,
    Table,
)
from dbadvisor.model.findings import Estimate, Finding, Report, Severity, Skipped

__all__ = [
    "Capabilities",
    "Column",
    "ColumnStats",
    "Constraint",
    "DatabaseInfo",
    "Estimate",
    "Finding",
    "Index",
    "IndexKey",
    "Policy",
    "Report",
    "Schema",
    "Sequence",
    "Severity",
    "Skipped",
    "Snapshot",
    "Table",
]
