"""Schema operations as data objects, in the manner of Alembic's operations.

A check that proposes a fix builds an operation; the operation knows its own reverse and renders itself
as SQL, so ``sql`` and ``rollback_sql`` can never disagree, and migrations (plain SQL or Alembic) are
rendered from the same objects. Identifiers always go through ``psycopg.sql``: a table called
``a"; drop table x;--`` stays a name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from psycopg import sql

NAMEDATALEN = 63  # PostgreSQL truncates identifiers longer than this many bytes


def ident(*parts: str) -> str:
    """A (possibly qualified) identifier, quoted for PostgreSQL."""
    return sql.Identifier(*parts).as_string()


def literal(value: object) -> str:
    return sql.Literal(value).as_string()


def index_name(table: str, labels: tuple[str, ...], suffix: str = "idx") -> str:
    """Deterministic index name, ``table_col1_col2_idx``, kept under PostgreSQL's 63-byte limit.

    Deterministic names make generated migrations idempotent (``IF NOT EXISTS``) and reruns stable.
    """
    words = "_".join(_name_word(x) for x in labels) or "expr"
    name = f"{table}_{words}_{suffix}"
    if len(name.encode()) <= NAMEDATALEN:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    head = name.encode()[: NAMEDATALEN - len(suffix) - 10].decode(errors="ignore")
    return f"{head}_{digest}_{suffix}"


def _name_word(label: str) -> str:
    word = "".join(ch if ch.isalnum() else "_" for ch in label.lower()).strip("_")
    while "__" in word:
        word = word.replace("__", "_")
    return word or "expr"


class Operation:
    """Base of all operations. ``transactional`` is False for statements that refuse a transaction block
    (CONCURRENTLY builds, VACUUM), which migrations must run in autocommit. ``kind`` names the operation
    in a saved report, so that ``migrations`` and ``apply`` rebuild the very object a check made."""

    kind: ClassVar[str] = ""
    transactional: bool = True

    def to_sql(self) -> str:
        raise NotImplementedError

    def reverse(self) -> Operation | None:
        """The operation that undoes this one, or None when it cannot or need not be undone."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """The operation as JSON-ready data (the report's ``fix`` field): its kind, fields and SQL."""
        out: dict[str, Any] = {"op": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [_plain(v) for v in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        reverse = self.reverse()
        out |= {"transactional": self.transactional, "sql": self.to_sql(),
                "reverse_sql": reverse.to_sql() if reverse is not None else None}
        return out


def _plain(value: object) -> object:
    if isinstance(value, IndexColumn):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    return value


def operation_from_dict(data: Mapping[str, Any]) -> Operation:
    """Rebuild an operation saved by ``Operation.to_dict``; unknown kinds are an error, not a guess."""
    kind = data.get("op")
    cls = OPERATIONS.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown operation {kind!r}")
    args: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name == "columns":
            value = tuple(IndexColumn(**c) for c in value)
        elif isinstance(value, list):
            value = tuple(value)
        args[f.name] = value
    return cls(**args)


class _Concurrent(Operation):
    """An operation that may run CONCURRENTLY, and then refuses a transaction block."""

    concurrently: bool

    @property
    def transactional(self) -> bool:  # type: ignore[override]
        return not self.concurrently


@dataclass(frozen=True)
class IndexColumn:
    """One key of an index to create: a column name, or a raw expression (already valid SQL)."""

    column: str | None = None
    expression: str | None = None
    descending: bool = False
    nulls_first: bool | None = None
    opclass: str | None = None

    def render(self) -> sql.Composable:
        if self.column is not None:
            out: sql.Composable = sql.Identifier(self.column)
        elif self.expression is not None:
            out = sql.SQL("({})").format(sql.SQL(self.expression))
        else:
            raise ValueError("IndexColumn needs a column or an expression")
        if self.opclass:
            out = sql.SQL("{} {}").format(out, sql.SQL(self.opclass))
        if self.descending:
            out = sql.SQL("{} DESC").format(out)
        if self.nulls_first is not None:
            out = sql.SQL("{} NULLS {}").format(out, sql.SQL("FIRST" if self.nulls_first else "LAST"))
        return out

    @property
    def label(self) -> str:
        return self.column or self.expression or ""


@dataclass(frozen=True)
class CreateIndex(_Concurrent):
    kind = "create_index"
    schema: str
    table: str
    name: str
    columns: tuple[IndexColumn, ...]
    method: str = "btree"
    include: tuple[str, ...] = ()
    where: str | None = None
    unique: bool = False
    concurrently: bool = True

    def to_sql(self) -> str:
        parts: list[sql.Composable] = [sql.SQL("CREATE UNIQUE INDEX" if self.unique else "CREATE INDEX")]
        if self.concurrently:
            parts.append(sql.SQL("CONCURRENTLY"))
        parts.append(sql.SQL("IF NOT EXISTS {} ON {}").format(
            sql.Identifier(self.name), sql.Identifier(self.schema, self.table)))
        if self.method != "btree":
            parts.append(sql.SQL("USING {}").format(sql.SQL(self.method)))
        parts.append(sql.SQL("({})").format(sql.SQL(", ").join(c.render() for c in self.columns)))
        if self.include:
            parts.append(sql.SQL("INCLUDE ({})").format(sql.SQL(", ").join(map(sql.Identifier, self.include))))
        if self.where:
            parts.append(sql.SQL("WHERE {}").format(sql.SQL(self.where)))
        return sql.SQL(" ").join(parts).as_string() + ";"

    def reverse(self) -> Operation:
        return DropIndex(self.schema, self.name, concurrently=self.concurrently)


@dataclass(frozen=True)
class DropIndex(_Concurrent):
    kind = "drop_index"
    schema: str
    name: str
    concurrently: bool = True
    definition: str | None = None  # pg_get_indexdef of the index, so the drop can be reversed

    def to_sql(self) -> str:
        verb = "DROP INDEX CONCURRENTLY IF EXISTS {}" if self.concurrently else "DROP INDEX IF EXISTS {}"
        return sql.SQL(verb).format(sql.Identifier(self.schema, self.name)).as_string() + ";"

    def reverse(self) -> Operation | None:
        if self.definition is None:
            return None
        return RawSQL(concurrent_definition(self.definition) + ";", transactional=False)


def concurrent_definition(definition: str) -> str:
    """Turn pg_get_indexdef output into a CONCURRENTLY build (the catalog never prints CONCURRENTLY)."""
    for prefix in ("CREATE UNIQUE INDEX ", "CREATE INDEX "):
        if definition.startswith(prefix):
            return f"{prefix}CONCURRENTLY {definition[len(prefix):]}"
    return definition


@dataclass(frozen=True)
class ReindexIndex(_Concurrent):
    kind = "reindex_index"
    schema: str
    name: str
    concurrently: bool = True

    def to_sql(self) -> str:
        verb = "REINDEX INDEX CONCURRENTLY {}" if self.concurrently else "REINDEX INDEX {}"
        return sql.SQL(verb).format(sql.Identifier(self.schema, self.name)).as_string() + ";"


@dataclass(frozen=True)
class SetTableOptions(Operation):
    """ALTER TABLE ... SET (storage parameters); reversed by a RESET of the same keys, or by setting
    back the values the table had before."""

    kind = "set_table_options"
    schema: str
    table: str
    options: Mapping[str, str]
    previous: Mapping[str, str] = field(default_factory=dict)

    def to_sql(self) -> str:
        items = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.SQL(k), sql.SQL(v)) for k, v in self.options.items()
        )
        return sql.SQL("ALTER TABLE {} SET ({})").format(
            sql.Identifier(self.schema, self.table), items).as_string() + ";"

    def reverse(self) -> Operation:
        restore = {k: self.previous[k] for k in self.options if k in self.previous}
        reset = tuple(k for k in self.options if k not in self.previous)
        return ResetTableOptions(self.schema, self.table, reset, restore)


@dataclass(frozen=True)
class ResetTableOptions(Operation):
    kind = "reset_table_options"
    schema: str
    table: str
    keys: tuple[str, ...]
    restore: Mapping[str, str] = field(default_factory=dict)

    def to_sql(self) -> str:
        out = []
        target = sql.Identifier(self.schema, self.table)
        if self.keys:
            out.append(sql.SQL("ALTER TABLE {} RESET ({})").format(
                target, sql.SQL(", ").join(sql.SQL(k) for k in self.keys)).as_string() + ";")
        if self.restore:
            out.append(SetTableOptions(self.schema, self.table, self.restore).to_sql())
        return "\n".join(out)


@dataclass(frozen=True)
class RawSQL(Operation):
    """SQL a check writes by hand (VACUUM, ALTER ... TYPE): rendered as is, reversed only if told how."""

    kind = "raw_sql"
    text: str
    reverse_text: str | None = None
    transactional: bool = True

    def to_sql(self) -> str:
        return self.text

    def reverse(self) -> Operation | None:
        if self.reverse_text is None:
            return None
        return RawSQL(self.reverse_text, self.text, self.transactional)


OPERATIONS: dict[str, type[Operation]] = {
    cls.kind: cls for cls in (CreateIndex, DropIndex, ReindexIndex, SetTableOptions, ResetTableOptions, RawSQL)
}
