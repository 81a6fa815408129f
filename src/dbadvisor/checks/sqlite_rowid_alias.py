"""sqlite_rowid_alias: an integer primary key that is not the rowid, so it is stored (and looked up) twice."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import SQLITE, Check
from dbadvisor.model.findings import Finding, Severity

_INTEGERS = ("int", "integer", "bigint", "smallint", "tinyint", "mediumint", "int2", "int8", "unsigned big int")


class SqliteRowidAlias(Check):
    """Primary key that is not a rowid alias: only a column declared exactly ``INTEGER PRIMARY KEY`` becomes
    the table's rowid. ``INT PRIMARY KEY``, ``BIGINT PRIMARY KEY`` or ``INTEGER PRIMARY KEY DESC`` keep a
    separate rowid and a unique index beside it: every row's key is stored twice and each lookup by key
    goes through the index, then the table.

    Bad::

        CREATE TABLE holdings (id BIGINT PRIMARY KEY, ...);  -- sqlite_autoindex_holdings_1

    Good::

        CREATE TABLE holdings (id INTEGER PRIMARY KEY, ...);  -- id is the rowid
    """

    id = "sqlite_rowid_alias"
    name = "SQLite primary key that is not the rowid"
    groups = ("schema", "storage")
    dialects = frozenset({SQLITE})
    severity = Severity.LOW
    severity_range = (Severity.LOW, Severity.MEDIUM)
    options = {"min_rows": 10_000}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        for t in snap.tables:
            if t.reloptions.get("without_rowid"):
                continue
            pk = next((i for i in snap.indexes_of(t.key) if i.is_primary), None)
            if pk is None or len(pk.keys) != 1 or pk.keys[0].column is None:
                continue  # no separate key index: the key is the rowid (or there is none)
            column = snap.column(t.key, pk.keys[0].column)
            if column is None or column.type not in _INTEGERS:
                continue
            yield self.finding(
                t.qualname,
                title=f"{t.qualname}.{column.name} ({column.type.upper()} PRIMARY KEY) is not the rowid",
                detail=(f"{t.qualname}.{column.name} is declared {column.type.upper()} PRIMARY KEY, so SQLite keeps a "
                        f"rowid beside it and the unique index {pk.name} ({pk.size_bytes:,} bytes) to enforce it; "
                        "lookups by key read the index, then the table. Declared INTEGER PRIMARY KEY it would be the "
                        "rowid itself. Changing it means rebuilding the table (create the new one, copy, rename), "
                        "with foreign keys off for the copy."),
                severity=Severity.MEDIUM if t.rows >= self.opts["min_rows"] else Severity.LOW,
                table=t.qualname,
                columns=(column.name,),
                index=pk.qualname,
                evidence={"declared_type": column.type, "key_index": pk.name, "key_index_bytes": pk.size_bytes,
                          "rows": t.rows},
            )
