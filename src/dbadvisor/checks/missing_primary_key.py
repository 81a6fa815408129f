"""missing_primary_key: tables that have no primary key."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.model.capabilities import PG_PARTMAN
from dbadvisor.model.catalog import Index, Table, TableKind
from dbadvisor.model.ddl import AddIdentityPrimaryKey, AddPrimaryKeyUsingIndex, Operation
from dbadvisor.model.findings import Finding, Severity


class MissingPrimaryKey(Check):
    """Table has no primary key: rows cannot be addressed reliably, logical replication cannot ship its
    UPDATEs and DELETEs, and ORMs and tools such as pg_repack refuse it.

    Bad::

        CREATE TABLE events (created_at timestamptz, payload jsonb);

    Good::

        CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                             created_at timestamptz, payload jsonb);
    """

    id = "missing_primary_key"
    name = "Missing primary key"
    groups = ("hygiene", "schema")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    options = {"large_table_rows": 1_000_000}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        for table in snap.tables:
            if table.kind in (TableKind.MATVIEW, TableKind.PARTITION):
                continue  # matviews cannot have one; partitions get theirs from the parent
            if any(i.is_primary for i in snap.indexes_of(table.key)):
                continue
            if table.name.startswith("template_") and PG_PARTMAN in self.ctx.capabilities.installed_extensions:
                continue  # pg_partman's template table: it only lends its properties to new partitions
            yield self._finding(table)

    def _finding(self, table: Table) -> Finding:
        writes = table.n_tup_upd + table.n_tup_del
        big = table.rows >= self.opts["large_table_rows"]
        if big or (writes and table.replica_identity == "default"):
            severity = Severity.HIGH
        elif table.rows == 0 and not writes:
            severity = Severity.LOW
        else:
            severity = Severity.MEDIUM
        candidate = self._unique_candidate(table)
        evidence = {
            "rows": table.rows,
            "total_bytes": table.total_bytes,
            "updates": table.n_tup_upd,
            "deletes": table.n_tup_del,
            "replica_identity": table.replica_identity,
            "unique_index_candidate": candidate.qualname if candidate else None,
        }
        fix, how = self._fix(table, candidate)
        reasons = []
        if big:
            reasons.append(f"{table.rows:,} rows")
        if writes:
            reasons.append(f"{writes:,} updates/deletes that logical replication could not ship")
        detail = (
            f"{table.qualname} has no primary key"
            + (f" ({'; '.join(reasons)})" if reasons else "")
            + f". {how}"
        )
        return self.finding(
            table.qualname,
            title=f"Table {table.qualname} has no primary key",
            detail=detail,
            severity=severity,
            table=table.qualname,
            columns=candidate.key_columns if candidate else (),  # type: ignore[arg-type]
            evidence=evidence,
            fix=fix,
        )

    def _unique_candidate(self, table: Table) -> Index | None:
        """A valid, non-partial unique index on NOT NULL plain columns can become the primary key as is."""
        snap = self.ctx.snapshot
        for index in snap.indexes_of(table.key):
            if not (index.is_unique and index.is_valid and not index.is_partial and index.method == "btree"):
                continue
            cols = [snap.column(table.key, c) if c else None for c in index.key_columns]
            if all(c is not None and c.not_null for c in cols):
                return index
        return None

    def _fix(self, table: Table, candidate: Index | None) -> tuple[Operation | None, str]:
        if table.kind == TableKind.PARTITIONED:
            return None, (
                f"A primary key of a partitioned table must include its partition key "
                f"({table.partition_key}); add one covering it on the parent."
            )
        if candidate is not None:
            # Dropping the constraint drops the index with it, so the rollback rebuilds the index.
            return AddPrimaryKeyUsingIndex(table.schema, table.name, f"{table.name}_pkey", candidate.name,
                                           candidate.definition), (
                f"The unique index {candidate.qualname} on NOT NULL columns can be promoted to the primary "
                "key without a rebuild."
            )
        taken = {c.name for c in self.ctx.snapshot.columns_of(table.key)}
        col = "id" if "id" not in taken else f"{table.name}_id"
        return AddIdentityPrimaryKey(table.schema, table.name, col), (
            "No unique NOT NULL key exists; adding an identity column rewrites the table under an ACCESS "
            "EXCLUSIVE lock, so schedule it in a maintenance window (or use a natural key if one exists)."
        )
