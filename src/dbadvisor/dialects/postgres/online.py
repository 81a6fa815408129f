"""Running one operation on a live database without taking the application down, and only if the
database still holds what the report described.

Every statement runs with ``lock_timeout``: a DDL statement that waits for a lock blocks every query
queued behind it, so it is better to give up quickly and retry later (with backoff) than to wait.

Before an operation runs, ``preflight`` compares the objects it acts on with the report: a drop's index
must still have the definition the report saw, a new index's name must not belong to another index, a
table's options must still be the ones the report would restore on revert. Anything else is a
``StaleReport`` and nothing is done. Whether an operation is already done is read from the catalog, by
definition rather than by name, so a second run does nothing.

A CONCURRENTLY build that fails or is interrupted leaves an INVALID index behind. ``leftovers`` lists
them; the caller drops them only when its history proves that dbadvisor itself started that build.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg import errors, sql
from psycopg.rows import dict_row

from dbadvisor.dialects.postgres import DIALECT
from dbadvisor.dialects.postgres import online_rebuild as rebuilding
from dbadvisor.dialects.postgres.catalog import unique_violations
from dbadvisor.dialects.postgres.queries import (
    COLUMN_TYPE,
    EXTENSION_EXISTS,
    INDEX_DETAIL,
    INVALID_LEFTOVERS,
    POLICY_EXISTS,
    PRIMARY_KEY_COLUMNS,
    REFERENCING_TABLES,
    SEQUENCE_TYPE,
    TABLE_OPTIONS,
)
from dbadvisor.errors import ApplyError, StaleReport
from dbadvisor.model.ddl import (
    AddIdentityPrimaryKey,
    AddPrimaryKeyUsingIndex,
    AlterColumnType,
    AlterPolicy,
    AlterSequenceType,
    Batch,
    CreateExtension,
    CreateIndex,
    DropIndex,
    Operation,
    RebuildTable,
    RecreateIndex,
    ReindexIndex,
    ResetTableOptions,
    SetRetention,
    SetTableOptions,
    VacuumTable,
)

__all__ = ["ApplyError", "RetryPolicy", "StaleReport", "execute", "leftovers", "preflight", "run"]

RETRYABLE = (errors.LockNotAvailable, errors.DeadlockDetected)
Log = Callable[[str], None]
Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class RetryPolicy:
    lock_timeout_ms: int = 5_000
    retries: int = 5
    backoff_s: float = 1.0  # doubled after each lock timeout, up to max_backoff_s
    max_backoff_s: float = 30.0


def index_detail(conn: Conn, schema: str, name: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(INDEX_DETAIL.sql, {"schema": schema, "name": name}).fetchone()


def _table_options(conn: Conn, schema: str, table: str) -> dict[str, str] | None:
    row = conn.execute(TABLE_OPTIONS.sql, {"schema": schema, "name": table}).fetchone()
    if row is None:
        return None
    return dict(o.split("=", 1) for o in row[0])


def _bare(value: str) -> str:
    return value.strip("'")


def _matches(op: CreateIndex, have: dict[str, Any]) -> bool:
    """Whether an existing index is the one ``op`` builds: same table, method, uniqueness, keys (columns
    by name, expressions by position) and whether it is partial."""
    keys = list(have["keys"])
    want = [c.column for c in op.columns]
    same_keys = len(keys) == len(want) and all(w is None or w == k for w, k in zip(want, keys, strict=True))
    return ((have["table_schema"], have["table_name"]) == (op.schema, op.table) and have["method"] == op.method
            and bool(have["is_unique"]) == op.unique and same_keys
            and (have["predicate"] is None) == (op.where is None))


def preflight(conn: Conn, op: Operation) -> tuple[Operation, bool | None]:
    """``(operation to run, done)``: the operation (a drop carries the live definition, so its revert
    rebuilds what was really there) and whether the catalog shows it done (None: it cannot tell).
    Raises ``StaleReport`` when the objects differ from what the report described."""
    if isinstance(op, CreateIndex):
        have = index_detail(conn, op.schema, op.name)
        if have is None:
            return op, False
        if not _matches(op, have):
            raise StaleReport(f"stale report: an index named {op.schema}.{op.name} already exists and is not the "
                              f"one the report proposes ({have['definition']}); nothing done")
        return op, bool(have["valid"])
    if isinstance(op, DropIndex | RecreateIndex):
        have = index_detail(conn, op.schema, op.name)
        if isinstance(op, RecreateIndex):
            if have is not None and have["definition"] != op.definition:
                raise StaleReport(f"stale: an index named {op.schema}.{op.name} exists with another definition "
                                  f"({have['definition']}); nothing done")
            return op, have is not None and bool(have["valid"])
        if have is None:
            return op, True
        if op.definition is not None and have["definition"] != op.definition:
            raise StaleReport(f"stale report: {op.schema}.{op.name} is no longer the index the report described "
                              f"(now: {have['definition']}; report: {op.definition}); nothing done")
        return replace(op, definition=str(have["definition"])), False
    if isinstance(op, ReindexIndex):
        have = index_detail(conn, op.schema, op.name)
        if have is None:
            raise StaleReport(f"stale report: index {op.schema}.{op.name} no longer exists; nothing done")
        if have["is_unique"] and (dups := unique_violations(conn, op.schema, op.name)):
            raise ApplyError(f"{op.schema}.{op.name} cannot be rebuilt: {dups:,} key value(s) occur more than "
                             "once in its table; remove the duplicates first (nothing was dropped or changed)")
        return op, None
    if isinstance(op, Batch):
        checked = [preflight(conn, step) for step in op.steps]  # any stale step stops the whole batch
        return Batch(tuple(o for o, _ in checked)), all(done for _, done in checked) or None
    if isinstance(op, AlterColumnType):
        row = conn.execute(COLUMN_TYPE.sql, {"schema": op.schema, "table": op.table, "column": op.column}).fetchone()
        if row is None:
            raise StaleReport(f"stale report: column {op.schema}.{op.table}.{op.column} no longer exists; nothing done")
        if row[0] not in (op.type, op.previous_type):
            raise StaleReport(f"stale report: {op.schema}.{op.table}.{op.column} is now {row[0]}, not "
                              f"{op.previous_type}; nothing done")
        return op, row[0] == op.type
    if isinstance(op, AlterSequenceType):
        row = conn.execute(SEQUENCE_TYPE.sql, {"schema": op.schema, "name": op.name}).fetchone()
        if row is None:
            raise StaleReport(f"stale report: sequence {op.schema}.{op.name} no longer exists; nothing done")
        return op, row[0] == op.type
    if isinstance(op, AlterPolicy):
        key = {"schema": op.schema, "table": op.table, "name": op.name}
        if conn.execute(POLICY_EXISTS.sql, key).fetchone() is None:
            raise StaleReport(f"stale report: policy {op.name} on {op.schema}.{op.table} no longer exists; "
                              "nothing done")
        return op, None
    if isinstance(op, CreateExtension):
        return op, conn.execute(EXTENSION_EXISTS.sql, {"name": op.name}).fetchone() is not None
    if isinstance(op, RebuildTable):
        return op, _rebuild_preflight(conn, op)
    if isinstance(op, SetRetention):
        row = conn.execute(COLUMN_TYPE.sql, {"schema": op.schema, "table": op.table, "column": op.column}).fetchone()
        if row is None:
            raise StaleReport(f"stale report: column {op.schema}.{op.table}.{op.column} no longer exists; nothing done")
        return op, None
    if isinstance(op, SetTableOptions | ResetTableOptions | VacuumTable | AddPrimaryKeyUsingIndex
                  | AddIdentityPrimaryKey):
        current = _table_options(conn, op.schema, op.table)
        if current is None:
            raise StaleReport(f"stale report: table {op.schema}.{op.table} no longer exists; nothing done")
        if isinstance(op, SetTableOptions):
            if all(current.get(k) == _bare(v) for k, v in op.options.items()):
                return op, True
            changed = [k for k in op.options if current.get(k) != (_bare(op.previous[k]) if k in op.previous
                                                                     else None)]
            if changed:
                raise StaleReport(f"stale report: {op.schema}.{op.table}'s {', '.join(changed)} changed since the "
                                  "report was written (its revert would restore the wrong values); nothing done")
            return op, False
        if isinstance(op, ResetTableOptions):
            return op, not any(k in current for k in op.keys) and all(
                current.get(k) == _bare(v) for k, v in op.restore.items())
    return op, None


def _rebuild_preflight(conn: Conn, op: RebuildTable) -> bool:
    """Whether the rebuild is done; StaleReport when the table is no longer the one the report saw,
    ApplyError when something now stands in the way (a foreign key pointing to it)."""
    name = f"{op.schema}.{op.table}"
    try:
        if rebuilding.state(conn, op) is not None or rebuilding.exists(conn, op.schema, rebuilding.Names.of(op).old):
            return False  # a rebuild under way: resume it
    except rebuilding.RebuildError as exc:
        raise ApplyError(str(exc)) from None
    if not rebuilding.exists(conn, op.schema, op.table):
        raise StaleReport(f"stale report: table {name} no longer exists; nothing done")
    if rebuilding.done(conn, op):
        return True
    key = conn.execute(PRIMARY_KEY_COLUMNS.sql, {"table": DIALECT.quote(op.schema, op.table)}).fetchone()
    have = tuple(key[0]) if key and key[0] else ()
    if have != op.previous_primary_key:
        raise StaleReport(f"stale report: {name}'s primary key is now ({', '.join(have) or 'none'}), not "
                          f"({', '.join(op.previous_primary_key)}); nothing done")
    referencing = conn.execute(REFERENCING_TABLES.sql, {"table": DIALECT.quote(op.schema, op.table)}).fetchall()
    if referencing:
        raise ApplyError(f"{name} cannot be rebuilt online: foreign keys point to it from "
                         f"{', '.join(str(r[0]) for r in referencing)}; nothing done")
    return False


def leftovers(conn: Conn, op: Operation) -> list[DropIndex]:
    """INVALID indexes an interrupted run of ``op`` may have left: a build's index of that very name, or
    REINDEX CONCURRENTLY's ``_ccnew`` copies (never the index being rebuilt). Each carries its definition,
    so that dropping it is recorded with a way back."""
    if not isinstance(op, CreateIndex | ReindexIndex | RecreateIndex):
        return []
    rows = conn.execute(INVALID_LEFTOVERS.sql, {"schema": op.schema, "name": op.name}).fetchall()
    out = []
    for (name,) in rows:
        if isinstance(op, ReindexIndex) and name == op.name:
            continue
        have = index_detail(conn, op.schema, str(name))
        out.append(DropIndex(op.schema, str(name), definition=str(have["definition"]) if have else None))
    return out


def execute(conn: Conn, op: Operation, policy: RetryPolicy, log: Log,
            before_attempt: Callable[[], None] | None = None) -> int:
    """Run ``op`` with lock_timeout and retries; returns the number of attempts it took.
    ``before_attempt`` runs before each attempt (the caller clears its own leftovers there)."""
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{policy.lock_timeout_ms}ms")))
    delay = policy.backoff_s
    for attempt in range(1, policy.retries + 2):
        if before_attempt is not None:
            before_attempt()
        try:
            run(conn, op)
            return attempt
        except RETRYABLE as exc:
            if attempt > policy.retries:
                raise ApplyError(f"gave up after {attempt} attempts: {_first_line(exc)}") from None
            log(f"attempt {attempt}: {_first_line(exc)}; retrying in {delay:.1f} s")
            time.sleep(delay)
            delay = min(delay * 2, policy.max_backoff_s)
        except psycopg.OperationalError:
            raise  # the connection is gone: the caller records it, a rerun cleans up
        except psycopg.Error as exc:
            raise ApplyError(_first_line(exc)) from None
    raise AssertionError("unreachable")  # pragma: no cover


def run(conn: Conn, op: Operation) -> None:
    """The operation's statements, one at a time: each transactional one in a transaction of its own
    (on this write session, never read-only), the others in autocommit, as CONCURRENTLY requires."""
    for statement, transactional in DIALECT.statements(op):
        if transactional:
            with conn.transaction():
                conn.execute(statement)
        else:
            conn.execute(statement)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
