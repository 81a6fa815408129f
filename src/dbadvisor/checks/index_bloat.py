"""index_bloat: B-tree indexes much larger than their entries need."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.checks.bloat import BloatFigure, index_bloat
from dbadvisor.model.capabilities import LIVE_STATISTICS
from dbadvisor.model.catalog import Index
from dbadvisor.model.ddl import ReindexIndex
from dbadvisor.model.findings import Estimate, Finding, Severity
from dbadvisor.model.indexing import usable


class IndexBloat(Check):
    """Index bloat: half-empty B-tree pages left by deletes and updates make every index scan read more
    pages. REINDEX CONCURRENTLY rebuilds the index compactly without blocking writes.

    Bad::

        messages_pkey: 60 MB, leaf density 35%

    Good::

        REINDEX INDEX CONCURRENTLY messages_pkey;  -- about 22 MB afterwards
    """

    id = "index_bloat"
    name = "Index bloat"
    groups = ("bloat", "indexes")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    needs = frozenset({LIVE_STATISTICS})
    options = {"min_wasted_fraction": 0.4, "min_wasted_bytes": 10 << 20, "large_wasted_bytes": 1 << 30}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        for index in snap.indexes:
            if not usable(index):
                continue
            figure = index_bloat(snap, index)
            if (figure is not None and figure.wasted_bytes >= self.opts["min_wasted_bytes"]
                    and figure.ratio >= self.opts["min_wasted_fraction"]):
                yield self._finding(index, figure)

    def _finding(self, index: Index, figure: BloatFigure) -> Finding:
        source = "measured with pgstatindex" if figure.measured else "estimated from pg_stats widths"
        return self.finding(
            index.qualname,
            title=f"Index {index.qualname} is bloated ({figure.ratio:.0%} wasted)",
            detail=(f"{index.qualname} takes {figure.size_bytes:,} bytes of which about {figure.wasted_bytes:,} "
                    f"({figure.ratio:.0%}) hold no entries ({source}). A concurrent REINDEX rebuilds it "
                    "compactly without blocking writes."),
            severity=Severity.HIGH if figure.wasted_bytes >= self.opts["large_wasted_bytes"] else (
                Severity.MEDIUM if figure.measured else Severity.LOW),
            table=index.table_qualname,
            columns=index.key_labels,
            index=index.qualname,
            evidence={"size_bytes": figure.size_bytes, "wasted_bytes": figure.wasted_bytes,
                      "wasted_fraction": round(figure.ratio, 4), "method": figure.method},
            fix=ReindexIndex(index.schema, index.name),
            estimate=Estimate(figure.estimate_kind, {"reclaimable_bytes": figure.wasted_bytes,
                                                     "method": figure.method}),
        )
