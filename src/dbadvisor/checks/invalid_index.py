"""invalid_index: indexes left INVALID by a failed CREATE INDEX CONCURRENTLY or REINDEX."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.model.ddl import ReindexIndex
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.model.indexing import drop_op


class InvalidIndex(Check):
    """Invalid index: a failed concurrent build leaves it behind; every write still maintains it, no
    query can use it, and a UNIQUE one enforces nothing.

    Bad::

        CREATE UNIQUE INDEX CONCURRENTLY t_code_key ON t (code);  -- fails on a duplicate, stays INVALID

    Good::

        REINDEX INDEX CONCURRENTLY t_code_key;  -- or DROP INDEX CONCURRENTLY t_code_key;
    """

    id = "invalid_index"
    name = "Invalid index"
    groups = ("hygiene", "indexes")
    severity = Severity.HIGH
    severity_range = (Severity.HIGH, Severity.HIGH)

    def run(self) -> Iterator[Finding]:
        violations = self.ctx.snapshot.unique_violations
        for index in self.ctx.snapshot.indexes:
            if index.is_valid:
                continue
            drop = self.ctx.dialect.sql(drop_op(index))
            duplicates = violations.get(index.qualname) if index.is_unique else None
            if duplicates:
                # A rebuild fails on the first duplicate: say so, and propose nothing that would fail or
                # drop the user's index (it may be the constraint they meant to have).
                advice = (f" A rebuild cannot succeed: {duplicates:,} key value(s) occur more than once. Remove "
                          "the duplicates first, then REINDEX; or drop the index if nothing needs it "
                          f"({drop}).")
                fix = None
            else:
                advice = (" Rebuild it; if the build failed on duplicate values, remove them first, or drop the "
                          f"index if nothing needs it ({drop}).")
                fix = ReindexIndex(index.schema, index.name)
            yield self.finding(
                index.qualname,
                title=f"Index {index.qualname} is INVALID",
                detail=(
                    f"{index.qualname} on {index.table_qualname} is invalid (left by a failed concurrent "
                    "build): writes still maintain it but no query uses it"
                    + (", and it does not enforce uniqueness" if index.is_unique else "") + "." + advice
                ),
                table=index.table_qualname,
                columns=index.key_labels,
                index=index.qualname,
                evidence={"definition": index.definition, "ready": index.is_ready, "unique": index.is_unique,
                          "size_bytes": index.size_bytes, "duplicate_keys": duplicates},
                fix=fix,
            )
