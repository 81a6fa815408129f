"""unused_index: indexes never scanned in the statistics window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from dbadvisor.checks.base import Check
from dbadvisor.model.capabilities import LIVE_STATISTICS
from dbadvisor.model.catalog import ConstraintType, Index
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.model.indexing import backs_constraint, drop_op, serves_columns, signature, usable


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
    needs = frozenset({LIVE_STATISTICS})
    options = {"min_size_bytes": 1 << 20, "min_window_days": 7, "large_index_bytes": 1 << 30}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        db = snap.database
        window_days = _days_between(db.stats_reset, db.collected_at)
        for index in snap.indexes:
            if (index.idx_scan == 0 and usable(index) and not index.is_unique and not backs_constraint(index)
                    and index.size_bytes >= self.opts["min_size_bytes"] and not self._serves_foreign_key(index)):
                yield self._finding(index, window_days)

    def _serves_foreign_key(self, index: Index) -> bool:
        """An index a foreign key's lookups use (ON DELETE of the parent row, say) is never dropped as
        unused: its scans come in bursts the window may not hold, and without it each one is a scan."""
        snap = self.ctx.snapshot
        return any(c.type == ConstraintType.FOREIGN_KEY and serves_columns(index, c.columns)
                   for c in snap.constraints_of(index.table_key))

    def _twins(self, index: Index) -> list[str]:
        sig = signature(index)
        return sorted(i.qualname for i in self.ctx.snapshot.indexes_of(index.table_key)
                      if i is not index and usable(i) and signature(i) == sig)

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
                      "or the last crash); treat this as a lead, not proof (no drop is proposed)")
        elif confident:
            window = f"in the {window_days:.1f}-day statistics window (since {db.stats_reset:%Y-%m-%d})"
        else:
            window = (f"but statistics were reset only {window_days:.1f} days ago: too short a window to "
                      f"prove it unused (a drop is proposed from {self.opts['min_window_days']} days on), check "
                      "again later")
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
                "identical_to": self._twins(index),
            },
            # A drop is proposed only on a window long enough to prove the index unused.
            fix=drop_op(index) if confident else None,
        )


def _days_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 86400
