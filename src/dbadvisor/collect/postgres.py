"""Snapshot a live PostgreSQL database: capabilities first, then the catalog in one consistent read.

The catalog is read inside one REPEATABLE READ, READ ONLY transaction so that every object kind sees the
same moment. A query that fails for want of a privilege costs only its own part of the snapshot (it runs
under a savepoint) and is reported; the rest of the analysis goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

from dbadvisor.collect.queries import Query
from dbadvisor.collect.queries import postgres as q
from dbadvisor.collect.rows import typed_row
from dbadvisor.errors import CollectError
from dbadvisor.model.capabilities import PG_STAT_STATEMENTS, PGSTATTUPLE, Capabilities
from dbadvisor.model.catalog import (
    Column,
    Constraint,
    DatabaseInfo,
    Index,
    Policy,
    RelationBloat,
    Schema,
    Sequence,
    Setting,
    Snapshot,
    Table,
)
from dbadvisor.model.findings import Skipped

MIN_SERVER_VERSION = 130000
T = TypeVar("T")
Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Collected:
    snapshot: Snapshot
    capabilities: Capabilities
    problems: tuple[Skipped, ...] = ()


def detect_capabilities(conn: Conn) -> Capabilities:
    """Ask the server what it and this role can do; never assume an extension or privilege."""
    with conn.cursor(row_factory=dict_row) as cur:
        server = cur.execute(q.SERVER.sql).fetchone()
        assert server is not None
        version = int(server["server_version_num"])
        if version < MIN_SERVER_VERSION:
            raise CollectError(
                f"PostgreSQL {version // 10000} is not supported; dbadvisor needs PostgreSQL 13 or newer"
            )
        installed = {r["name"]: r["version"] for r in cur.execute(q.EXTENSIONS_INSTALLED.sql)}
        available = frozenset(r["name"] for r in cur.execute(q.EXTENSIONS_AVAILABLE.sql))
    raw_preload = server["preload_libraries"]
    preload = (
        None if raw_preload is None else tuple(x.strip() for x in str(raw_preload).split(",") if x.strip())
    )
    readable = False
    if PG_STAT_STATEMENTS in installed and (preload is None or PG_STAT_STATEMENTS in preload):
        readable = _probe(conn, q.PG_STAT_STATEMENTS_PROBE)
    return Capabilities(
        server_version_num=version,
        current_user=server["current_user"],
        is_superuser=bool(server["is_superuser"]),
        can_read_all_stats=bool(server["can_read_all_stats"]),
        installed_extensions=installed,
        available_extensions=available,
        preload_libraries=preload,
        pg_stat_statements_readable=readable,
    )


def _probe(conn: Conn, query: Query) -> bool:
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(query.sql)
        return True
    except psycopg.Error:
        return False


def collect(
    conn: Conn, progress: Callable[[str], None] | None = None, bloat_min_bytes: int = 1 << 20
) -> Collected:
    """Capabilities and catalog snapshot of the database ``conn`` is connected to."""
    caps = detect_capabilities(conn)
    version = caps.server_version_num
    problems: list[Skipped] = []

    def fetch(name: str, cls: type[T], required: bool = False, params: dict[str, Any] | None = None
              ) -> tuple[T, ...]:
        if progress:
            progress(name)
        query = q.QUERIES.get(name, version)
        try:
            with conn.transaction(), conn.cursor(row_factory=typed_row(cls)) as cur:
                return tuple(cur.execute(query.sql, params))
        except psycopg.Error as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if required:
                raise CollectError(f"cannot read the catalog ({name}): {message}") from None
            problems.append(Skipped(f"collect.{name}", f"{name} not collected: {message}"))
            return ()

    was_autocommit = conn.autocommit
    conn.autocommit = False
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            database = fetch("database", DatabaseInfo, required=True)[0]
            settings = {s.name: s for s in fetch("settings", Setting)}
            snapshot = Snapshot(
                database=database,
                schemas=fetch("schemas", Schema),
                tables=fetch("tables", Table, required=True),
                columns=fetch("columns", Column),
                indexes=fetch("indexes", Index),
                constraints=fetch("constraints", Constraint),
                policies=fetch("policies", Policy),
                sequences=fetch("sequences", Sequence),
                settings=settings,
                bloat=measure_bloat(fetch, caps, bloat_min_bytes),
            )
    finally:
        conn.autocommit = was_autocommit
    return Collected(snapshot, caps, tuple(problems))


def measure_bloat(fetch: Callable[..., tuple[Any, ...]], caps: Capabilities, min_bytes: int
                  ) -> tuple[RelationBloat, ...]:
    """Measured bloat when pgstattuple is installed (it reads each relation above ``min_bytes``);
    without it the bloat checks fall back to statistics-based estimates, labelled so."""
    if not caps.has(PGSTATTUPLE):
        return ()
    params = {"min_bytes": min_bytes}
    return (*fetch("table_bloat", RelationBloat, params=params), *fetch("index_bloat", RelationBloat, params=params))
