"""unused_index: indexes never scanned in the statistics window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from dbadvisor.checks.base import Check
from dbadvisor.checks.indexing import backs_constraint, drop_op, usable
from dbadvisor.model.catalog import Index
from dbadvisor.model.findings import Finding, Severity


class UnusedIndex(Check):
    """Index with zero scans since statistics were reset: it costs every write and its space, and
    nothing reads it. Only as strong as the statistics window: a week-old window has not seen the
    month-end report, so a short or unknown window is reported at low severity with that caveat.

    Bad::

        CREATE INDEX llm_calls_latency_ms_idx ON llm_calls (latency_ms);  -- idx_scan = 0 for 30 days

    Good::

        DROP INDEX CONCURRENTLY llm_calls_latency_ms_idx;  -- after checking replicas' statistics too
    """

    id = "unused_index"
    name = "Unused index"
    groups = ("hygiene", "indexes")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    options = {"min_size_bytes": 1 << 20, "min_window_days": 7, "large_index_bytes": 1 << 30}

    def run(self) -> Iterator[Finding]:
        db = self.ctx.snapshot.database
        window_days = _days_between(db.stats_reset, db.collected_at)
        for index in self.ctx.snapshot.indexes:
            if (index.idx_scan == 0 and usable(index) and not index.is_unique and not backs_constraint(index)
                    and index.size_bytes >= self.opts["min_size_bytes"]):
                yield self._finding(index, window_days)

    def _finding(self, index: Index, window_days: float | None) -> Finding:
        db = self.ctx.snapshot.database
        confident = window_days is not None and window_days >= self.opts["min_window_days"]
        if not confident:
            severity = Severity.LOW
        elif index.size_bytes >= self.opts["large_index_bytes"]:
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        if window_days is None:
            window = ("statistics have never been reset, so the window's start is unknown (cluster creation "
                      "or the last crash); treat this as a lead, not proof")
        elif confident:
            window = f"in the {window_days:.1f}-day statistics window (since {db.stats_reset:%Y-%m-%d})"
        else:
            window = (f"but statistics were reset only {window_days:.1f} days ago: too short a window to "
                      "prove it unused, check again later")
        return self.finding(
            index.qualname,
            title=f"Index {index.qualname} has never been scanned",
            detail=(
                f"{index.qualname} ({index.size_bytes:,} bytes) on {index.table_qualname} has 0 scans, {window}. "
                "Statistics are per server: check replicas before dropping."
            ),
            severity=severity,
            table=index.table_qualname,
            columns=index.key_labels,
            index=index.qualname,
            evidence={
                "scans": 0,
                "size_bytes": index.size_bytes,
                "definition": index.definition,
                "stats_reset": db.stats_reset.isoformat() if db.stats_reset else None,
                "stats_window_days": round(window_days, 2) if window_days is not None else None,
            },
            fix=drop_op(index),
        )


def _days_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 86400
