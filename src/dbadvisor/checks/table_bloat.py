"""table_bloat: tables carrying many dead tuples or much more space than their live rows need."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.checks.bloat import BloatFigure, table_bloat
from dbadvisor.model.capabilities import LIVE_STATISTICS
from dbadvisor.model.catalog import Table, TableKind
from dbadvisor.model.ddl import VacuumTable
from dbadvisor.model.findings import Estimate, Finding, Severity


class TableBloat(Check):
    """Table bloat: dead tuples and free space that every sequential scan still reads and the cache
    still holds. VACUUM makes dead space reusable; only a rewrite (pg_repack, VACUUM FULL) returns it.

    Bad::

        webhook_events: 45 MB on disk, 33% dead tuples, autovacuum disabled

    Good::

        VACUUM (ANALYZE) webhook_events;  -- and let autovacuum keep up from then on
    """

    id = "table_bloat"
    name = "Table bloat"
    groups = ("bloat", "vacuum")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    needs = frozenset({LIVE_STATISTICS})
    options = {
        "min_dead_fraction": 0.2,
        "min_dead_tuples": 10_000,
        "min_wasted_fraction": 0.3,
        "min_wasted_bytes": 10 << 20,
        "heavy_wasted_fraction": 0.5,
        "large_wasted_bytes": 1 << 30,
    }

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        for table in snap.tables:
            if table.kind == TableKind.PARTITIONED:
                continue
            figure = table_bloat(snap, table)
            dead = table.n_dead_tup
            dead_fraction = dead / (dead + table.n_live_tup) if dead + table.n_live_tup else 0.0
            dead_heavy = dead >= self.opts["min_dead_tuples"] and dead_fraction >= self.opts["min_dead_fraction"]
            space_heavy = (figure is not None and figure.wasted_bytes >= self.opts["min_wasted_bytes"]
                           and figure.ratio >= self.opts["min_wasted_fraction"])
            if dead_heavy or space_heavy:
                yield self._finding(table, figure, dead_fraction)

    def _finding(self, table: Table, figure: BloatFigure | None, dead_fraction: float) -> Finding:
        wasted = figure.wasted_bytes if figure else 0
        ratio = figure.ratio if figure else 0.0
        heavy = ratio >= self.opts["heavy_wasted_fraction"]
        if wasted >= self.opts["large_wasted_bytes"] or heavy:
            severity = Severity.HIGH
        elif wasted >= self.opts["min_wasted_bytes"] or dead_fraction >= self.opts["min_dead_fraction"]:
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        vacuum = VacuumTable(table.schema, table.name)
        how = (f"{table.n_dead_tup:,} dead tuples ({dead_fraction:.0%} of rows)"
               + (f"; {wasted:,} bytes ({ratio:.0%} of the heap) hold no live rows" if figure else ""))
        source = "measured with pgstattuple" if figure and figure.measured else "estimated from pg_stats row widths"
        advice = "VACUUM makes the dead space reusable."
        if heavy:
            advice += (f" To return the space to the operating system without a long lock, rebuild online with "
                       f"pg_repack (`pg_repack --table={table.schema}.{table.name}`); VACUUM FULL does the same "
                       "under an ACCESS EXCLUSIVE lock.")
        return self.finding(
            table.qualname,
            title=f"Table {table.qualname} is bloated ({ratio:.0%} wasted, {dead_fraction:.0%} dead tuples)",
            detail=f"{table.qualname}: {how} ({source}). {advice}",
            severity=severity,
            table=table.qualname,
            evidence={
                "heap_bytes": table.heap_bytes,
                "live_tuples": table.n_live_tup,
                "dead_tuples": table.n_dead_tup,
                "dead_fraction": round(dead_fraction, 4),
                "wasted_bytes": wasted,
                "wasted_fraction": round(ratio, 4),
                "method": figure.method if figure else None,
                "last_vacuum": table.last_vacuum,
                "last_autovacuum": table.last_autovacuum,
            },
            fix=vacuum,
            estimate=Estimate(figure.estimate_kind, {"reclaimable_bytes": wasted, "method": figure.method})
            if figure else None,
        )
