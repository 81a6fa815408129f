"""partition_by_time: a large, mostly inserted table whose workload reads recent ranges, to partition by
RANGE on its time column."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from dbadvisor.checks.base import WORKLOAD, Check, CheckSkipped
from dbadvisor.checks.time_series import TableTime, tables_over_time
from dbadvisor.model.capabilities import PG_CRON, PG_PARTMAN
from dbadvisor.model.catalog import ConstraintType, TableKind
from dbadvisor.model.ddl import PartitionTable
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.model.timeseries import (
    LOG_LIKE,
    choose_interval,
    partitions,
    step,
    today,
    truncate,
)
from dbadvisor.model.units import human_bytes


class PartitionByTime(Check):
    """Partition by time: a table that is large (or will be within the horizon), mostly inserted, with
    a time column that follows insert order, and a workload that reads recent ranges or deletes by age.
    Partitions let those statements skip the old rows, and let old rows go by dropping a partition
    instead of a DELETE that writes every row to the WAL.

    Bad::

        events: 40M rows, 300k a day; SELECT ... WHERE created_at > now() - interval '7 days'
        reads the table's index across three years; DELETE ... WHERE created_at < now() - interval '90 days'
        rewrites a million rows a night

    Good::

        events PARTITION BY RANGE (created_at), one partition a month, premade four ahead,
        primary key (id, created_at); old months dropped
    """

    id = "partition_by_time"
    name = "Table to partition by time"
    groups = ("scalability", "schema", WORKLOAD)
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    options = {
        "min_rows": 1_000_000,  # large from this many rows ...
        "min_bytes": 1 << 30,  # ... or this many bytes ...
        "horizon_days": 365,  # ... now or within this many days, at the current growth
        "log_rows": 100_000,  # a log-like table that needs a retention horizon, from this many rows
        "small_rows": 10_000,  # never below this
        "insert_share": 0.9,  # inserts against inserts + updates + deletes
        "min_correlation": 0.8,  # the time column must follow insert order
        "min_prune_share": 0.5,  # of the table's workload, the statements that would prune
        "premake": 4,  # partitions made ahead of now
        "max_partitions": 500,
    }

    def run(self) -> Iterator[Finding]:
        if self.ctx.workload is None:
            raise CheckSkipped(self.ctx.advice_unavailable or "no workload to tell which time ranges are read")
        memory = self.ctx.snapshot.settings.get("shared_buffers")
        memory_bytes = (memory.bytes if memory else None) or (128 << 20)
        for tt in tables_over_time(self.ctx):
            finding = self._judge(tt, memory_bytes)
            if finding is not None:
                yield finding

    def _judge(self, tt: TableTime, memory_bytes: int) -> Finding | None:
        o, t, g = self.opts, tt.table, tt.growth
        if t.kind != TableKind.PLAIN or tt.profile.rows < o["small_rows"] or not tt.reads:
            return None  # partitioned already, small, or nothing reads it
        writes = t.n_tup_ins + t.n_tup_upd + t.n_tup_del
        if writes >= 1000 and t.n_tup_ins / writes < o["insert_share"]:
            return None  # update-heavy: rows move between partitions or pile up
        corr = tt.column.stats.correlation if tt.column.stats else None
        if corr is None or abs(corr) < o["min_correlation"]:
            return None  # the column does not follow insert order: recent rows are everywhere
        prune = tt.share("recent", "since", "range", "expire")
        if prune < o["min_prune_share"]:
            return None  # read across history, or by key: partitions would not prune (and keyed lookups
            # would probe every partition)
        ahead = tt.profile.rows + g.rows_per_day * o["horizon_days"]
        ahead_bytes = t.total_bytes + g.bytes_per_day * o["horizon_days"]
        large_now = tt.profile.rows >= o["min_rows"] or t.total_bytes >= o["min_bytes"]
        large_later = ahead >= o["min_rows"] or ahead_bytes >= o["min_bytes"]
        expires = tt.share("expire") > 0 or bool(LOG_LIKE.search(t.name))
        if not (large_now or large_later or (expires and tt.profile.rows >= o["log_rows"])):
            return None
        kept = [u.window.age_days for u in tt.reads if u.window.kind == "expire" and u.window.age_days]
        horizon = (max(kept) if kept else g.span_days + o["horizon_days"]) + 30 * o["premake"]
        choice = choose_interval(g.bytes_per_day, horizon, memory_bytes, o["max_partitions"])
        oldest = tt.profile.oldest.date() if tt.profile.oldest else today()
        start = truncate(oldest, choice.interval)
        ahead_until = truncate(today(), choice.interval)
        for _ in range(o["premake"]):
            ahead_until = step(ahead_until, choice.interval)
        made = partitions(t.name, start, choice.interval, ahead_until)
        refused, facts = self._preflight(tt)
        severity = Severity.HIGH if large_now and prune >= 0.8 else Severity.MEDIUM if large_now or large_later \
            else Severity.LOW
        fix = None if refused else self._fix(tt, choice.interval, start)
        total = tt.weight
        detail = (f"{t.qualname} holds {tt.profile.rows:,} rows ({human_bytes(t.total_bytes)}), growing by about "
                  f"{g.rows_per_day:,.0f} rows ({human_bytes(g.bytes_per_day)}) a day ({g.basis}); {prune:.0%} of the "
                  f"workload on it bounds {tt.column.name} and would read only the partitions it needs. "
                  f"Partition by RANGE ({tt.column.name}), {choice.interval} per partition: {choice.reason}.")
        if refused:
            detail += " It cannot be converted online safely: " + "; ".join(refused) + "."
        return self.finding(
            t.qualname,
            title=f"Partition {t.qualname} by {tt.column.name} ({choice.interval} partitions)",
            detail=detail,
            severity=severity,
            table=t.qualname,
            columns=(tt.column.name,),
            evidence={
                "rows": tt.profile.rows, "bytes": t.total_bytes, "profile": tt.profile.method,
                "oldest": tt.profile.oldest.isoformat() if tt.profile.oldest else None,
                "newest": tt.profile.newest.isoformat() if tt.profile.newest else None,
                "growth_per_day": {"rows": g.rows_per_day, "bytes": g.bytes_per_day, "basis": g.basis},
                "in_horizon": {"days": o["horizon_days"], "rows": int(ahead), "bytes": int(ahead_bytes)},
                "insert_share": round(t.n_tup_ins / writes, 4) if writes else None,
                "correlation": round(corr, 4),
                "pruning_share": round(prune, 4),
                "statements": [u.to_dict(total) for u in sorted(tt.reads, key=lambda u: -u.weight)[:10]],
                "interval": choice.interval, "interval_reason": choice.reason,
                "partition_bytes": int(choice.partition_bytes),
                "partitions_after": len(made) + 1, "made_ahead": o["premake"], "default_partition": True,
                "first_partition": made[0][0] if made else None, "start": start.isoformat(),
                "maintenance": self._maintenance(),
                "preflight": facts, "refused": refused,
                "referenced_by": [f"{c.schema}.{c.table}" for c in self.ctx.snapshot.referenced_by(t.key)],
            },
            fix=fix,
        )

    def _maintenance(self) -> str:
        caps = self.ctx.capabilities
        partman = caps.extension_schema(PG_PARTMAN)
        who = (f"pg_partman (schema {partman}) keeps the partitions ahead" if partman
               else "`dbadvisor maintain` keeps the partitions ahead")
        return who + (", run hourly by pg_cron" if PG_CRON in caps.installed_extensions else
                      " when cron runs it (pg_cron is not installed in this database)")

    def _preflight(self, tt: TableTime) -> tuple[list[str], dict[str, object]]:
        """Why the conversion cannot be done safely (empty: it can), and the facts it looked at."""
        snap, t, key = self.ctx.snapshot, tt.table, tt.column.name
        refused: list[str] = []
        pk = next((c for c in snap.constraints_of(t.key) if c.type == ConstraintType.PRIMARY_KEY), None)
        if pk is None:
            refused.append("it has no primary key (rows written during the copy are matched by it)")
        others = [c for c in snap.constraints_of(t.key) if c.type in (ConstraintType.UNIQUE, ConstraintType.EXCLUSION)]
        for c in others:
            if key not in c.columns:
                refused.append(f"unique constraint {c.name} ({', '.join(c.columns)}) must include {key}: "
                               f"make it ({', '.join((*c.columns, key))}) first")
        for i in snap.indexes_of(t.key):
            if i.is_unique and not i.is_primary and not i.constraint and key not in i.key_columns:
                refused.append(f"unique index {i.name} must include {key}")
        referencing = [c for c in snap.referenced_by(t.key) if c.table_key != t.key]
        if referencing:
            names = ", ".join(sorted({f"{c.schema}.{c.table} ({c.name})" for c in referencing}))
            refused.append(f"foreign keys point to it from {names}: a partitioned table can be referenced only "
                           f"by a key that includes {key}")
        triggers = snap.triggers_of(t.key)
        if triggers:
            refused.append(f"it has triggers ({', '.join(x.name for x in triggers)}), which the copy would not fire")
        if t.rls_enabled or snap.policies_of(t.key):
            refused.append("it has row-level security, whose policies are not carried over")
        pubs = snap.publications_of(t.key)
        if pubs:
            refused.append(f"it is published for logical replication ({', '.join(p.name for p in pubs)})")
        if t.replica_identity not in ("default",):
            refused.append(f"its replica identity is {t.replica_identity}")
        views = snap.dependents_of(t.key)
        if views:
            refused.append(f"views read it ({', '.join(v.name for v in views)}) and would keep reading the old table")
        if not tt.column.not_null and tt.column.stats and tt.column.stats.null_frac > 0:
            refused.append(f"{key} holds NULLs, which a partition key in the primary key cannot")
        sequences = [c.name for c in snap.columns_of(t.key) if c.serial_sequence or c.identity]
        facts: dict[str, object] = {
            "primary_key": list(pk.columns) if pk else None,
            "new_primary_key": list(_new_key(pk.columns, key)) if pk else None,
            "foreign_keys_out": [c.name for c in snap.constraints_of(t.key) if c.type == ConstraintType.FOREIGN_KEY],
            "foreign_keys_in": [f"{c.schema}.{c.table}.{c.name}" for c in referencing],
            "triggers": [x.name for x in triggers], "rls": t.rls_enabled, "publications": [p.name for p in pubs],
            "replica_identity": t.replica_identity, "dependent_views": [v.name for v in views],
            "sequences": sequences, "indexes_recreated": [i.name for i in snap.indexes_of(t.key) if not i.is_primary],
        }
        return refused, facts

    def _fix(self, tt: TableTime, interval: str, start: date) -> PartitionTable:
        snap, t, key = self.ctx.snapshot, tt.table, tt.column.name
        pk = next(c for c in snap.constraints_of(t.key) if c.type == ConstraintType.PRIMARY_KEY)
        columns = tuple(c.name for c in sorted(snap.columns_of(t.key), key=lambda c: c.position) if not c.generated)
        indexes = tuple(i.definition for i in snap.indexes_of(t.key) if not i.is_primary and i.is_valid)
        fks = tuple(f"{c.name} {c.definition}" for c in snap.constraints_of(t.key)
                    if c.type == ConstraintType.FOREIGN_KEY and not c.inherited)
        caps = self.ctx.capabilities
        partman = caps.extension_schema(PG_PARTMAN)
        return PartitionTable(t.schema, t.name, key, interval, start.isoformat(), int(self.opts["premake"]),
                              _new_key(pk.columns, key), pk.columns, pk.name, columns, indexes, fks,
                              partman_schema=partman, cron=PG_CRON in caps.installed_extensions)


def _new_key(columns: tuple[str, ...], key: str) -> tuple[str, ...]:
    return columns if key in columns else (*columns, key)
