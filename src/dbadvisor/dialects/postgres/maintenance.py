"""Carrying out the time-series policies on a live database: partitions made ahead, and rows older than a
retention horizon removed (whole partitions detached and dropped, or rows deleted in batches), optionally
archived first. ``dbadvisor maintain`` runs this from cron; ``apply`` runs it once after setting a policy.

Safe to run again at any time: partitions are made only where missing; the horizon is fixed once per run
(``now() - keep``), each batch is one REPEATABLE READ transaction (so the archive holds exactly the rows
that batch deleted), every lock is asked for with a short ``lock_timeout`` and retried, and batches pause
to leave room for the application. A dry run only counts.

Archives are CSV files (with a header) named ``<schema>.<table>.<horizon>.csv``, each with a
``.sha256`` file beside it in ``sha256sum -c`` form, or a table ``<table>_archive`` beside the table (made
``LIKE`` it when missing) that receives the rows in the very transaction that removes them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import psycopg
from psycopg import sql

from dbadvisor.dialects.postgres import partitioning as parts
from dbadvisor.dialects.postgres.online_rebuild import is_partitioned
from dbadvisor.dialects.postgres.queries import TREE_SIZES
from dbadvisor.dialects.postgres.retry import in_transaction
from dbadvisor.errors import DbAdvisorError
from dbadvisor.model.timeseries import normal_interval, partition_name

Conn = psycopg.Connection[Any]
Log = Callable[[str], None]
T = TypeVar("T")


class MaintenanceError(DbAdvisorError):
    """A policy could not be carried out; the rest of the run goes on."""


@dataclass(frozen=True)
class MaintainOptions:
    dry_run: bool = False
    pause_s: float = 0.05  # between delete batches
    lock_timeout_ms: int = 500
    retries: int = 20
    archive_dir: Path | None = None  # archive removed rows there first (CSV + SHA-256)
    archive_table: bool = False  # or move them into <table>_archive, in the same transaction
    vacuum: bool = True  # VACUUM (ANALYZE) after batched deletes


@dataclass
class Expired:
    """What one retention pass did (or, in a dry run, would do)."""

    table: str
    keep: str
    horizon: str  # the cutoff timestamp: rows before it go
    method: str
    dry_run: bool
    rows: int = 0  # removed (counted, in a dry run)
    partitions: list[str] = field(default_factory=list)  # dropped (or to drop)
    batches: int = 0
    archives: list[dict[str, str]] = field(default_factory=list)  # {"file", "sha256"} or {"table"}
    bytes_before: int = 0
    bytes_after: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _retry(conn: Conn, opts: MaintainOptions, body: Callable[[], T], log: Log, what: str,
           isolation: psycopg.IsolationLevel | None = None) -> T:
    return in_transaction(conn, body, what=what, lock_timeout_ms=opts.lock_timeout_ms, retries=opts.retries,
                          log=log, error=MaintenanceError, isolation=isolation)[0]


def table_bytes(conn: Conn, schema: str, table: str, heap: bool = False) -> int:
    """Total bytes of the table (indexes and TOAST included), or its heap's; a partitioned table's leaves'."""
    row = conn.execute(TREE_SIZES.sql, {"table": parts.ident(schema, table)}).fetchone()
    return int(row[0 if heap else 1] or 0) if row else 0


class _Archive:
    """One CSV archive file and its running SHA-256; the header is written once."""

    def __init__(self, directory: Path, schema: str, table: str, horizon: datetime) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{schema}.{table}.{horizon.strftime('%Y%m%dT%H%M%S')}.csv"
        self.digest = hashlib.sha256()
        self.file: BinaryIO = self.path.open("ab")
        self.header = self.path.stat().st_size == 0
        if not self.header:  # a rerun appends: the digest covers the whole file
            self.digest.update(self.path.read_bytes())

    def copy(self, conn: Conn, query: sql.Composable) -> int:
        """Append the rows ``query`` returns; returns how many."""
        options = sql.SQL("(FORMAT csv, HEADER)" if self.header else "(FORMAT csv)")
        with conn.cursor() as cur:
            with cur.copy(sql.SQL("COPY ({}) TO STDOUT {}").format(query, options)) as copy:
                for chunk in copy:
                    data = bytes(chunk)
                    self.file.write(data)
                    self.digest.update(data)
            self.header = False
            return max(cur.rowcount, 0)

    def close(self) -> dict[str, str]:
        self.file.close()
        digest = self.digest.hexdigest()
        Path(f"{self.path}.sha256").write_text(f"{digest}  {self.path.name}\n")
        return {"file": str(self.path), "sha256": digest}


def _old_partitions(conn: Conn, schema: str, table: str, horizon: datetime) -> list[str]:
    """Partitions whose upper bound is at or before the horizon (wholly older), oldest first."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s) "
        "  AND substring(pg_get_expr(c.relpartbound, c.oid) from $$TO \\('([^']+)'\\)$$)::timestamptz <= %s "
        "ORDER BY 1", (parts.ident(schema, table), horizon)).fetchall()
    return [str(r[0]) for r in rows]


def expire(conn: Conn, schema: str, table: str, column: str, keep: str, batch_rows: int,
           opts: MaintainOptions, log: Log | None = None) -> Expired:
    """Remove (or count) the rows of ``schema.table`` whose ``column`` is older than ``keep``: whole
    partitions first when the table is partitioned now (whatever it was when the policy was set), then
    batches."""
    say = log or (lambda _: None)
    started = time.monotonic()
    row = conn.execute("SELECT now() - %s::interval", (keep,)).fetchone()
    assert row is not None
    horizon: datetime = row[0]
    method = "drop_partitions" if is_partitioned(conn, schema, table) else "delete"
    out = Expired(f"{schema}.{table}", keep, horizon.isoformat(), method, opts.dry_run,
                  bytes_before=table_bytes(conn, schema, table))
    target, col = sql.Identifier(schema, table), sql.Identifier(column)
    if opts.dry_run:
        counted = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} < %s").format(target, col),
                               (horizon,)).fetchone()
        out.rows = int(counted[0]) if counted else 0
        if method == "drop_partitions":
            out.partitions = _old_partitions(conn, schema, table, horizon)
        out.bytes_after = out.bytes_before
        return out
    archive = _Archive(opts.archive_dir, schema, table, horizon) if opts.archive_dir else None
    kept = sql.Identifier(schema, partition_name(table, "archive")) if opts.archive_table else None
    if kept is not None:
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS)").format(kept, target))
        out.archives.append({"table": f"{schema}.{partition_name(table, 'archive')}"})
    try:
        if method == "drop_partitions":
            for child in _old_partitions(conn, schema, table, horizon):
                if archive is not None:
                    rows = archive.copy(conn, sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, child)))
                elif kept is not None:
                    rows = conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                        kept, sql.Identifier(schema, child))).rowcount
                else:
                    counted = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                        sql.Identifier(schema, child))).fetchone()
                    rows = int(counted[0]) if counted else 0
                detach = sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(target, sql.Identifier(schema, child))
                _retry(conn, opts, partial(conn.execute, detach), say, f"detach {schema}.{child}")
                drop = sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, child))
                _retry(conn, opts, partial(conn.execute, drop), say, f"drop {schema}.{child}")
                out.partitions.append(child)
                out.rows += rows
                say(f"dropped partition {schema}.{child}")
        # What is left older than the horizon (a plain table's rows; a partitioned table's rows in the
        # partition that straddles it and in the default one): keyset batches along the column.
        last: datetime | None = None
        while True:
            def batch(after: datetime | None = last) -> tuple[int, datetime | None]:
                lower = sql.SQL("") if after is None else sql.SQL(" AND {} >= %(after)s").format(col)
                upper = conn.execute(sql.SQL("SELECT max({c}) FROM (SELECT {c} FROM {t} WHERE {c} < %(horizon)s{lower} "
                                             "ORDER BY {c} LIMIT {n}) b").format(
                    c=col, t=target, lower=lower, n=sql.Literal(batch_rows)),
                    {"horizon": horizon, "after": after}).fetchone()
                if upper is None or upper[0] is None:
                    return 0, None
                delete = sql.SQL("DELETE FROM {t} WHERE {c} < %(horizon)s AND {c} <= %(upper)s{lower}").format(
                    t=target, c=col, lower=lower)
                params = {"horizon": horizon, "upper": upper[0], "after": after}
                if archive is not None:  # the rows the DELETE returns are the archive: nothing in between
                    return archive.copy(conn, sql.Composed([_bind(conn, delete, params),
                                                            sql.SQL(" RETURNING *")])), upper[0]
                if kept is not None:
                    moved = sql.SQL("WITH d AS ({} RETURNING *) INSERT INTO {} SELECT * FROM d").format(delete, kept)
                    return conn.execute(moved, params).rowcount, upper[0]
                cur = conn.execute(delete, params)
                return cur.rowcount, upper[0]
            removed, last = _retry(conn, opts, batch, say, f"batched delete on {schema}.{table}",
                                   psycopg.IsolationLevel.REPEATABLE_READ)
            if last is None:
                break
            out.rows += removed
            out.batches += 1
            if opts.pause_s:
                time.sleep(opts.pause_s)
        if out.batches and opts.vacuum:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(target))
    finally:
        if archive is not None:
            out.archives.append(archive.close())
    out.bytes_after = table_bytes(conn, schema, table)
    out.seconds = round(time.monotonic() - started, 2)
    return out


def _bind(conn: Conn, query: sql.Composed, params: dict[str, Any]) -> sql.Composable:
    """``query`` with its parameters as literals: COPY (query) TO takes no parameters."""
    return sql.SQL(psycopg.ClientCursor(conn).mogrify(query, params))


def ensure_ahead(conn: Conn, schema: str, table: str, interval: str, start: str, premake: int,
                 log: Log | None = None) -> list[str]:
    """Make the partitions missing up to ``premake`` intervals ahead; returns the ones it made."""
    listing = ("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
               "WHERE i.inhparent = to_regclass(%s)")
    have = {r[0] for r in conn.execute(listing, (parts.ident(schema, table),)).fetchall()}
    block = parts.ensure_partitions(schema, table, table, interval, start, premake)
    opts = MaintainOptions()
    _retry(conn, opts, lambda: conn.execute(block), log or (lambda _: None), f"partitions ahead for {schema}.{table}")
    now = {r[0] for r in conn.execute(listing, (parts.ident(schema, table),)).fetchall()}
    return sorted(str(n) for n in now - have)


@dataclass(frozen=True)
class Policy:
    schema: str
    table: str
    column: str
    keep: str
    method: str
    batch_rows: int


def retention_policies(conn: Conn) -> list[Policy]:
    if not _store(conn, "retention"):
        return []
    rows = conn.execute("SELECT schema_name, table_name, column_name, keep::text, method, batch_rows "
                        "FROM dbadvisor.retention ORDER BY 1, 2").fetchall()
    return [Policy(str(r[0]), str(r[1]), str(r[2]), normal_interval(str(r[3])), str(r[4]), int(r[5])) for r in rows]


def partitioning_policies(conn: Conn) -> list[tuple[str, str, str, str, int]]:
    """(schema, table, interval, start, premake) of the tables dbadvisor partitioned."""
    if not _store(conn, "partitioning"):
        return []
    rows = conn.execute('SELECT schema_name, table_name, "interval", start::text, premake '
                        "FROM dbadvisor.partitioning ORDER BY 1, 2").fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]


def _store(conn: Conn, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"dbadvisor.{name}",)).fetchone()
    return bool(row and row[0])
