"""low_cache_hit_ratio: database, tables and indexes served from disk more than from shared buffers."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.model.capabilities import LIVE_STATISTICS
from dbadvisor.model.findings import Finding, Severity


class LowCacheHitRatio(Check):
    """Low cache hit ratio: blocks read from outside shared_buffers (the OS cache or disk) instead of
    shared memory. For an OLTP database below 99% usually means the working set does not fit, or scans
    that an index would avoid keep evicting it.

    Bad::

        database hit ratio 91% with shared_buffers = 128MB on a 24 GB machine

    Good::

        hit ratio above 99% for the database and for its hot tables
    """

    id = "low_cache_hit_ratio"
    name = "Low cache hit ratio"
    groups = ("performance", "configuration")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    needs = frozenset({LIVE_STATISTICS})
    options = {"database_threshold": 0.99, "table_threshold": 0.95, "min_blocks": 10_000, "high_below": 0.9,
               "min_window_hours": 24}

    def _window_hours(self) -> float | None:
        """Hours the counters cover: since the statistics reset, else since the server started."""
        db = self.ctx.snapshot.database
        start = db.stats_reset or db.server_started_at
        if start is None or db.collected_at is None:
            return None
        return (db.collected_at - start).total_seconds() / 3600

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        db = snap.database
        shared_buffers = self._shared_buffers_bytes()
        ratio = _ratio(db.blks_hit, db.blks_read)
        hours = self._window_hours()
        fresh = hours is None or hours < self.opts["min_window_hours"]
        if db.blks_hit + db.blks_read >= self.opts["min_blocks"] and ratio < self.opts["database_threshold"]:
            window = ("over an unknown window" if hours is None else f"over the last {hours:,.1f} hours of counters"
                      + (" (a fresh window: cold caches after a restart or reset weigh heavily)" if fresh else ""))
            yield self.finding(
                "database",
                title=f"Database cache hit ratio is {ratio:.2%}",
                detail=(f"{db.blks_read:,} of {db.blks_hit + db.blks_read:,} block requests missed shared_buffers "
                        f"({shared_buffers or 0:,} bytes) {window}. Look at the sequential-scan-heavy tables "
                        "first; then at shared_buffers (commonly about 25% of RAM)."),
                severity=(Severity.LOW if fresh else Severity.HIGH if ratio < self.opts["high_below"]
                          else Severity.MEDIUM),
                evidence={"blks_hit": db.blks_hit, "blks_read": db.blks_read, "hit_ratio": round(ratio, 4),
                          "shared_buffers_bytes": shared_buffers, "database_bytes": db.size_bytes,
                          "window_hours": round(hours, 2) if hours is not None else None},
            )
        for t in snap.tables:
            for kind, hit, read in (("heap", t.heap_blks_hit, t.heap_blks_read), ("index", t.idx_blks_hit,
                                                                               t.idx_blks_read)):
                r = _ratio(hit, read)
                if hit + read >= self.opts["min_blocks"] and r < self.opts["table_threshold"]:
                    yield self.finding(
                        f"{t.qualname}.{kind}",
                        title=f"{kind.capitalize()} cache hit ratio of {t.qualname} is {r:.1%}",
                        detail=(f"{read:,} of {hit + read:,} {kind} block requests for {t.qualname} missed "
                                "shared_buffers."),
                        severity=Severity.LOW,
                        table=t.qualname,
                        evidence={"kind": kind, "blks_hit": hit, "blks_read": read, "hit_ratio": round(r, 4),
                                  "heap_bytes": t.heap_bytes, "index_bytes": t.index_bytes},
                    )

    def _shared_buffers_bytes(self) -> int | None:
        s = self.ctx.snapshot.settings.get("shared_buffers")
        return s.bytes if s is not None else None


def _ratio(hit: int, read: int) -> float:
    return hit / (hit + read) if hit + read else 1.0
