"""Running one operation on a live database without taking the application down.

Every statement runs with ``lock_timeout``: a DDL statement that waits for a lock blocks every query
queued behind it, so it is better to give up quickly and retry later (with backoff) than to wait. A
CONCURRENTLY build that fails or is interrupted leaves an INVALID index behind; before each attempt the
leftovers of our own operation (the index of that name, REINDEX CONCURRENTLY's ``_ccnew`` copies) are
dropped. Whether an operation is already done is read from the catalog, so a second run does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors, sql

from dbadvisor.collect.queries.postgres import INDEX_STATE, INVALID_LEFTOVERS, TABLE_OPTIONS
from dbadvisor.errors import DbAdvisorError
from dbadvisor.model.ddl import (
    CreateIndex,
    DropIndex,
    Operation,
    ReindexIndex,
    ResetTableOptions,
    SetTableOptions,
)

RETRYABLE = (errors.LockNotAvailable, errors.DeadlockDetected)
Log = Callable[[str], None]


class ApplyError(DbAdvisorError):
    """An action could not be applied; what was done before it stays done and recorded."""


@dataclass(frozen=True)
class RetryPolicy:
    lock_timeout_ms: int = 5_000
    retries: int = 5
    backoff_s: float = 1.0  # doubled after each lock timeout, up to max_backoff_s
    max_backoff_s: float = 30.0


def is_done(conn: psycopg.Connection[Any], op: Operation) -> bool | None:
    """Whether the catalog already shows ``op`` done; None when the catalog cannot tell (VACUUM...)."""
    if isinstance(op, CreateIndex):
        row = conn.execute(INDEX_STATE.sql, {"schema": op.schema, "name": op.name}).fetchone()
        return row is not None and bool(row[0])
    if isinstance(op, DropIndex):
        return conn.execute(INDEX_STATE.sql, {"schema": op.schema, "name": op.name}).fetchone() is None
    if isinstance(op, SetTableOptions | ResetTableOptions):
        row = conn.execute(TABLE_OPTIONS.sql, {"schema": op.schema, "name": op.table}).fetchone()
        have = dict(o.split("=", 1) for o in (row[0] if row else []))
        if isinstance(op, SetTableOptions):
            return all(have.get(k) == _bare(v) for k, v in op.options.items())
        return not any(k in have for k in op.keys) and all(have.get(k) == _bare(v) for k, v in op.restore.items())
    return None


def _bare(value: str) -> str:
    return value.strip("'")


def leftovers(conn: psycopg.Connection[Any], op: Operation) -> list[DropIndex]:
    """INVALID indexes an interrupted run of ``op`` left behind, as drops."""
    if isinstance(op, CreateIndex | ReindexIndex):
        rows = conn.execute(INVALID_LEFTOVERS.sql, {"schema": op.schema, "name": op.name}).fetchall()
        return [DropIndex(op.schema, str(r[0]), concurrently=True) for r in rows]
    return []


def execute(conn: psycopg.Connection[Any], op: Operation, policy: RetryPolicy, log: Log) -> int:
    """Run ``op`` with lock_timeout and retries; returns the number of attempts it took."""
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{policy.lock_timeout_ms}ms")))
    delay = policy.backoff_s
    for attempt in range(1, policy.retries + 2):
        for drop in leftovers(conn, op):
            log(f"dropping INVALID leftover of an interrupted build: {drop.schema}.{drop.name}")
            _run(conn, drop)
        try:
            _run(conn, op)
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


def _run(conn: psycopg.Connection[Any], op: Operation) -> None:
    if op.transactional:
        with conn.transaction():
            conn.execute(op.to_sql())
    else:
        conn.execute(op.to_sql())  # autocommit: CONCURRENTLY refuses a transaction block


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
