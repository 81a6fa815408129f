"""sequence_exhaustion: sequences (serial/identity included) past a share of their range."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property

from dbadvisor.checks.base import Check
from dbadvisor.model.catalog import Column, ConstraintType, Sequence
from dbadvisor.model.ddl import AlterColumnType, AlterSequenceType, Batch, Operation
from dbadvisor.model.findings import Finding, Severity

TYPE_MAX = {"smallint": 32_767, "integer": 2_147_483_647, "bigint": 9_223_372_036_854_775_807}


class SequenceExhaustion(Check):
    """Sequence past half its range: when it runs out, every INSERT fails. The column it feeds may be
    narrower than the sequence (a bigint sequence into an integer column), so the tighter limit counts.

    Bad::

        id serial PRIMARY KEY  -- integer: 2,147,483,647 ids, 1.65 billion used

    Good::

        ALTER TABLE t ALTER COLUMN id TYPE bigint; ALTER SEQUENCE t_id_seq AS bigint;
    """

    id = "sequence_exhaustion"
    name = "Sequence near exhaustion"
    groups = ("hygiene", "schema")
    severity = Severity.MEDIUM
    severity_range = (Severity.MEDIUM, Severity.CRITICAL)
    options = {"threshold": 0.5, "high": 0.75, "critical": 0.9}

    def run(self) -> Iterator[Finding]:
        for seq in self.ctx.snapshot.sequences:
            if seq.last_value is None or seq.cycle:
                continue
            column = self._column(seq)
            limit = seq.max_value if seq.increment > 0 else seq.min_value
            if column is not None and column.type in TYPE_MAX and seq.increment > 0:
                limit = min(limit, TYPE_MAX[column.type])
            start = seq.min_value if seq.increment > 0 else seq.max_value
            span = abs(limit - start) or 1
            used = abs(seq.last_value - start) / span
            if used >= self.opts["threshold"]:
                yield self._finding(seq, column, limit, used)

    def _column(self, seq: Sequence) -> Column | None:
        return self._owners.get(seq.owned_by) if seq.owned_by else None

    @cached_property
    def _owners(self) -> dict[str, Column]:
        """Columns by the "schema.table.column" form that Sequence.owned_by uses."""
        return {f"{c.schema}.{c.table}.{c.name}": c for c in self.ctx.snapshot.columns if c.serial_sequence}

    def _finding(self, seq: Sequence, column: Column | None, limit: int, used: float) -> Finding:
        if used >= self.opts["critical"]:
            severity = Severity.CRITICAL
        elif used >= self.opts["high"]:
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        rate = self._inserts_per_day(column)
        steps: list[Operation] = []
        if column is not None and column.type in ("smallint", "integer"):
            # Widen the column and every foreign key column that references it, then the sequence.
            targets = [(column.schema, column.table, column.name)]
            for fk in self.ctx.snapshot.constraints:
                if (fk.type == ConstraintType.FOREIGN_KEY and fk.ref_key == column.table_key
                        and column.name in fk.ref_columns):
                    targets.append((fk.schema, fk.table, fk.columns[fk.ref_columns.index(column.name)]))
            steps += [AlterColumnType(schema, table, col, "bigint", column.type) for schema, table, col in targets]
        if seq.data_type != "bigint":
            steps.append(AlterSequenceType(seq.schema, seq.name, "bigint", seq.data_type))
        fix = Batch(tuple(steps)) if len(steps) > 1 else steps[0] if steps else None
        where = f" feeding {column.schema}.{column.table}.{column.name} ({column.type})" if column else ""
        return self.finding(
            seq.qualname,
            title=f"Sequence {seq.qualname} has used {used:.0%} of its range",
            detail=(
                f"{seq.qualname}{where} is at {seq.last_value:,} of {limit:,} ({used:.1%}); INSERTs fail when it "
                "runs out. Changing a column's type rewrites the table under an ACCESS EXCLUSIVE lock: plan "
                "it in a maintenance window, or migrate through a new bigint column backfilled in batches."
            ),
            severity=severity,
            table=f"{column.schema}.{column.table}" if column else None,
            columns=(column.name,) if column else (),
            evidence={"last_value": seq.last_value, "limit": limit, "used_fraction": round(used, 4),
                      "sequence_type": seq.data_type, "column_type": column.type if column else None,
                      "table_inserts_per_day": rate},
            fix=fix,
        )

    def _inserts_per_day(self, column: Column | None) -> float | None:
        """Inserts per day on the owning table over the stats window, when it is known."""
        db = self.ctx.snapshot.database
        if column is None or db.stats_reset is None or db.collected_at is None:
            return None
        t = self.ctx.snapshot.table(column.table_key)
        days = (db.collected_at - db.stats_reset).total_seconds() / 86400
        return round(t.n_tup_ins / days, 1) if t and days > 0 else None
