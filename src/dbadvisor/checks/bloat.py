"""Bloat figures for tables and indexes: measured by pgstattuple when the snapshot has them, otherwise
estimated from planner statistics (row widths from pg_stats), and always labelled with which one."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dbadvisor.model.catalog import Index, Snapshot, Table

PAGE = 8192
PAGE_HEADER = 24
BTREE_SPECIAL = 16
ITEM_POINTER = 4
MAXALIGN = 8


@dataclass(frozen=True)
class BloatFigure:
    size_bytes: int
    wasted_bytes: int
    method: str  # "pgstattuple_approx" | "pgstatindex" | "statistics"

    @property
    def measured(self) -> bool:
        return self.method != "statistics"

    @property
    def ratio(self) -> float:
        return self.wasted_bytes / self.size_bytes if self.size_bytes else 0.0

    @property
    def estimate_kind(self) -> str:
        return "measured" if self.measured else "heuristic"


def _align(n: float) -> int:
    return int(math.ceil(n / MAXALIGN) * MAXALIGN)


def table_bloat(snapshot: Snapshot, table: Table) -> BloatFigure | None:
    measured = snapshot.measured_bloat("table", table.key)
    if measured is not None:
        return BloatFigure(measured.size_bytes, measured.wasted_bytes, measured.method)
    columns = snapshot.columns_of(table.key)
    if not columns or table.heap_bytes == 0 or any(c.stats is None for c in columns):
        return None  # never analyzed: no widths to estimate from
    stats = [c.stats for c in columns if c.stats is not None]
    has_nulls = any(s.null_frac > 0 for s in stats)
    header = _align(23 + (math.ceil(len(columns) / 8) if has_nulls else 0))
    data = _align(sum(s.avg_width * (1 - s.null_frac) for s in stats))
    tuple_bytes = header + data + ITEM_POINTER
    fillfactor = int(table.reloptions.get("fillfactor", "100")) / 100
    per_page = max(1, int((PAGE - PAGE_HEADER) * fillfactor // tuple_bytes))
    live = table.n_live_tup or max(table.row_estimate or 0, 0)
    expected = math.ceil(live / per_page) * PAGE
    return BloatFigure(table.heap_bytes, max(0, table.heap_bytes - expected), "statistics")


def index_bloat(snapshot: Snapshot, index: Index) -> BloatFigure | None:
    measured = snapshot.measured_bloat("index", index.key)
    if measured is not None:
        return BloatFigure(measured.size_bytes, measured.wasted_bytes, measured.method)
    table = snapshot.table(index.table_key)
    if index.method != "btree" or index.is_partial or table is None or index.size_bytes == 0:
        return None
    widths = 0.0
    nonnull = 1.0
    for name in (*index.key_columns, *index.include):
        column = snapshot.column(index.table_key, name) if name else None
        if column is None or column.stats is None:
            return None  # expression key or no statistics: nothing to estimate from
        widths += column.stats.avg_width
        if name in index.key_columns[:1]:
            nonnull = 1 - column.stats.null_frac
    entry = _align(8 + widths) + ITEM_POINTER
    per_page = max(1, int((PAGE - PAGE_HEADER - BTREE_SPECIAL) * 0.9 // entry))
    rows = (table.n_live_tup or max(table.row_estimate or 0, 0)) * nonnull
    leaf_pages = math.ceil(rows / per_page)
    expected = (leaf_pages + math.ceil(leaf_pages / per_page) + 1) * PAGE  # leaves, inner pages, meta page
    return BloatFigure(index.size_bytes, max(0, index.size_bytes - expected), "statistics")
