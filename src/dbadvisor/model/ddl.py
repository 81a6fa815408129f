"""Schema operations as data objects, in the manner of Alembic's operations.

A check that proposes a fix builds an operation; the operation is pure data that knows its own reverse.
Rendering it as SQL belongs to the dialect (``dbadvisor.dialects``, as Alembic dispatches rendering per
dialect impl), so ``sql`` and ``rollback_sql`` are both derived from one object and can never disagree,
migrations (plain SQL or Alembic) are rendered from the same objects, and a second dialect renders the
same operations its own way. Identifiers are always quoted by the dialect: a table called
``a"; drop table x;--`` stays a name.

A report is data, not code. An operation read back from a report (``operation_from_dict``) is validated
field by field against its schema: names are names, keywords come from a closed list or are bare words,
numbers are numbers, and the few SQL fragments (an index expression or predicate, the definition a drop
keeps) must each be one expression or one CREATE INDEX (``model.sqltext``). The dialect then checks that
the ``sql`` the report shows is what the fields render, so what a person reviewed is what runs. There is
no raw-SQL operation: what cannot be said as a typed operation is advice in a finding's text, never a fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

from dbadvisor.model.sqltext import (
    NAMEDATALEN,
    FragmentError,
    expression,
    foreign_key_definition,
    identifier,
    index_definition,
    iso_date,
    type_name,
    word,
)
from dbadvisor.model.timeseries import PARTITION_INTERVALS, interval_days, normal_interval

__all__ = ["NAMEDATALEN", "FragmentError"]

INDEX_METHODS = ("btree", "hash", "gist", "gin", "spgist", "brin")
_OPTION_VALUE = re.compile(r"^(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false|on|off)$", re.IGNORECASE)
DERIVED = ("transactional", "sql", "reverse_sql")  # what a dialect adds to a saved fix


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
    # Case is kept: a column "userId" gives Account_userId_idx, as ORMs name them (PostgreSQL names are
    # case-sensitive once quoted, and every generated name is quoted).
    word_ = "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")
    while "__" in word_:
        word_ = word_.replace("__", "_")
    return word_ or "expr"


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise FragmentError(f"{what} must be true or false")
    return value


def _option_value(value: object, what: str) -> str:
    if not isinstance(value, str) or not _OPTION_VALUE.match(value.strip("'")):
        raise FragmentError(f"{what} must be a number or a boolean, not {value!r}")
    return value


def _options(value: object, what: str) -> None:
    if not isinstance(value, Mapping):
        raise FragmentError(f"{what} must be an object of storage parameters")
    for k, v in value.items():
        word(k, f"{what} key", qualified=True)
        _option_value(v, f"{what}[{k}]")


def _names(*pairs: tuple[object, str]) -> None:
    for value, what in pairs:
        identifier(value, what)


class Operation:
    """Base of all operations: a ``kind`` (its name in a saved report), its fields, its reverse, and
    the validation of its fields. How it is said in SQL is the dialect's business."""

    kind: ClassVar[str] = ""

    def reverse(self) -> Operation | None:
        """The operation that undoes this one, or None when it cannot or need not be undone."""
        return None

    def validate(self) -> None:
        """Raise ``FragmentError`` unless every field is what the operation's schema allows."""
        raise NotImplementedError

    def key(self) -> str:
        """A canonical text of the operation (kind and fields): two checks proposing the very same
        operation give the same key, whatever the dialect renders of it."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        """The operation's kind and fields as JSON-ready data (a dialect adds the rendered SQL)."""
        out: dict[str, Any] = {"op": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [_plain(v) for v in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out


def _plain(value: object) -> object:
    if isinstance(value, IndexColumn):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, Operation):
        return value.to_dict()
    return value


def operation_from_dict(data: Mapping[str, Any]) -> Operation:
    """Rebuild and validate an operation saved by ``Operation.to_dict`` (or a dialect's fix dict).

    Unknown kinds and unknown fields are refused, and every field is checked against the operation's
    schema; whether the saved SQL matches the fields is the dialect's check (``Dialect.check_saved``)."""
    if not isinstance(data, Mapping):
        raise FragmentError("a fix must be an object")
    kind = data.get("op")
    cls = OPERATIONS.get(str(kind))
    if cls is None:
        raise FragmentError(f"unknown operation {kind!r}")
    names = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    extra = sorted(set(data) - set(names) - {"op", *DERIVED})
    if extra:
        raise FragmentError(f"{kind}: unknown field(s) {', '.join(extra)}")
    args: dict[str, Any] = {}
    for name, f in names.items():
        if name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise FragmentError(f"{kind}: field {name} is missing")
            continue
        value = data[name]
        if name == "columns":
            value = _index_columns(value)
        elif name == "steps" and cls is Batch:
            if not isinstance(value, list | tuple) or not value:
                raise FragmentError("batch: steps must be a non-empty list")
            value = tuple(operation_from_dict(v) for v in value)
        elif isinstance(value, list):
            value = tuple(value)
        args[name] = value
    op = cls(**args)
    op.validate()
    return op


def _index_columns(value: object) -> tuple[IndexColumn, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise FragmentError("create_index: columns must be a non-empty list")
    out = []
    allowed = {f.name for f in fields(IndexColumn)}
    for c in value:
        if not isinstance(c, Mapping) or set(c) - allowed:
            raise FragmentError(f"create_index: a column must be an object with fields {sorted(allowed)}")
        out.append(IndexColumn(**c))
    return tuple(out)


@dataclass(frozen=True)
class IndexColumn:
    """One key of an index to create: a column name, or an expression (validated as one, see sqltext)."""

    column: str | None = None
    expression: str | None = None
    descending: bool = False
    nulls_first: bool | None = None
    opclass: str | None = None

    def validate(self) -> None:
        if (self.column is None) == (self.expression is None):
            raise FragmentError("an index key is a column or an expression, exactly one")
        if self.column is not None:
            identifier(self.column, "index column")
        else:
            expression(self.expression, "index expression")
        _flag(self.descending, "descending")
        if self.nulls_first is not None:
            _flag(self.nulls_first, "nulls_first")
        if self.opclass is not None:
            word(self.opclass, "opclass")

    @property
    def label(self) -> str:
        return self.column or self.expression or ""


@dataclass(frozen=True)
class CreateIndex(Operation):
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

    def reverse(self) -> Operation:
        return DropIndex(self.schema, self.name, concurrently=self.concurrently)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"), (self.name, "index name"))
        if not isinstance(self.columns, tuple) or not self.columns:
            raise FragmentError("an index needs at least one key")
        for c in self.columns:
            if not isinstance(c, IndexColumn):
                raise FragmentError("an index key must be an object")
            c.validate()
        if self.method not in INDEX_METHODS:
            raise FragmentError(f"index method must be one of {', '.join(INDEX_METHODS)}, not {self.method!r}")
        for col in self.include:
            identifier(col, "INCLUDE column")
        if self.where is not None:
            expression(self.where, "index predicate")
        _flag(self.unique, "unique")
        _flag(self.concurrently, "concurrently")


@dataclass(frozen=True)
class DropIndex(Operation):
    kind = "drop_index"
    schema: str
    name: str
    concurrently: bool = True
    definition: str | None = None  # the catalog's definition of the index, so the drop can be reversed

    def reverse(self) -> Operation | None:
        if self.definition is None:
            return None
        return RecreateIndex(self.schema, self.name, self.definition)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.name, "index name"))
        _flag(self.concurrently, "concurrently")
        if self.definition is not None:
            index_definition(self.definition, "definition")


@dataclass(frozen=True)
class RecreateIndex(Operation):
    """Build again, concurrently, an index a drop removed, from the definition the catalog printed."""

    kind = "recreate_index"
    schema: str
    name: str
    definition: str

    def reverse(self) -> Operation:
        return DropIndex(self.schema, self.name, definition=self.definition)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.name, "index name"))
        index_definition(self.definition, "definition")


@dataclass(frozen=True)
class ReindexIndex(Operation):
    kind = "reindex_index"
    schema: str
    name: str
    concurrently: bool = True

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.name, "index name"))
        _flag(self.concurrently, "concurrently")


@dataclass(frozen=True)
class SetTableOptions(Operation):
    """ALTER TABLE ... SET (storage parameters); reversed by a RESET of the same keys, or by setting
    back the values the table had before."""

    kind = "set_table_options"
    schema: str
    table: str
    options: Mapping[str, str]
    previous: Mapping[str, str] = field(default_factory=dict)

    def reverse(self) -> Operation:
        restore = {k: self.previous[k] for k in self.options if k in self.previous}
        reset = tuple(k for k in self.options if k not in self.previous)
        return ResetTableOptions(self.schema, self.table, reset, restore)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"))
        _options(self.options, "options")
        if not self.options:
            raise FragmentError("options must name at least one storage parameter")
        _options(self.previous, "previous")


@dataclass(frozen=True)
class ResetTableOptions(Operation):
    kind = "reset_table_options"
    schema: str
    table: str
    keys: tuple[str, ...]
    restore: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"))
        for k in self.keys:
            word(k, "storage parameter", qualified=True)
        _options(self.restore, "restore")


@dataclass(frozen=True)
class VacuumTable(Operation):
    """VACUUM (with ANALYZE) of one table: makes dead space reusable; nothing to undo."""

    kind = "vacuum_table"
    schema: str
    table: str

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"))


@dataclass(frozen=True)
class AddPrimaryKeyUsingIndex(Operation):
    """Promote a unique index on NOT NULL columns to the primary key, without a rebuild."""

    kind = "add_primary_key_using_index"
    schema: str
    table: str
    constraint: str
    index: str
    index_definition: str  # so the reverse can rebuild the index that dropping the constraint removes

    def reverse(self) -> Operation:
        return DropPrimaryKey(self.schema, self.table, self.constraint, self.index, self.index_definition)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"), (self.constraint, "constraint"), (self.index, "index"))
        index_definition(self.index_definition, "index_definition")


@dataclass(frozen=True)
class DropPrimaryKey(Operation):
    """Drop a primary key constraint (its index goes with it), then rebuild that index concurrently."""

    kind = "drop_primary_key"
    schema: str
    table: str
    constraint: str
    index: str
    index_definition: str

    def reverse(self) -> Operation:
        return AddPrimaryKeyUsingIndex(self.schema, self.table, self.constraint, self.index, self.index_definition)

    validate = AddPrimaryKeyUsingIndex.validate


@dataclass(frozen=True)
class AddIdentityPrimaryKey(Operation):
    """A new ``bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY`` column (rewrites the table)."""

    kind = "add_identity_primary_key"
    schema: str
    table: str
    column: str

    def reverse(self) -> Operation:
        return DropColumn(self.schema, self.table, self.column)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"), (self.column, "column"))


@dataclass(frozen=True)
class DropColumn(Operation):
    kind = "drop_column"
    schema: str
    table: str
    column: str

    validate = AddIdentityPrimaryKey.validate


@dataclass(frozen=True)
class Batch(Operation):
    """Several operations that make one fix (widen a column, the columns that reference it, then its
    sequence), run in order; reversed in the opposite order, when every step can be."""

    kind = "batch"
    steps: tuple[Operation, ...]

    def reverse(self) -> Operation | None:
        back = [s.reverse() for s in reversed(self.steps)]
        return Batch(tuple(b for b in back if b is not None)) if all(b is not None for b in back) else None

    def validate(self) -> None:
        if not isinstance(self.steps, tuple) or not self.steps:
            raise FragmentError("batch: steps must be a non-empty list")
        for step in self.steps:
            if isinstance(step, Batch) or not isinstance(step, Operation):
                raise FragmentError("batch: a step must be a single operation")
            step.validate()


@dataclass(frozen=True)
class AlterColumnType(Operation):
    """ALTER TABLE ... ALTER COLUMN ... TYPE (rewrites the table under an ACCESS EXCLUSIVE lock)."""

    kind = "alter_column_type"
    schema: str
    table: str
    column: str
    type: str
    previous_type: str

    def reverse(self) -> Operation:
        return AlterColumnType(self.schema, self.table, self.column, self.previous_type, self.type)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"), (self.column, "column"))
        type_name(self.type, "type")
        type_name(self.previous_type, "previous_type")


SEQUENCE_TYPES = ("smallint", "integer", "bigint")


@dataclass(frozen=True)
class AlterSequenceType(Operation):
    kind = "alter_sequence_type"
    schema: str
    name: str
    type: str
    previous_type: str

    def reverse(self) -> Operation:
        return AlterSequenceType(self.schema, self.name, self.previous_type, self.type)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.name, "sequence"))
        for t in (self.type, self.previous_type):
            if t not in SEQUENCE_TYPES:
                raise FragmentError(f"a sequence type is one of {', '.join(SEQUENCE_TYPES)}, not {t!r}")


@dataclass(frozen=True)
class AlterPolicy(Operation):
    """New USING / WITH CHECK expressions for a row-level security policy; the previous ones are kept
    so the change can be undone."""

    kind = "alter_policy"
    schema: str
    table: str
    name: str
    using: str | None = None
    with_check: str | None = None
    previous_using: str | None = None
    previous_with_check: str | None = None

    def reverse(self) -> Operation:
        return AlterPolicy(self.schema, self.table, self.name,
                           self.previous_using if self.using is not None else None,
                           self.previous_with_check if self.with_check is not None else None,
                           self.using, self.with_check)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"), (self.name, "policy"))
        if self.using is None and self.with_check is None:
            raise FragmentError("alter_policy changes USING, WITH CHECK or both")
        for text, what in ((self.using, "using"), (self.with_check, "with_check"),
                           (self.previous_using, "previous_using"), (self.previous_with_check, "previous_with_check")):
            if text is not None:
                expression(text, what, subqueries=True)


@dataclass(frozen=True)
class CreateExtension(Operation):
    kind = "create_extension"
    name: str

    def reverse(self) -> Operation:
        return DropExtension(self.name)

    def validate(self) -> None:
        identifier(self.name, "extension")


@dataclass(frozen=True)
class DropExtension(Operation):
    kind = "drop_extension"
    name: str

    validate = CreateExtension.validate


@dataclass(frozen=True)
class AlterSystemSet(Operation):
    """ALTER SYSTEM SET a server setting (reversed to its previous value, or RESET when it had none);
    ``reload`` asks the server to reread its configuration, ``restart`` says the change needs a restart."""

    kind = "alter_system_set"
    name: str
    value: str
    previous: str | None = None
    reload: bool = True
    restart: bool = False

    def reverse(self) -> Operation:
        if self.previous is None:
            return AlterSystemReset(self.name, self.reload, self.restart)
        return AlterSystemSet(self.name, self.previous, self.value, self.reload, self.restart)

    def validate(self) -> None:
        word(self.name, "setting", qualified=True)
        for value, what in ((self.value, "value"), (self.previous, "previous")):
            if value is not None and (not isinstance(value, str) or "\x00" in value):
                raise FragmentError(f"{what} must be text")
        _flag(self.reload, "reload")
        _flag(self.restart, "restart")


@dataclass(frozen=True)
class AlterSystemReset(Operation):
    kind = "alter_system_reset"
    name: str
    reload: bool = True
    restart: bool = False

    def validate(self) -> None:
        word(self.name, "setting", qualified=True)
        _flag(self.reload, "reload")
        _flag(self.restart, "restart")


RETENTION_METHODS = ("drop_partitions", "delete")


def side_name(table: str, role: str) -> str:
    """The name of a table's stand-in during a rebuild (``events__dbadvisor_new``), within the name limit."""
    suffix = f"__dbadvisor_{role}"
    return table.encode()[: NAMEDATALEN - len(suffix)].decode(errors="ignore") + suffix


@dataclass(frozen=True)
class RebuildTable(Operation):
    """Rebuild a table under its own name with another primary key, partitioned by RANGE on ``column``
    or plain again: the rows, defaults, identity and serial values, CHECK constraints, grants, indexes
    (``indexes``: their definitions) and outgoing foreign keys (``foreign_keys``) carry over.

    As a migration it is one transaction holding the table's ACCESS EXCLUSIVE lock while the rows are
    copied; ``dbadvisor apply`` does it online instead (a shadow table, a capture trigger, a batched
    backfill, then a short swap)."""

    schema: str
    table: str
    column: str  # the partition key
    interval: str
    start: str  # the first partition's lower bound: the oldest row's, truncated to the interval
    premake: int  # partitions made ahead of now
    primary_key: tuple[str, ...]  # the new key; the partition key must be in it
    previous_primary_key: tuple[str, ...]
    constraint: str  # the primary key constraint's name, kept
    copy_columns: tuple[str, ...]  # the columns rows are copied by (not the generated ones)
    indexes: tuple[str, ...] = ()  # CREATE INDEX definitions of the other indexes, recreated as they were
    foreign_keys: tuple[str, ...] = ()  # "name FOREIGN KEY (...) REFERENCES ..." of outgoing foreign keys
    partman_schema: str | None = None  # pg_partman (installed in that schema) keeps the partitions, not us
    cron: bool = False  # pg_cron runs the maintenance (partitions ahead) inside the server

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"), (self.column, "column"),
               (self.constraint, "constraint"))
        if self.interval not in PARTITION_INTERVALS:
            raise FragmentError(f"interval must be one of {', '.join(PARTITION_INTERVALS)}, not {self.interval!r}")
        iso_date(self.start, "start")
        if not isinstance(self.premake, int) or isinstance(self.premake, bool) or not 0 <= self.premake <= 366:
            raise FragmentError("premake must be a whole number of partitions from 0 to 366")
        for group, what in ((self.primary_key, "primary_key"), (self.previous_primary_key, "previous_primary_key"),
                            (self.copy_columns, "copy_columns")):
            if not isinstance(group, tuple) or not group:
                raise FragmentError(f"{what} must be a non-empty list of columns")
            for name in group:
                identifier(name, what)
        if self.partitioned and self.column not in self.primary_key:
            raise FragmentError("the primary key of a partitioned table must include the partition key")
        for definition in self.indexes:
            index_definition(definition, "index definition")
        if self.partman_schema is not None:
            identifier(self.partman_schema, "partman_schema")
        _flag(self.cron, "cron")
        for fk in self.foreign_keys:
            if not isinstance(fk, str) or " " not in fk:
                raise FragmentError("a foreign key is its name, a space and its definition")
            name, definition = fk.split(" ", 1)
            identifier(name, "foreign key name")
            foreign_key_definition(definition, "foreign key")

    partitioned: ClassVar[bool] = True

    def _as(self, cls: type[RebuildTable]) -> RebuildTable:
        """The same rebuild the other way: the keys swapped, everything else kept."""
        return cls(**{f.name: getattr(self, f.name) for f in fields(self)} | {
            "primary_key": self.previous_primary_key, "previous_primary_key": self.primary_key})


@dataclass(frozen=True)
class PartitionTable(RebuildTable):
    kind = "partition_table"
    partitioned = True

    def reverse(self) -> Operation:
        return self._as(UnpartitionTable)


@dataclass(frozen=True)
class UnpartitionTable(RebuildTable):
    kind = "unpartition_table"
    partitioned = False

    def reverse(self) -> Operation:
        return self._as(PartitionTable)


@dataclass(frozen=True)
class SetRetention(Operation):
    """Keep ``keep`` of a table's rows by ``column``: a policy recorded in the target (table
    ``dbadvisor.retention``) that ``dbadvisor apply`` and ``dbadvisor maintain`` enforce, by dropping
    whole partitions older than the horizon or by batched deletes. The reverse removes the policy; rows
    already removed come back only from their archive."""

    kind = "set_retention"
    schema: str
    table: str
    column: str
    keep: str
    method: str = "delete"
    batch_rows: int = 10_000
    partman_schema: str | None = None  # pg_partman keeps the table's partitions: its retention is set too

    def reverse(self) -> Operation:
        return DropRetention(self.schema, self.table, self.partman_schema)

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"), (self.column, "column"))
        interval_days(self.keep)
        if normal_interval(self.keep) != self.keep:
            raise FragmentError(f"keep must be written like '30 days' or '6 months', not {self.keep!r}")
        if self.method not in RETENTION_METHODS:
            raise FragmentError(f"method must be one of {', '.join(RETENTION_METHODS)}")
        if not isinstance(self.batch_rows, int) or isinstance(self.batch_rows, bool) or not self.batch_rows >= 1:
            raise FragmentError("batch_rows must be a positive whole number")
        if self.partman_schema is not None:
            identifier(self.partman_schema, "partman_schema")


@dataclass(frozen=True)
class DropRetention(Operation):
    kind = "drop_retention"
    schema: str
    table: str
    partman_schema: str | None = None

    def validate(self) -> None:
        _names((self.schema, "schema"), (self.table, "table"))
        if self.partman_schema is not None:
            identifier(self.partman_schema, "partman_schema")


@dataclass(frozen=True)
class AnalyzeTables(Operation):
    """Gather planner statistics (ANALYZE) for some tables, or for all of them: nothing to undo."""

    kind = "analyze_tables"
    schema: str
    tables: tuple[str, ...] = ()

    def validate(self) -> None:
        identifier(self.schema, "schema")
        for t in self.tables:
            identifier(t, "table")


PRAGMAS = {"journal_mode": ("wal", "delete", "truncate", "persist", "memory"),
           "auto_vacuum": ("none", "full", "incremental")}


@dataclass(frozen=True)
class SetPragma(Operation):
    """A setting a SQLite file keeps (journal_mode, auto_vacuum); reversed to the value it had."""

    kind = "set_pragma"
    name: str
    value: str
    previous: str

    def reverse(self) -> Operation:
        return SetPragma(self.name, self.previous, self.value)

    def validate(self) -> None:
        allowed = PRAGMAS.get(self.name)
        if allowed is None:
            raise FragmentError(f"pragma must be one of {', '.join(PRAGMAS)}, not {self.name!r}")
        for value, what in ((self.value, "value"), (self.previous, "previous")):
            if value not in allowed:
                raise FragmentError(f"{self.name} {what} must be one of {', '.join(allowed)}, not {value!r}")


OPERATIONS: dict[str, type[Operation]] = {
    cls.kind: cls for cls in (CreateIndex, DropIndex, RecreateIndex, ReindexIndex, SetTableOptions,
                              ResetTableOptions, VacuumTable, AddPrimaryKeyUsingIndex, DropPrimaryKey,
                              AddIdentityPrimaryKey, DropColumn, Batch, AlterColumnType, AlterSequenceType,
                              AlterPolicy, CreateExtension, DropExtension, AlterSystemSet, AlterSystemReset,
                              PartitionTable, UnpartitionTable, SetRetention, DropRetention, AnalyzeTables,
                              SetPragma)
}
