"""seq_scan_heavy_table: large tables read mostly by sequential scans."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.model.capabilities import LIVE_STATISTICS
from dbadvisor.model.catalog import TableKind
from dbadvisor.model.findings import Finding, Severity


class SeqScanHeavyTable(Check):
    """Large table read mostly by sequential scans: each one reads every page. Usually a missing index;
    the workload index advisor (check ``missing_index``) names which one, costed by the planner.

    Bad::

        messages: 1M rows, 40 sequential scans, 0 index scans, 40M rows read

    Good::

        CREATE INDEX CONCURRENTLY messages_chat_id_created_at_idx ON messages (chat_id, created_at DESC);
    """

    id = "seq_scan_heavy_table"
    name = "Sequential-scan-heavy table"
    groups = ("performance", "indexes")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    needs = frozenset({LIVE_STATISTICS})
    options = {"min_rows": 100_000, "min_seq_scans": 10, "min_seq_ratio": 0.5, "heavy_rows_read": 100_000_000}

    def run(self) -> Iterator[Finding]:
        for t in self.ctx.snapshot.tables:
            if t.kind == TableKind.PARTITIONED or t.rows < self.opts["min_rows"]:
                continue
            scans = t.seq_scan + t.idx_scan
            ratio = t.seq_scan / scans if scans else 0.0
            if t.seq_scan < self.opts["min_seq_scans"] or ratio < self.opts["min_seq_ratio"]:
                continue
            yield self.finding(
                t.qualname,
                title=f"Table {t.qualname} is read mostly by sequential scans ({ratio:.0%})",
                detail=(f"{t.qualname} ({t.rows:,} rows, {t.heap_bytes:,} bytes) had {t.seq_scan:,} sequential scans "
                        f"reading {t.seq_tup_read:,} rows, against {t.idx_scan:,} index scans. See the workload "
                        "index advisor (check missing_index) for the index that serves these queries."),
                severity=Severity.HIGH if t.seq_tup_read >= self.opts["heavy_rows_read"] else Severity.MEDIUM,
                table=t.qualname,
                evidence={"seq_scan": t.seq_scan, "seq_tup_read": t.seq_tup_read, "idx_scan": t.idx_scan,
                          "seq_ratio": round(ratio, 4), "rows": t.rows,
                          "rows_read_per_seq_scan": t.seq_tup_read // t.seq_scan},
            )
