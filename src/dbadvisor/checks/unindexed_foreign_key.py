"""unindexed_foreign_key: foreign keys whose referencing columns have no index to look them up."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import POSTGRES, SQLITE, Check
from dbadvisor.model.catalog import Constraint, ConstraintType
from dbadvisor.model.ddl import CreateIndex, IndexColumn, index_name
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.model.indexing import serves_columns


class UnindexedForeignKey(Check):
    """Foreign key without an index on its referencing columns: every DELETE or key UPDATE on the
    referenced table scans the whole referencing table, and joins on the key cannot use an index.

    Bad::

        CREATE TABLE messages (id bigint PRIMARY KEY, chat_id bigint REFERENCES chats (id));

    Good::

        CREATE INDEX CONCURRENTLY messages_chat_id_idx ON messages (chat_id);
    """

    id = "unindexed_foreign_key"
    name = "Unindexed foreign key"
    groups = ("hygiene", "indexes")
    dialects = frozenset({POSTGRES, SQLITE})
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    options = {"small_table_rows": 10_000, "large_table_rows": 1_000_000}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        for fk in snap.constraints:
            if fk.type != ConstraintType.FOREIGN_KEY or fk.inherited:
                continue  # partitions' clones are served by the parent's partitioned index
            if any(serves_columns(i, fk.columns) for i in snap.indexes_of(fk.table_key)):
                continue
            yield self._finding(fk)

    def _finding(self, fk: Constraint) -> Finding:
        snap = self.ctx.snapshot
        table = snap.table(fk.table_key)
        ref = snap.table(fk.ref_key) if fk.ref_key else None
        rows = table.rows if table else 0
        ref_writes = (ref.n_tup_del + ref.n_tup_upd) if ref else 0
        if rows >= self.opts["large_table_rows"] or (ref_writes and rows >= self.opts["small_table_rows"]):
            severity = Severity.HIGH
        elif rows >= self.opts["small_table_rows"]:
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        fix = CreateIndex(fk.schema, fk.table, index_name(fk.table, fk.columns),
                          tuple(IndexColumn(c) for c in fk.columns))
        ref_name = f"{fk.ref_schema}.{fk.ref_table}"
        qual = f"{fk.schema}.{fk.table}"
        detail = (
            f"Foreign key {fk.name} ({', '.join(fk.columns)}) -> {ref_name} has no index on {qual}: each "
            f"DELETE or key UPDATE on {ref_name} scans all {rows:,} rows of {qual}"
            + (f" (ON DELETE {fk.on_delete.upper()})" if fk.on_delete and fk.on_delete != "no action" else "")
            + (f"; {ref_name} has seen {ref_writes:,} updates/deletes" if ref_writes else "")
            + "."
        )
        return self.finding(
            f"{qual}.{fk.name}",
            title=f"Foreign key {qual}({', '.join(fk.columns)}) has no index",
            detail=detail,
            severity=severity,
            table=qual,
            columns=fk.columns,
            evidence={
                "constraint": fk.name,
                "references": ref_name,
                "referencing_rows": rows,
                "referencing_bytes": table.total_bytes if table else 0,
                "referencing_seq_scans": table.seq_scan if table else 0,
                "referenced_updates_deletes": ref_writes,
                "on_delete": fk.on_delete,
            },
            fix=fix,
        )
