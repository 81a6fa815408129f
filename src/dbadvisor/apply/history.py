"""Every action ``apply`` and ``revert`` take, with why, the estimate, the measured outcome and the result.

Kept in a local SQLite file by default, or (opt-in) in a ``dbadvisor`` schema of the target, so that the
record travels with the database. Both stores speak the same SQL through DB-API; only the placeholder
and the id column differ.

Each action records the server it ran on (``ServerIdentity``: the cluster's system identifier, the
database's oid, host and port), so that ``revert`` and a resumed ``apply`` act only on that very
database, not on another server's database of the same name. An action left ``running`` by a run that
died (SIGINT, a killed connection with the history in the lost session) is finished as ``interrupted``
by the next run, which then completes or cleans up what it left.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg

from dbadvisor.dialects.postgres.queries import SERVER_IDENTITY
from dbadvisor.errors import DbAdvisorError

SCHEMA = "dbadvisor"


class HistoryError(DbAdvisorError):
    """The history store cannot be read or written."""


@dataclass(frozen=True)
class Action:
    id: int
    kind: str  # apply | revert
    finding_id: str
    check_id: str
    title: str
    why: str
    target: str  # user@host:port/db, never a password
    database: str
    sql: str
    rollback_sql: str | None
    operation: str | None  # the operation as JSON, so revert rebuilds the very object
    estimate: str | None  # JSON
    measured: str | None  # JSON
    status: str  # running | applied | failed | reverted | regressed, reverted
    error: str | None
    tool_version: str
    started_at: str
    finished_at: str | None
    reverts: int | None  # for a revert: the action it undid
    server: str | None = None  # JSON ServerIdentity; None on actions recorded before 0.2
    phases: str | None = None  # JSON list of {"phase", "at", ...}: the steps of a long action (a rebuild)

    def json(self, name: str) -> Any:
        value = getattr(self, name)
        return json.loads(value) if value else None

    @property
    def identity(self) -> ServerIdentity | None:
        data = self.json("server")
        return ServerIdentity(**data) if isinstance(data, dict) else None


@dataclass(frozen=True)
class ServerIdentity:
    """Which database an action ran on. The system identifier (set by initdb) tells clusters apart even
    where host, port and database name agree; the database oid tells a re-created database apart."""

    system_identifier: str | None
    database: str
    database_oid: int
    host: str
    port: str

    @classmethod
    def of(cls, conn: psycopg.Connection[Any]) -> ServerIdentity:
        row = conn.execute(SERVER_IDENTITY.sql).fetchone()
        assert row is not None
        return cls(str(row[0]) if row[0] is not None else None, str(row[1]), int(row[2]),
                   str(conn.info.host), str(conn.info.port))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def differs(self, other: ServerIdentity) -> str | None:
        """Why ``other`` is not this database, or None when it is."""
        if self.system_identifier and other.system_identifier:
            if self.system_identifier != other.system_identifier:
                return f"another server (system identifier {other.system_identifier}, not {self.system_identifier})"
        elif (self.host, self.port) != (other.host, other.port):
            return f"another server ({other.host}:{other.port}, not {self.host}:{self.port})"
        if (self.database, self.database_oid) != (other.database, other.database_oid):
            return (f"another database ({other.database}, oid {other.database_oid}; not {self.database}, "
                    f"oid {self.database_oid})")
        return None


COLUMNS = [f.name for f in fields(Action)]

_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    id {id_type},
    kind text NOT NULL, finding_id text NOT NULL, check_id text NOT NULL, title text NOT NULL,
    why text NOT NULL, target text NOT NULL, database text NOT NULL, sql text NOT NULL, rollback_sql text,
    operation text, estimate text, measured text, status text NOT NULL, error text,
    tool_version text NOT NULL, started_at text NOT NULL, finished_at text, reverts integer, server text,
    phases text
)
"""
# Columns added after the first release, for history files and tables written by older versions.
_ADDED = {"server": "text", "phases": "text"}


class _Cursor(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class History:
    """Base of the two stores: the SQL is shared, subclasses give the connection and the dialect."""

    table = "actions"
    placeholder = "%s"
    where: str  # shown by ``dbadvisor history``

    def _cursor(self) -> _Cursor:
        raise NotImplementedError

    def _commit(self) -> None:
        pass

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> _Cursor:
        cur = self._cursor()
        try:
            cur.execute(sql.replace("%s", self.placeholder), params)
        except (sqlite3.Error, psycopg.Error) as exc:
            raise HistoryError(f"history ({self.where}): {str(exc).strip().splitlines()[0]}") from None
        return cur

    def record(self, **values: Any) -> int:
        values = {"started_at": now(), "status": "running", **values}
        names = [c for c in COLUMNS if c != "id" and c in values]
        cur = self._run(f"INSERT INTO {self.table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))}) "
                        "RETURNING id", tuple(_plain(values[n]) for n in names))
        action_id = int(cur.fetchone()[0])
        self._commit()
        return action_id

    def finish(self, action_id: int, status: str, error: str | None = None,
               measured: Mapping[str, Any] | None = None) -> None:
        self._run(f"UPDATE {self.table} SET status = %s, error = %s, measured = COALESCE(%s, measured), "
                  "finished_at = %s WHERE id = %s",
                  (status, error, _plain(measured) if measured is not None else None, now(), action_id))
        self._commit()

    def phase(self, action_id: int, phase: str, **detail: Any) -> None:
        """Append one phase (with its figures) to a running action's record."""
        action = self.get(action_id)
        done = list(action.json("phases") or []) if action else []
        done.append({"phase": phase, "at": now(), **detail})
        self._run(f"UPDATE {self.table} SET phases = %s WHERE id = %s", (_plain(done), action_id))
        self._commit()

    def get(self, action_id: int) -> Action | None:
        rows = self._run(f"SELECT {', '.join(COLUMNS)} FROM {self.table} WHERE id = %s", (action_id,)).fetchall()
        return Action(*rows[0]) if rows else None

    def list(self, database: str | None = None) -> list[Action]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM {self.table}"
        params: tuple[Any, ...] = ()
        if database is not None:
            sql, params = sql + " WHERE database = %s", (database,)
        return [Action(*row) for row in self._run(sql + " ORDER BY id", params).fetchall()]

    def on(self, server: ServerIdentity, sql: str | None = None) -> tuple[Action, ...]:
        """The actions recorded for this very database (and this statement, when given)."""
        where, params = " WHERE database = %s", [server.database]
        if sql is not None:
            where, params = where + " AND sql = %s", [*params, sql]
        rows = self._run(f"SELECT {', '.join(COLUMNS)} FROM {self.table}{where} ORDER BY id", tuple(params)).fetchall()
        actions = (Action(*row) for row in rows)
        return tuple(a for a in actions if a.identity is not None and a.identity.differs(server) is None)

    def succeeded(self, finding_id: str, sql: str, server: ServerIdentity) -> bool:
        """Whether this very statement was applied for this finding on this database and not reverted."""
        return any(a.kind == "apply" and a.finding_id == finding_id and a.status == "applied"
                   for a in self.on(server, sql))

    def interrupt_unfinished(self, server: ServerIdentity) -> tuple[Action, ...]:
        """Finish as ``interrupted`` the actions a dead run left ``running`` on this database (called
        under the advisory lock, so no live run owns them)."""
        stale = tuple(a for a in self.on(server) if a.status == "running")
        for a in stale:
            self.finish(a.id, "interrupted", "the run that started it ended before it finished")
        return stale

    def close(self) -> None:
        pass


def _plain(value: Any) -> Any:
    return json.dumps(value, default=str) if isinstance(value, Mapping | list) else value


def default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dbadvisor" / "history.sqlite"


class SqliteHistory(History):
    placeholder = "?"

    def __init__(self, path: Path) -> None:
        self.where = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, check_same_thread=False)  # used by one caller at a time
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open history file {path}: {exc}") from None
        self._run(_DDL.format(table=self.table, id_type="INTEGER PRIMARY KEY AUTOINCREMENT"))
        have = {row[1] for row in self._run(f"PRAGMA table_info({self.table})").fetchall()}
        for name, type_ in _ADDED.items():
            if name not in have:
                self._run(f"ALTER TABLE {self.table} ADD COLUMN {name} {type_}")
        self._commit()

    def _cursor(self) -> _Cursor:
        return self.conn.cursor()

    def _commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class PostgresHistory(History):
    """History in the target's ``dbadvisor.actions`` table, written on the apply session (autocommit)."""

    table = f"{SCHEMA}.actions"

    def __init__(self, conn: psycopg.Connection[Any], create: bool = True) -> None:
        self.conn = conn
        self.where = f"schema {SCHEMA} of the target"
        if create:
            self._run(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            self._run(_DDL.format(table=self.table, id_type="bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"))
            for name, type_ in _ADDED.items():
                self._run(f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS {name} {type_}")

    def _cursor(self) -> _Cursor:
        return self.conn.cursor()
