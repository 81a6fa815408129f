"""The model's operations in PostgreSQL's SQL, through ``psycopg.sql`` composition: every name is an
``Identifier``, every value a validated literal or word, so nothing from a report reaches SQL unquoted.

Concurrent builds and drops (and VACUUM) refuse a transaction block: their statements say so, and
callers run them in autocommit.
"""

from __future__ import annotations

from functools import singledispatchmethod

from psycopg import sql

from dbadvisor.dialects import Dialect, Statement
from dbadvisor.dialects.postgres import partitioning
from dbadvisor.model.ddl import (
    AddIdentityPrimaryKey,
    AddPrimaryKeyUsingIndex,
    AlterColumnType,
    AlterPolicy,
    AlterSequenceType,
    AlterSystemReset,
    AlterSystemSet,
    AnalyzeTables,
    Batch,
    CreateExtension,
    CreateIndex,
    DropColumn,
    DropExtension,
    DropIndex,
    DropPrimaryKey,
    DropRetention,
    IndexColumn,
    Operation,
    PartitionTable,
    RecreateIndex,
    ReindexIndex,
    ResetTableOptions,
    SetRetention,
    SetTableOptions,
    UnpartitionTable,
    VacuumTable,
)


def concurrent_definition(definition: str) -> str:
    """Turn pg_get_indexdef output into a CONCURRENTLY build (the catalog never prints CONCURRENTLY)."""
    for prefix in ("CREATE UNIQUE INDEX ", "CREATE INDEX "):
        if definition.startswith(prefix):
            return f"{prefix}CONCURRENTLY {definition[len(prefix):]}"
    return definition


def _names(template: str, *names: tuple[str, ...]) -> str:
    """``template`` with each ``{}`` filled by a quoted (possibly qualified) name."""
    return sql.SQL(template).format(*(sql.Identifier(*n) for n in names)).as_string()


def _key(c: IndexColumn) -> sql.Composable:
    if c.column is not None:
        out: sql.Composable = sql.Identifier(c.column)
    elif c.expression is not None:
        out = sql.SQL("({})").format(sql.SQL(c.expression))
    else:
        raise ValueError("IndexColumn needs a column or an expression")
    if c.opclass:
        out = sql.SQL("{} {}").format(out, sql.SQL(c.opclass))
    if c.descending:
        out = sql.SQL("{} DESC").format(out)
    if c.nulls_first is not None:
        out = sql.SQL("{} NULLS {}").format(out, sql.SQL("FIRST" if c.nulls_first else "LAST"))
    return out


def _set_options(schema: str, table: str, options: dict[str, str]) -> str:
    items = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.SQL(k), sql.SQL(v)) for k, v in options.items())
    return sql.SQL("ALTER TABLE {} SET ({})").format(sql.Identifier(schema, table), items).as_string() + ";"


class PostgresDialect(Dialect):
    name = "postgresql"
    sqlglot = "postgres"

    def quote(self, *parts: str) -> str:
        return sql.Identifier(*parts).as_string()

    def literal(self, value: object) -> str:
        return sql.Literal(value).as_string()

    @singledispatchmethod
    def statements(self, op: Operation) -> list[Statement]:
        raise NotImplementedError(f"PostgreSQL cannot render {type(op).__name__}")

    @statements.register
    def _(self, op: CreateIndex) -> list[Statement]:
        parts: list[sql.Composable] = [sql.SQL("CREATE UNIQUE INDEX" if op.unique else "CREATE INDEX")]
        if op.concurrently:
            parts.append(sql.SQL("CONCURRENTLY"))
        parts.append(sql.SQL("IF NOT EXISTS {} ON {}").format(
            sql.Identifier(op.name), sql.Identifier(op.schema, op.table)))
        if op.method != "btree":
            parts.append(sql.SQL("USING {}").format(sql.SQL(op.method)))
        parts.append(sql.SQL("({})").format(sql.SQL(", ").join(_key(c) for c in op.columns)))
        if op.include:
            parts.append(sql.SQL("INCLUDE ({})").format(sql.SQL(", ").join(map(sql.Identifier, op.include))))
        if op.where:
            parts.append(sql.SQL("WHERE {}").format(sql.SQL(op.where)))
        return [(sql.SQL(" ").join(parts).as_string() + ";", not op.concurrently)]

    @statements.register
    def _(self, op: DropIndex) -> list[Statement]:
        verb = "DROP INDEX CONCURRENTLY IF EXISTS {};" if op.concurrently else "DROP INDEX IF EXISTS {};"
        return [(_names(verb, (op.schema, op.name)), not op.concurrently)]

    @statements.register
    def _(self, op: RecreateIndex) -> list[Statement]:
        return [(concurrent_definition(op.definition) + ";", False)]

    @statements.register
    def _(self, op: ReindexIndex) -> list[Statement]:
        verb = "REINDEX INDEX CONCURRENTLY {};" if op.concurrently else "REINDEX INDEX {};"
        return [(_names(verb, (op.schema, op.name)), not op.concurrently)]

    @statements.register
    def _(self, op: SetTableOptions) -> list[Statement]:
        return [(_set_options(op.schema, op.table, dict(op.options)), True)]

    @statements.register
    def _(self, op: ResetTableOptions) -> list[Statement]:
        out: list[Statement] = []
        if op.keys:
            out.append((sql.SQL("ALTER TABLE {} RESET ({})").format(
                sql.Identifier(op.schema, op.table),
                sql.SQL(", ").join(sql.SQL(k) for k in op.keys)).as_string() + ";", True))
        if op.restore:
            out.append((_set_options(op.schema, op.table, dict(op.restore)), True))
        return out

    @statements.register
    def _(self, op: VacuumTable) -> list[Statement]:
        return [(_names("VACUUM (VERBOSE, ANALYZE) {};", (op.schema, op.table)), False)]

    @statements.register
    def _(self, op: AddPrimaryKeyUsingIndex) -> list[Statement]:
        return [(_names("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {};", (op.schema, op.table),
                        (op.constraint,), (op.index,)), True)]

    @statements.register
    def _(self, op: DropPrimaryKey) -> list[Statement]:
        return [(_names("ALTER TABLE {} DROP CONSTRAINT {};", (op.schema, op.table), (op.constraint,)), True),
                (concurrent_definition(op.index_definition) + ";", False)]

    @statements.register
    def _(self, op: AddIdentityPrimaryKey) -> list[Statement]:
        return [(_names("ALTER TABLE {} ADD COLUMN {} bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;",
                        (op.schema, op.table), (op.column,)), True)]

    @statements.register
    def _(self, op: DropColumn) -> list[Statement]:
        return [(_names("ALTER TABLE {} DROP COLUMN {};", (op.schema, op.table), (op.column,)), True)]

    @statements.register
    def _(self, op: Batch) -> list[Statement]:
        return [s for step in op.steps for s in self.statements(step)]

    @statements.register
    def _(self, op: AlterColumnType) -> list[Statement]:
        return [(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {};").format(
            sql.Identifier(op.schema, op.table), sql.Identifier(op.column), sql.SQL(op.type)).as_string(), True)]

    @statements.register
    def _(self, op: AlterSequenceType) -> list[Statement]:
        return [(sql.SQL("ALTER SEQUENCE {} AS {};").format(
            sql.Identifier(op.schema, op.name), sql.SQL(op.type)).as_string(), True)]

    @statements.register
    def _(self, op: AlterPolicy) -> list[Statement]:
        parts = [sql.SQL("ALTER POLICY {} ON {}").format(sql.Identifier(op.name), sql.Identifier(op.schema, op.table))]
        if op.using is not None:
            parts.append(sql.SQL("USING ({})").format(sql.SQL(op.using)))
        if op.with_check is not None:
            parts.append(sql.SQL("WITH CHECK ({})").format(sql.SQL(op.with_check)))
        return [(sql.SQL(" ").join(parts).as_string() + ";", True)]

    @statements.register
    def _(self, op: CreateExtension) -> list[Statement]:
        return [(_names("CREATE EXTENSION IF NOT EXISTS {};", (op.name,)), True)]

    @statements.register
    def _(self, op: DropExtension) -> list[Statement]:
        return [(_names("DROP EXTENSION IF EXISTS {};", (op.name,)), True)]

    @statements.register
    def _(self, op: AlterSystemSet) -> list[Statement]:
        out = [(sql.SQL("ALTER SYSTEM SET {} = {};").format(sql.SQL(op.name), sql.Literal(op.value)).as_string(),
                False)]  # ALTER SYSTEM refuses a transaction block
        return out + _reload(op.reload)

    @statements.register
    def _(self, op: AlterSystemReset) -> list[Statement]:
        return [(sql.SQL("ALTER SYSTEM RESET {};").format(sql.SQL(op.name)).as_string(), False), *_reload(op.reload)]

    @statements.register
    def _(self, op: AnalyzeTables) -> list[Statement]:
        if not op.tables:
            return [("ANALYZE;", True)]
        return [(sql.SQL("ANALYZE {};").format(sql.Identifier(op.schema, t)).as_string(), True) for t in op.tables]

    @statements.register
    def _(self, op: PartitionTable) -> list[Statement]:
        return [(text, True) for text in partitioning.offline(op)]

    @statements.register
    def _(self, op: UnpartitionTable) -> list[Statement]:
        return [(text, True) for text in partitioning.offline(op)]

    @statements.register
    def _(self, op: SetRetention) -> list[Statement]:
        values = sql.SQL(", ").join(map(sql.Literal, (op.schema, op.table, op.column, op.keep, op.method,
                                                      op.batch_rows)))
        return [(partitioning.POLICY_SCHEMA, True), (partitioning.RETENTION_TABLE, True),
                (sql.SQL("INSERT INTO dbadvisor.retention (schema_name, table_name, column_name, keep, method, "
                         "batch_rows) VALUES ({}) ON CONFLICT (schema_name, table_name) DO UPDATE SET "
                         "column_name = EXCLUDED.column_name, keep = EXCLUDED.keep, method = EXCLUDED.method, "
                         "batch_rows = EXCLUDED.batch_rows, set_at = now();").format(values).as_string(), True),
                *([(partitioning.partman_retention(op.partman_schema, op.schema, op.table, op.keep), True)]
                  if op.partman_schema else [])]

    @statements.register
    def _(self, op: DropRetention) -> list[Statement]:
        return [(partitioning.forget("retention", op.schema, op.table), True),
                *([(partitioning.partman_retention(op.partman_schema, op.schema, op.table, None), True)]
                  if op.partman_schema else [])]


def _reload(reload: bool) -> list[Statement]:
    return [("SELECT pg_reload_conf();", True)] if reload else []


DIALECT = PostgresDialect()
