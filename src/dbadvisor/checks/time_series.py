"""What ``partition_by_time`` and ``retention_policy`` share: each sizeable table's row-age column, its
growth (from the column's own spread), and how the workload's statements bound that column.

A statement's weight is how often it runs (its calls, or its ``-- weight: N``): partitioning is judged on
the mix of statements, not on their present cost, which a missing index can dominate and the advisor
removes. Inserts are left out of the shares, since they neither prune nor read history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from dbadvisor.checks.base import Context
from dbadvisor.model.catalog import Column, ConstraintType, Table, TableKind, TimeProfile
from dbadvisor.model.timeseries import Growth, growth, interval_days, rows_older_than
from dbadvisor.model.workload import Statement
from dbadvisor.workload.windows import Window, window


@dataclass(frozen=True)
class Use:
    statement: Statement
    window: Window
    weight: float

    def to_dict(self, total: float) -> dict[str, object]:
        text = " ".join(self.statement.query.split())
        return {"query": text, "statement": self.window.statement, "window": self.window.kind,
                "age": self.window.age, "share": round(self.weight / total, 4) if total else None,
                "calls": self.statement.calls, "source": self.statement.source}


@dataclass(frozen=True)
class TableTime:
    table: Table
    column: Column
    profile: TimeProfile
    growth: Growth
    uses: tuple[Use, ...]

    @property
    def reads(self) -> tuple[Use, ...]:
        """The statements that read or delete (inserts neither prune nor read history)."""
        return tuple(u for u in self.uses if u.window.kind != "insert")

    @property
    def weight(self) -> float:
        return sum(u.weight for u in self.reads)

    def share(self, *kinds: str) -> float:
        total = self.weight
        return sum(u.weight for u in self.reads if u.window.kind in kinds) / total if total else 0.0

    def older_than(self, keep: str, today: date) -> int:
        return rows_older_than(self.profile, today - timedelta(days=interval_days(keep)))

    @property
    def bytes_per_row(self) -> float:
        return self.table.total_bytes / self.profile.rows if self.profile.rows else 0.0


def key_columns(ctx: Context, table: Table) -> tuple[str, ...]:
    """Columns of the table's primary key and unique constraints: an equality on one is a keyed lookup."""
    return tuple(c for k in ctx.snapshot.constraints_of(table.key)
                 if k.type in (ConstraintType.PRIMARY_KEY, ConstraintType.UNIQUE) for c in k.columns)


def tables_over_time(ctx: Context) -> list[TableTime]:
    """Every plain or partitioned table with a profiled time column, and its statements' windows."""
    snap = ctx.snapshot
    statements = ctx.workload.statements if ctx.workload else ()
    out = []
    for profile in snap.time_profiles:
        table = snap.table(profile.table_key)
        column = snap.column(profile.table_key, profile.column)
        if table is None or column is None or table.kind not in (TableKind.PLAIN, TableKind.PARTITIONED):
            continue
        keys = key_columns(ctx, table)
        found = [(st, w) for st in statements if (w := window(st.query, table.name, column.name, keys)) is not None]
        uses = tuple(Use(st, w, st.weight if st.weight is not None else float(st.calls)) for st, w in found)
        out.append(TableTime(table, column, profile, growth(profile, table.total_bytes), uses))
    return out
