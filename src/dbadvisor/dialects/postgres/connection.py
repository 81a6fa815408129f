"""Connections that are safe by default.

Every analysis session is read-only (``default_transaction_read_only``), bounded by statement and lock
timeouts, and labelled ``application_name=dbadvisor`` so a DBA can see it in pg_stat_activity. Only
``apply`` and ``verify``'s scratch database (which ask for it explicitly) ever open a writable session,
and they open their own: a session is configured once, for one purpose, and never reused for the other.

dbadvisor keeps its own activity out of what it measures. Every statement it sends starts with the
comment ``/* dbadvisor */`` (the workload reader leaves such statements out of pg_stat_statements), and
where the role may (a superuser, or ``GRANT SET``), the session turns off ``track_counts`` and
``pg_stat_statements.track``, so its catalog reads, pgstattuple scans and EXPLAINs neither lower the
cache-hit ratios it reports nor come back as workload statements on the next run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from dbadvisor.dialects.postgres import dsn as dsnlib
from dbadvisor.dialects.postgres.queries import OWN_MARK
from dbadvisor.errors import ConnectError

APPLICATION_NAME = "dbadvisor"
_MARK = OWN_MARK + " "


@dataclass(frozen=True)
class SessionSettings:
    read_only: bool = True
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 2_000
    connect_timeout_s: int = 10
    idle_in_transaction_timeout_s: int = 60


class MarkedCursor(psycopg.Cursor[Any]):
    """A cursor whose statements carry dbadvisor's comment, so that they can be told from the
    application's in pg_stat_statements and pg_stat_activity."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> MarkedCursor:
        if isinstance(query, str | bytes):
            query = (_MARK.encode() + query) if isinstance(query, bytes) else _MARK + query
        elif isinstance(query, sql.Composable):
            query = sql.Composed([sql.SQL(_MARK), query])
        super().execute(query, params, prepare=prepare, binary=binary)
        return self


# Settings that keep our own reads out of the statistics we report; refused to most roles, then skipped.
_QUIET = (("track_counts", "off"), ("pg_stat_statements.track", "none"))


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
            cursor_factory=MarkedCursor,
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
                ("idle_in_transaction_session_timeout", f"{settings.idle_in_transaction_timeout_s}s"),
            ):
                cur.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
            for name, value in _QUIET:  # refused to most roles: our reads then stay in the counters
                with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
                    cur.execute(sql.SQL("SET {} = {}").format(sql.Identifier(*name.split(".")), sql.Literal(value)))
    except psycopg.Error as exc:
        conn.close()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConnectError(f"cannot configure session on {dsnlib.describe(dsn)}: {message}") from None
    return conn
