"""Rebuilding a live table under its own name (partitioned by RANGE, or plain again) while the
application keeps reading and writing it.

The phases, each one resumable after a killed connection:

1. ``prepare`` (one transaction): a shadow table ``<table>__dbadvisor_new`` shaped like the table (LIKE),
   partitioned with partitions for the existing range, premade ones and a default, the new primary key,
   the indexes (under stand-in names) and the outgoing foreign keys. Its comment holds the progress.
2. ``capture``: a trigger on the table repeats every insert, update and delete on the shadow; the
   backfill's end (the highest key at that moment) is noted. Rows written from here on reach the
   shadow through the trigger.
3. ``backfill``: batches in key order, ``INSERT ... SELECT ... FOR SHARE ... ON CONFLICT DO NOTHING``:
   the share lock keeps a concurrent update or delete of a batch's rows waiting until the batch is in
   (then its trigger corrects the copy), and rows the trigger already copied are skipped. The cursor is
   saved with each batch, in the same transaction, so a rerun goes on from the last batch that committed.
4. ``swap`` (one short transaction, ``lock_timeout``, retried with backoff): ACCESS EXCLUSIVE on the
   table, the last rows copied, the trigger dropped, the table renamed aside and the shadow given its
   name, its indexes and constraint theirs, sequences (serial ownership, identity values), grants and
   owner carried over. Writers wait at most the lock timeout (plus the swap's milliseconds).
5. ``cleanup``: the old table and the trigger function dropped, the identity sequence renamed back,
   statistics refreshed.

Writers never see an error: they wait for a lock at most ``lock_timeout``, as they would for any DDL.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from dbadvisor.dialects.postgres import partitioning as parts
from dbadvisor.dialects.postgres.retry import in_transaction
from dbadvisor.errors import DbAdvisorError
from dbadvisor.model.ddl import RebuildTable, side_name

Conn = psycopg.Connection[Any]
T = TypeVar("T")
Phase = Callable[..., None]  # phase(name, **figures): recorded in the history
MARK = "dbadvisor.rebuild"
TRIGGER = "dbadvisor_capture"


class RebuildError(DbAdvisorError):
    """The rebuild cannot go on; what it did so far stays and a rerun resumes it."""


@dataclass(frozen=True)
class RebuildOptions:
    batch_rows: int = 10_000
    pause_s: float = 0.0  # between batches, to leave the server room
    lock_timeout_ms: int = 500  # for the trigger, the swap and the drop: the longest a writer waits on us
    retries: int = 30
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0


@dataclass(frozen=True)
class Names:
    shadow: str
    old: str
    function: str

    @classmethod
    def of(cls, op: RebuildTable) -> Names:
        return cls(side_name(op.table, "new"), side_name(op.table, "old"), side_name(op.table, "capture"))


def _q(*parts_: str) -> sql.Identifier:
    return sql.Identifier(*parts_)


def exists(conn: Conn, schema: str, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (parts.ident(schema, name),)).fetchone()
    return bool(row and row[0])


def is_partitioned(conn: Conn, schema: str, name: str) -> bool:
    row = conn.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)",
                       (parts.ident(schema, name),)).fetchone()
    return bool(row and row[0])


def state(conn: Conn, op: RebuildTable) -> dict[str, Any] | None:
    """The saved progress of a rebuild of ``op``'s table, from the shadow's comment; None without one.
    RebuildError when a table of the shadow's name exists that is not ours."""
    names = Names.of(op)
    if not exists(conn, op.schema, names.shadow):
        return None
    row = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')",
                       (parts.ident(op.schema, names.shadow),)).fetchone()
    try:
        saved = json.loads(row[0]) if row and row[0] else None
    except ValueError:
        saved = None
    if not isinstance(saved, dict) or saved.get("mark") != MARK:
        raise RebuildError(f"{op.schema}.{names.shadow} exists and dbadvisor did not make it: nothing done; "
                           "drop or rename it first")
    return saved


def done(conn: Conn, op: RebuildTable) -> bool:
    """The table has the shape ``op`` gives it and no rebuild is under way."""
    names = Names.of(op)
    return (exists(conn, op.schema, op.table) and is_partitioned(conn, op.schema, op.table) == op.partitioned
            and not exists(conn, op.schema, names.shadow) and not exists(conn, op.schema, names.old))


def _save(conn: Conn, op: RebuildTable, **values: Any) -> None:
    text = json.dumps({"mark": MARK, "op": op.kind, **values})
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(_q(op.schema, Names.of(op).shadow), sql.Literal(text)))


def _retrying(conn: Conn, opts: RebuildOptions, what: str, log: Callable[[str], None],
              body: Callable[[], T]) -> tuple[T, int]:
    return in_transaction(conn, body, what=what, lock_timeout_ms=opts.lock_timeout_ms, retries=opts.retries,
                          log=log, error=RebuildError, backoff_s=opts.backoff_s, max_backoff_s=opts.max_backoff_s)


def _types(conn: Conn, schema: str, table: str, columns: tuple[str, ...]) -> list[str]:
    rows = dict(conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        (parts.ident(schema, table),)).fetchall())
    missing = [c for c in columns if c not in rows]
    if missing:
        raise RebuildError(f"{schema}.{table} has no column {', '.join(missing)}: the report is stale; nothing done")
    return [str(rows[c]) for c in columns]


_INDEX_HEAD = re.compile(r'^(CREATE (?:UNIQUE )?INDEX )("(?:[^"]|"")+"|\S+)( ON (?:ONLY )?)'
                         r'((?:"(?:[^"]|"")+"|[^\s".]+)\.(?:"(?:[^"]|"")+"|[^\s".]+))( USING .*)$', re.DOTALL)


def _shadow_index(definition: str, schema: str, shadow: str) -> tuple[str, str, str]:
    """(original name, stand-in name, definition on the shadow) of one index definition."""
    m = _INDEX_HEAD.match(definition)
    if m is None:
        raise RebuildError(f"cannot read the index definition {definition!r}")
    name = m.group(2)
    name = name[1:-1].replace('""', '"') if name.startswith('"') else name
    stand_in = side_name(name, "new")
    text = f"{m.group(1)}{parts.ident(stand_in)} ON {parts.ident(schema, shadow)}{m.group(5)}"
    return name, stand_in, text


def prepare(conn: Conn, op: RebuildTable, source_partitioned: bool) -> None:
    names = Names.of(op)
    statements = [parts.create_like(op, names.shadow, op.table, op.partitioned)]
    if op.partitioned:
        statements += [parts.default_partition(op, names.shadow),
                       parts.ensure_partitions(op.schema, op.table, names.shadow, op.interval, op.start, op.premake)]
    statements.append(parts.primary_key(op, names.shadow, side_name(op.constraint, "new")))
    statements += [_shadow_index(d, op.schema, names.shadow)[2] for d in op.indexes]
    statements += parts.foreign_keys(op, names.shadow)
    if not op.partitioned:  # a plain shadow is vacuumed after the swap, not while it fills
        statements.append(sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(
            _q(op.schema, names.shadow)).as_string())
    for text in statements:
        conn.execute(text)
    _save(conn, op, phase="prepared", source_partitioned=source_partitioned)


def _capture_function(op: RebuildTable) -> sql.Composed:
    names = Names.of(op)
    shadow = _q(op.schema, names.shadow)
    cols = sql.SQL(", ").join(map(sql.Identifier, op.copy_columns))
    new_values = sql.SQL(", ").join(sql.SQL("NEW.{}").format(sql.Identifier(c)) for c in op.copy_columns)
    match = sql.SQL(" AND ").join(sql.SQL("{} = OLD.{}").format(sql.Identifier(c), sql.Identifier(c))
                                  for c in op.primary_key)
    body = sql.SQL("""BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    DELETE FROM {shadow} WHERE {match};
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO {shadow} ({cols}) OVERRIDING SYSTEM VALUE VALUES ({values}) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END""").format(shadow=shadow, match=match, cols=cols, values=new_values).as_string()
    tag = "$dbadvisor$" if "$dbadvisor$" not in body else "$dbadvisor_capture$"
    return sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {}").format(
        _q(op.schema, names.function), sql.SQL(f"{tag}\n{body}\n{tag}"))


def capture(conn: Conn, op: RebuildTable, source_partitioned: bool) -> list[str] | None:
    """Install the trigger and note the backfill's end: the highest old key now (None: the table is empty)."""
    names = Names.of(op)
    conn.execute(_capture_function(op))
    conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(_q(TRIGGER), _q(op.schema, op.table)))
    conn.execute(sql.SQL("CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW "
                         "EXECUTE FUNCTION {}()").format(_q(TRIGGER), _q(op.schema, op.table),
                                                        _q(op.schema, names.function)))
    key = op.previous_primary_key
    last = conn.execute(sql.SQL("SELECT ARRAY[{}]::text[] FROM {} ORDER BY {} LIMIT 1").format(
        sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in key), _q(op.schema, op.table),
        sql.SQL(", ").join(sql.SQL("{} DESC").format(sql.Identifier(c)) for c in key))).fetchone()
    until = list(last[0]) if last else None
    _save(conn, op, phase="backfill", cursor=None, until=until, source_partitioned=source_partitioned)
    return until


def _batch(conn: Conn, op: RebuildTable, types: list[str], cursor: list[str] | None, until: list[str],
           rows: int, source_partitioned: bool) -> tuple[int, int, list[str] | None]:
    """Copy the next ``rows`` rows after ``cursor``; (rows read, rows inserted, the new cursor)."""
    names = Names.of(op)
    key = op.previous_primary_key
    keys = sql.SQL(", ").join(map(sql.Identifier, key))
    typed = [sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(t)) for t in types]
    bound = sql.SQL("({}) <= ({})").format(keys, sql.SQL(", ").join(typed))
    where = bound if cursor is None else sql.SQL("({}) > ({}) AND {}").format(keys, sql.SQL(", ").join(typed), bound)
    params = ([] if cursor is None else list(cursor)) + list(until)
    cols = sql.SQL(", ").join(map(sql.Identifier, op.copy_columns))
    only = sql.SQL("" if source_partitioned else "ONLY ")
    query = sql.SQL("""WITH b AS (SELECT {cols} FROM {only}{source} WHERE {where} ORDER BY {keys} LIMIT {n} FOR SHARE),
     i AS (INSERT INTO {shadow} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM b ON CONFLICT DO NOTHING
           RETURNING 1)
SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM i),
       (SELECT ARRAY[{texts}]::text[] FROM b ORDER BY {desc} LIMIT 1)""").format(
        cols=cols, only=only, source=_q(op.schema, op.table), where=where, keys=keys, n=sql.Literal(rows),
        shadow=_q(op.schema, names.shadow),
        texts=sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in key),
        desc=sql.SQL(", ").join(sql.SQL("{} DESC").format(sql.Identifier(c)) for c in key))
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), (list(row[2]) if row[2] is not None else cursor)


def _rename_indexes(conn: Conn, schema: str, table: str, role: str) -> None:
    """Give every index of ``table`` its stand-in name for ``role`` (the old table's, out of the way)."""
    for (name,) in conn.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                "WHERE i.indrelid = to_regclass(%s)", (parts.ident(schema, table),)).fetchall():
        conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(_q(schema, str(name)),
                                                                  _q(side_name(str(name), role))))


def swap(conn: Conn, op: RebuildTable, types: list[str], cursor: list[str] | None, until: list[str] | None,
         source_partitioned: bool, batch_rows: int) -> int:
    """The short exclusive step; returns the rows it still had to copy."""
    names = Names.of(op)
    conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(_q(op.schema, op.table)))
    late = 0
    while until is not None:
        read, inserted, cursor = _batch(conn, op, types, cursor, until, batch_rows, source_partitioned)
        late += inserted
        if read < batch_rows:
            break
    conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(_q(TRIGGER), _q(op.schema, op.table)))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(_q(op.schema, op.table), _q(names.old)))
    _rename_indexes(conn, op.schema, names.old, "old")
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS NULL").format(_q(op.schema, names.shadow)))
    conn.execute(parts.carry_over(op.schema, names.old, names.shadow))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(_q(op.schema, names.shadow), _q(op.table)))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
        _q(op.schema, op.table), _q(side_name(op.constraint, "new")), _q(op.constraint)))
    for definition in op.indexes:
        name, stand_in, _ = _shadow_index(definition, op.schema, names.shadow)
        conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(_q(op.schema, stand_in), _q(name)))
    if not op.partitioned:
        conn.execute(sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(_q(op.schema, op.table)))
    return late


def cleanup(conn: Conn, op: RebuildTable, opts: RebuildOptions, say: Callable[[str], None]) -> None:
    """Drop the old table (its foreign keys first, each in a short transaction of its own: dropping one
    locks the referenced table) and the trigger function; identity sequences take their old names back.
    Each step takes one lock at a time, so no writer (whose inserts lock the sequence, then the
    referenced table) can deadlock with it."""
    names = Names.of(op)
    old = parts.ident(op.schema, names.old)
    if exists(conn, op.schema, names.old):
        renames = conn.execute(
            "SELECT pg_get_serial_sequence(%(new)s, a.attname), (SELECT c.relname FROM pg_class c "
            "        WHERE c.oid = pg_get_serial_sequence(%(old)s, a.attname)::regclass) "
            "FROM pg_attribute a WHERE a.attrelid = to_regclass(%(new)s) AND a.attidentity <> '' "
            "AND NOT a.attisdropped", {"old": old, "new": parts.ident(op.schema, op.table)}).fetchall()
        fks = conn.execute("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND contype = 'f'",
                           (old,)).fetchall()
        steps = [sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(_q(op.schema, names.old), _q(str(fk)))
                 for (fk,) in fks]
        steps.append(sql.SQL("DROP TABLE {}").format(_q(op.schema, names.old)))
        steps += [sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(sql.SQL(str(fresh)), _q(str(old_name)))
                  for fresh, old_name in renames if fresh and old_name]
        for statement in steps:
            _retrying(conn, opts, "clean up", say, partial(conn.execute, statement))
    conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {}()").format(_q(op.schema, names.function)))


def rebuild(conn: Conn, op: RebuildTable, opts: RebuildOptions | None = None, log: Callable[[str], None] | None = None,
            phase: Phase | None = None) -> dict[str, Any]:
    """Run (or resume) the online rebuild of ``op`` on ``conn`` (autocommit); returns its figures."""
    opts = opts or RebuildOptions()
    say = log or (lambda _: None)
    mark = phase or (lambda *_, **__: None)
    names = Names.of(op)
    figures: dict[str, Any] = {"rows_copied": 0, "batches": 0}
    started = time.monotonic()
    saved = state(conn, op)
    if saved is None and exists(conn, op.schema, names.old):
        saved = {"phase": "cleanup"}
    if saved is None:
        if done(conn, op):
            return figures | {"already": True}
        source_partitioned = is_partitioned(conn, op.schema, op.table)
        if source_partitioned == op.partitioned:
            raise RebuildError(f"{op.schema}.{op.table} is already {'partitioned' if op.partitioned else 'plain'}")
        _types(conn, op.schema, op.table, op.copy_columns)
        if not op.partitioned and (op.partman_schema or op.cron):
            _retrying(conn, opts, "stop the partition maintenance", say,
                      lambda: [conn.execute(text) for text in parts.letting_go(op)])
        _retrying(conn, opts, "prepare", say, lambda: prepare(conn, op, source_partitioned))
        mark("prepared", shadow=f"{op.schema}.{names.shadow}")
        saved = {"phase": "prepared", "source_partitioned": source_partitioned}
    source_partitioned = bool(saved.get("source_partitioned"))
    if saved["phase"] == "prepared":
        until, _ = _retrying(conn, opts, "capture trigger", say, lambda: capture(conn, op, source_partitioned))
        mark("capturing", until=until)
        saved = {"phase": "backfill", "cursor": None, "until": until, "source_partitioned": source_partitioned}
    if saved["phase"] == "backfill":
        types = _types(conn, op.schema, op.table, op.previous_primary_key)
        cursor, until = saved.get("cursor"), saved.get("until")
        if saved.get("cursor") is not None:
            mark("resumed", cursor=cursor)
        copy_started = time.monotonic()
        while until is not None:
            def one(cursor: list[str] | None = cursor) -> tuple[int, int, list[str] | None]:
                result = _batch(conn, op, types, cursor, until, opts.batch_rows, source_partitioned)
                _save(conn, op, phase="backfill", cursor=result[2], until=until, source_partitioned=source_partitioned)
                return result
            (read, inserted, cursor), _ = _retrying(conn, opts, "backfill batch", say, one)
            figures["rows_copied"] += inserted
            figures["batches"] += 1
            if read < opts.batch_rows:
                break
            if opts.pause_s:
                time.sleep(opts.pause_s)
        seconds = time.monotonic() - copy_started
        figures["backfill_seconds"] = round(seconds, 2)
        figures["backfill_rows_per_s"] = round(figures["rows_copied"] / seconds) if seconds > 0 else None
        mark("backfilled", rows=figures["rows_copied"], batches=figures["batches"], seconds=round(seconds, 2))
        t0 = time.monotonic()
        late, attempts = _retrying(conn, opts, "swap", say, lambda: swap(conn, op, types, cursor, until,
                                                                          source_partitioned, opts.batch_rows))
        figures |= {"swap_attempts": attempts, "swap_ms": round((time.monotonic() - t0) * 1000, 1),
                    "rows_copied_in_swap": late}
        mark("swapped", attempts=attempts, rows_in_swap=late)
        saved = {"phase": "cleanup"}
    if saved["phase"] == "cleanup":
        cleanup(conn, op, opts, say)
        conn.execute(sql.SQL("ANALYZE {}").format(_q(op.schema, op.table)))
        mark("cleaned up")

        def keep() -> None:  # who keeps the partitions ahead from now on
            for text in parts.keeping(op) if op.partitioned else [parts.forget("partitioning", op.schema, op.table)]:
                conn.execute(text)
        _retrying(conn, opts, "maintenance", say, keep)
        mark("maintained by " + ("pg_partman" if op.partman_schema else "dbadvisor maintain")
             + (" (pg_cron)" if op.cron else ""))
    figures["seconds"] = round(time.monotonic() - started, 2)
    return figures
