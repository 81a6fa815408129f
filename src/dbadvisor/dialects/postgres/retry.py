"""One short transaction at a time, retried while it waits on locks.

A DDL statement (or a batch) that waits for a lock makes every statement queued behind it wait too, so
each transaction asks for its locks with a short ``lock_timeout`` and, when refused (or chosen as a
deadlock victim, or a serialization failure), gives up at once, sleeps with doubling backoff and tries
again. The application's statements then wait at most that timeout for us.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import errors, sql

from dbadvisor.errors import DbAdvisorError

T = TypeVar("T")
RETRYABLE = (errors.LockNotAvailable, errors.DeadlockDetected, errors.SerializationFailure)


def in_transaction(conn: psycopg.Connection[Any], body: Callable[[], T], *, what: str, lock_timeout_ms: int,
                   retries: int, log: Callable[[str], None], error: type[DbAdvisorError] = DbAdvisorError,
                   isolation: psycopg.IsolationLevel | None = None, backoff_s: float = 0.2,
                   max_backoff_s: float = 5.0) -> tuple[T, int]:
    """``body()`` inside a transaction (at ``isolation``, when given) with ``lock_timeout``; retried up to
    ``retries`` times. Returns (its result, the attempts it took); ``error`` when it never got through."""
    delay = backoff_s
    for attempt in range(1, retries + 2):
        saved = conn.isolation_level
        try:
            if isolation is not None:
                conn.isolation_level = isolation
            with conn.transaction():
                conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{lock_timeout_ms}ms")))
                return body(), attempt
        except RETRYABLE as exc:
            if attempt > retries:
                raise error(f"{what}: gave up after {attempt} attempts ({str(exc).strip().splitlines()[0]}); "
                            "rerun to go on from here") from None
            log(f"{what}: {type(exc).__name__} within {lock_timeout_ms} ms (attempt {attempt}); "
                f"retrying in {delay:.1f} s")
            time.sleep(delay)
            delay = min(delay * 2, max_backoff_s)
        finally:
            conn.isolation_level = saved
    raise AssertionError("unreachable")  # pragma: no cover
