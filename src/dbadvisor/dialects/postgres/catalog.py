"""Snapshot a live PostgreSQL database: capabilities first, then the catalog in one consistent read.

The catalog is read inside one REPEATABLE READ, READ ONLY transaction so that every object kind sees the
same moment. A query that fails for want of a privilege costs only its own part of the snapshot (it runs
under a savepoint) and is reported; the rest of the analysis goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from dbadvisor.dialects.postgres import queries as q
from dbadvisor.dialects.postgres.rows import typed_row
from dbadvisor.dialects.queries import Query
from dbadvisor.errors import CollectError
from dbadvisor.model.capabilities import PG_STAT_STATEMENTS, PGSTATTUPLE, Capabilities
from dbadvisor.model.catalog import (
    Column,
    Constraint,
    DatabaseInfo,
    Dependent,
    Index,
    Policy,
    Publication,
    RelationBloat,
    Schema,
    Sequence,
    Setting,
    Snapshot,
    Table,
    TableKind,
    TimeProfile,
    Trigger,
)
from dbadvisor.model.collected import Collected
from dbadvisor.model.findings import Skipped
from dbadvisor.model.timeseries import estimated_profile, time_columns

__all__ = ["Collected", "collect", "detect_capabilities"]

MIN_SERVER_VERSION = 130000
T = TypeVar("T")
Conn = psycopg.Connection[Any]


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
        extensions = cur.execute(q.EXTENSIONS_INSTALLED.sql).fetchall()
        installed = {r["name"]: r["version"] for r in extensions}
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
        extension_schemas={r["name"]: r["schema"] for r in extensions},
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

    locked = locked_relations(conn, problems)
    sized = {"locked": sorted(locked)}
    locked_names = {name for _, name in locked.items()}
    # The one consistent read sets this session's transaction characteristics; they are put back after
    # it, so that nothing else done on ``conn`` (a write session's DDL, above all) inherits READ ONLY.
    saved = (conn.autocommit, conn.isolation_level, conn.read_only)
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
                tables=fetch("tables", Table, required=True, params=sized),
                columns=fetch("columns", Column, params=sized),
                indexes=fetch("indexes", Index, params=sized),
                constraints=fetch("constraints", Constraint, params=sized),
                policies=fetch("policies", Policy, params=sized),
                sequences=fetch("sequences", Sequence),
                settings=settings,
                bloat=measure_bloat(fetch, caps, bloat_min_bytes, sized["locked"]),
                triggers=fetch("triggers", Trigger, params=sized),
                dependents=fetch("dependents", Dependent),
                publications=fetch("publications", Publication),
            )
            snapshot = dataclasses.replace(snapshot, time_profiles=time_profiles(conn, snapshot, problems))
            duplicates = {}
            for index in snapshot.indexes:
                if (index.is_unique and not index.is_valid
                        and not {index.qualname, index.table_qualname} & locked_names):
                    found = _unique_violations(conn, index.schema, index.name, problems)
                    if found is not None:
                        duplicates[index.qualname] = found
            if duplicates:
                snapshot = dataclasses.replace(snapshot, unique_violations=duplicates)
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.autocommit, conn.isolation_level, conn.read_only = saved[0], saved[1], saved[2]
    return Collected(snapshot, caps, tuple(problems))


PROFILE_MIN_ROWS = 1_000  # smaller tables are never worth partitioning or expiring
PROFILE_MAX_BYTES = 2 << 30  # larger tables are profiled from pg_stats, not counted


def time_profiles(conn: Conn, snapshot: Snapshot, problems: list[Skipped],
                  max_bytes: int = PROFILE_MAX_BYTES) -> tuple[TimeProfile, ...]:
    """Rows per day of each sizeable table's likeliest row-age column: counted with one read-only
    GROUP BY when the table is at most ``max_bytes``, else estimated from its pg_stats histogram."""
    out = []
    for table in snapshot.tables:
        if table.kind not in (TableKind.PLAIN, TableKind.PARTITIONED) or table.rows < PROFILE_MIN_ROWS:
            continue
        columns = time_columns(snapshot, table.key)
        if not columns:
            continue
        column = columns[0]
        if table.total_bytes > max_bytes:
            estimated = estimated_profile(column, table.rows)
            if estimated is not None:
                out.append(estimated)
            continue
        query = sql.SQL("SELECT {c}::date AS day, count(*), min({c}), max({c}) FROM {t} GROUP BY 1 ORDER BY 1").format(
            c=sql.Identifier(column.name), t=sql.Identifier(table.schema, table.name))
        try:
            with conn.transaction():
                rows = conn.execute(sql.SQL(q.OWN_MARK + " ") + query).fetchall()
        except psycopg.Error as exc:
            problems.append(Skipped(f"collect.{table.qualname}", f"{table.qualname}.{column.name}: rows per day "
                                    f"not counted: {str(exc).strip().splitlines()[0]}"))
            continue
        days = tuple((r[0].isoformat(), int(r[1])) for r in rows if r[0] is not None)
        stamps = [r[i] for r in rows if r[0] is not None for i in (2, 3)]
        out.append(TimeProfile(table.schema, table.name, column.name, sum(int(r[1]) for r in rows if r[0] is not None),
                               _aware(min(stamps)) if stamps else None, _aware(max(stamps)) if stamps else None,
                               days, "counted"))
    return tuple(out)


def _aware(value: date | datetime) -> datetime:
    """Dates and naive timestamps as UTC timestamps, so that every profile compares alike."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def locked_relations(conn: Conn, problems: list[Skipped]) -> dict[int, str]:
    """Relations another session holds or awaits in ACCESS EXCLUSIVE mode: reading their sizes would
    wait for that lock, so they are listed under ``skipped`` and read without sizes; the rest goes on."""
    try:
        rows = conn.execute(q.LOCKED_RELATIONS.sql).fetchall()
    except psycopg.Error:
        return {}
    for _, name, pid, granted in rows:
        how = "held" if granted else "awaited"
        problems.append(Skipped(f"collect.{name}", f"{name}: ACCESS EXCLUSIVE lock {how} by pid {pid}: "
                                "not analysed (reading its definition would wait for that lock)"))
    return {int(r[0]): str(r[1]) for r in rows}


def _unique_violations(conn: Conn, schema: str, name: str, problems: list[Skipped]) -> int | None:
    """How many key values an INVALID unique index's table holds more than once (a rebuild fails on
    any); None when it cannot be counted (timeout, privilege: noted in ``problems``)."""
    try:
        with conn.transaction():
            return unique_violations(conn, schema, name)
    except psycopg.Error as exc:
        problems.append(Skipped("collect.unique_violations", f"{schema}.{name}: duplicates not counted: "
                                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"))
        return None


def unique_violations(conn: Conn, schema: str, name: str) -> int:
    """Key values held more than once among the rows a unique index covers (NULLs are distinct unless
    the index says NULLS NOT DISTINCT). The keys and predicate are the catalog's own rendering."""
    query = q.QUERIES.get("unique_index_keys", conn.info.server_version)
    row = conn.execute(query.sql, {"schema": schema, "name": name}).fetchone()
    if row is None:
        return 0
    table_schema, table, keys, predicate, nulls_not_distinct = row
    conditions = [] if nulls_not_distinct else [sql.SQL("({}) IS NOT NULL").format(sql.SQL(k)) for k in keys]
    if predicate:
        conditions.append(sql.SQL("({})").format(sql.SQL(predicate)))
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
    count = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM ONLY {}{} GROUP BY {} HAVING count(*) > 1) d").format(
        sql.Identifier(table_schema, table), where, sql.SQL(", ").join(sql.SQL("({})").format(sql.SQL(k))
                                                                        for k in keys))
    found = conn.execute(count).fetchone()
    return int(found[0]) if found else 0


def measure_bloat(fetch: Callable[..., tuple[Any, ...]], caps: Capabilities, min_bytes: int,
                  locked: list[int] | None = None) -> tuple[RelationBloat, ...]:
    """Measured bloat when pgstattuple is installed (it reads each relation above ``min_bytes``);
    without it the bloat checks fall back to statistics-based estimates, labelled so."""
    if not caps.has(PGSTATTUPLE):
        return ()
    params = {"min_bytes": min_bytes, "locked": locked or []}
    return (*fetch("table_bloat", RelationBloat, params=params), *fetch("index_bloat", RelationBloat, params=params))
