"""Connections that are safe by default.

Every analysis session is read-only (``default_transaction_read_only``), bounded by statement and lock
timeouts, and labelled ``application_name=dbadvisor`` so a DBA can see it in pg_stat_activity. Only
``apply`` (which asks for explicit confirmation) ever opens a writable session.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from dbadvisor.collect import dsn as dsnlib
from dbadvisor.errors import ConnectError

APPLICATION_NAME = "dbadvisor"


@dataclass(frozen=True)
class SessionSettings:
    read_only: bool = True
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 2_000
    connect_timeout_s: int = 10


def connect(dsn: str, settings: SessionSettings | None = None) -> psycopg.Connection[tuple[object, ...]]:
    """Open a session on ``dsn`` (URI, keyword DSN, or empty for PG* environment variables)."""
    settings = settings or SessionSettings()
    dsnlib.parse(dsn)  # a malformed DSN fails here, with a clean message
    try:
        conn = psycopg.connect(
            dsn,
            application_name=APPLICATION_NAME,
            connect_timeout=settings.connect_timeout_s,
            autocommit=True,
        )
    except psycopg.Error as exc:
        first = dsnlib.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, dsn)
        raise ConnectError(f"cannot connect to {dsnlib.describe(dsn)}: {first}") from None
    try:
        with conn.cursor() as cur:
            for name, value in (
                ("default_transaction_read_only", "on" if settings.read_only else "off"),
                ("statement_timeout", f"{settings.statement_timeout_ms}ms"),
                ("lock_timeout", f"{settings.lock_timeout_ms}ms"),
                ("idle_in_transaction_session_timeout", "60s"),
            ):
                cur.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    except psycopg.Error as exc:
        conn.close()
        raise ConnectError(f"cannot configure session on {dsnlib.describe(dsn)}: {exc}") from None
    return conn
