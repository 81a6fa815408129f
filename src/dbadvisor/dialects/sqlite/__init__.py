"""SQLite: the second dialect. Its rendering of the model's operations is here; opening a file read-only
(``connection``), its catalog (``catalog``) and costing on a private copy (``whatif``) beside it.

SQLite has no CONCURRENTLY (a write locks the whole file for its duration, readers go on in WAL mode),
indexes live in the table's schema (``CREATE INDEX main.name ON table``), and ANALYZE and VACUUM are
statements of their own.
"""

from __future__ import annotations

from functools import singledispatchmethod

from dbadvisor.dialects import Dialect, Statement
from dbadvisor.model.ddl import (
    AnalyzeTables,
    CreateIndex,
    DropIndex,
    IndexColumn,
    Operation,
    RecreateIndex,
    SetPragma,
    VacuumTable,
)


def quote(*parts: str) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _key(c: IndexColumn) -> str:
    out = quote(c.column) if c.column is not None else str(c.expression)  # SQLite's indexed-column is any expr
    return out + (" DESC" if c.descending else "")


class SqliteDialect(Dialect):
    name = "sqlite"
    sqlglot = "sqlite"

    def quote(self, *parts: str) -> str:
        return quote(*parts)

    def literal(self, value: object) -> str:
        return literal(value)

    @singledispatchmethod
    def statements(self, op: Operation) -> list[Statement]:
        raise NotImplementedError(f"SQLite cannot render {type(op).__name__}")

    @statements.register
    def _(self, op: CreateIndex) -> list[Statement]:
        text = (f"CREATE {'UNIQUE ' if op.unique else ''}INDEX IF NOT EXISTS {quote(op.schema, op.name)} "
                f"ON {quote(op.table)} ({', '.join(_key(c) for c in op.columns)})")
        if op.where:
            text += f" WHERE {op.where}"
        return [(text + ";", True)]

    @statements.register
    def _(self, op: DropIndex) -> list[Statement]:
        return [(f"DROP INDEX IF EXISTS {quote(op.schema, op.name)};", True)]

    @statements.register
    def _(self, op: RecreateIndex) -> list[Statement]:
        return [(op.definition.rstrip(";") + ";", True)]

    @statements.register
    def _(self, op: AnalyzeTables) -> list[Statement]:
        return [("ANALYZE;" if not op.tables else "\n".join(f"ANALYZE {quote(op.schema, t)};" for t in op.tables),
                 True)]

    @statements.register
    def _(self, op: VacuumTable) -> list[Statement]:
        return [("VACUUM;", False)]  # SQLite rebuilds the whole file: there is no per-table VACUUM

    @statements.register
    def _(self, op: SetPragma) -> list[Statement]:
        statements: list[Statement] = [(f"PRAGMA {op.name} = {literal(op.value)};", op.name != "journal_mode")]
        if op.name == "auto_vacuum":  # takes effect only when the file is rebuilt
            statements.append(("VACUUM;", False))
        return statements


DIALECT = SqliteDialect()
