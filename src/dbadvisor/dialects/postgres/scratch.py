"""A scratch database to measure on: the target's schema (``pg_dump --schema-only``) and its rows, every
row of a small table and a uniform sample (TABLESAMPLE BERNOULLI) of a large one, then ANALYZE, so that
the planner sees the shapes and statistics the target has, at a size a scratch server can hold.

Only tables are copied, as the query plans need them; constraints that a sample breaks (a foreign key
whose parent row was not sampled) are reported and left out rather than failing the build.

A build marks the scratch database (a comment on it) as ``building`` before it starts and ``complete``
when it ends. An interrupted build (SIGINT, a killed connection) leaves ``building``, and the next
verify wipes and rebuilds it rather than measuring indexes on half-copied tables. A non-empty scratch
database without our mark is the user's own, and is used as it is.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dbadvisor.dialects.postgres import dsn as dsnlib
from dbadvisor.dialects.postgres.cluster import find_bindir
from dbadvisor.dialects.postgres.connection import connect
from dbadvisor.dialects.postgres.queries import USER_TABLE_COUNT
from dbadvisor.errors import DbAdvisorError
from dbadvisor.model.catalog import Snapshot, TableKind

DEFAULT_SAMPLE_ROWS = 1_000_000  # per table; larger tables are sampled down to about this many rows


class ScratchError(DbAdvisorError):
    """The scratch database could not be built."""


@dataclass
class ScratchBuild:
    built: bool  # False: the scratch database already had tables and was used as it is
    rebuilt: bool = False  # an unfinished earlier build was wiped first
    tables: int = 0
    rows: int = 0
    sampled: dict[str, float] = field(default_factory=dict)  # table -> fraction kept
    problems: list[str] = field(default_factory=list)


def is_empty(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(USER_TABLE_COUNT.sql).fetchone()
    return row is not None and int(row[0]) == 0


MARK_BUILDING = "dbadvisor scratch: building"
MARK_COMPLETE = "dbadvisor scratch: complete"


def mark(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute("SELECT shobj_description(d.oid, 'pg_database') FROM pg_database d "
                       "WHERE d.datname = current_database()").fetchone()
    return str(row[0]) if row and row[0] else None


def _set_mark(conn: psycopg.Connection[Any], text: str) -> None:
    name = conn.execute("SELECT current_database()").fetchone()
    assert name is not None
    try:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(str(name[0])), sql.Literal(text)))
    except psycopg.Error as exc:
        raise ScratchError(f"cannot mark the scratch database as dbadvisor's (COMMENT ON DATABASE needs its "
                           f"owner): {str(exc).strip().splitlines()[0]}") from None


def _wipe(conn: psycopg.Connection[Any]) -> None:
    """Drop every schema of a scratch database that our own mark proves we built (and did not finish)."""
    rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', "
                        "'information_schema', 'pg_toast') AND nspname !~ '^pg_(toast_)?temp_'").fetchall()
    for (name,) in rows:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(str(name))))
    conn.execute("CREATE SCHEMA public")


def build(
    source_dsn: str,
    scratch: psycopg.Connection[Any],
    scratch_dsn: str,
    snapshot: Snapshot,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    progress: Callable[[str], None] | None = None,
) -> ScratchBuild:
    """Fill the empty scratch database from the target (or rebuild one whose build we left unfinished);
    a non-empty one that we completed, or that is not ours, is used as it is."""
    state = mark(scratch)
    rebuilt = False
    if state == MARK_BUILDING:
        if progress:
            progress("an earlier build did not finish: rebuilding")
        _wipe(scratch)
        rebuilt = True
    elif not is_empty(scratch):
        return ScratchBuild(built=False)
    _set_mark(scratch, MARK_BUILDING)
    out = ScratchBuild(built=True, rebuilt=rebuilt)
    if progress:
        progress("schema")
    _restore(source_dsn, scratch_dsn, "pre-data", out)
    source = connect(source_dsn)  # read-only, bounded and marked like every analysis session
    try:
        source.execute("SET statement_timeout = 0")  # a large table's copy takes what it takes
        tables = [t for t in snapshot.tables if t.kind in (TableKind.PLAIN, TableKind.PARTITION)]
        for i, table in enumerate(tables, 1):
            if progress:
                progress(f"copy {table.qualname} ({i}/{len(tables)})")
            out.rows += _copy(source, scratch, snapshot, table.key, table.rows, sample_rows, out)
            out.tables += 1
    finally:
        source.close()
    if progress:
        progress("indexes and constraints")
    _restore(source_dsn, scratch_dsn, "post-data", out)
    scratch.execute("ANALYZE")
    _set_mark(scratch, MARK_COMPLETE)
    return out


def _copy(source: psycopg.Connection[Any], scratch: psycopg.Connection[Any], snapshot: Snapshot,
          key: tuple[str, str], rows: int, sample_rows: int, out: ScratchBuild) -> int:
    columns = [c.name for c in snapshot.columns_of(key) if not c.generated]
    target = sql.Identifier(*key)
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    select = sql.SQL("SELECT {} FROM ONLY {}").format(cols, target)
    if rows > sample_rows:
        fraction = sample_rows / rows
        out.sampled[".".join(key)] = fraction
        select = sql.SQL("{} TABLESAMPLE BERNOULLI ({})").format(select, sql.Literal(round(100 * fraction, 6)))
    with source.cursor() as src, scratch.cursor() as dst, \
            src.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(select)) as reader, \
            dst.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(target, cols)) as writer:
        for chunk in reader:
            writer.write(chunk)
    row = scratch.execute(sql.SQL("SELECT count(*) FROM ONLY {}").format(target)).fetchone()
    return int(row[0]) if row else 0


def _client_env(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password, and an environment that carries the password instead, so that it
    never shows in a process list."""
    params = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    env = dict(os.environ)
    if "password" in params:
        env["PGPASSWORD"] = params.pop("password")
    return make_conninfo(**params), env


def _restore(source_dsn: str, scratch_dsn: str, section: str, out: ScratchBuild) -> None:
    """``pg_dump --section`` of the target piped into psql on the scratch database. Errors do not stop
    psql: what failed (a constraint the sample breaks) is noted in ``out.problems``."""
    bindir = find_bindir()
    src, src_env = _client_env(source_dsn)
    dst, dst_env = _client_env(scratch_dsn)
    dump = subprocess.run(
        [str(bindir / "pg_dump"), "--schema-only", "--no-owner", "--no-privileges", f"--section={section}",
         "-d", src], capture_output=True, env=src_env, timeout=600, check=False)
    if dump.returncode != 0:
        raise ScratchError(f"pg_dump of {dsnlib.describe(source_dsn)} failed: "
                           f"{dsnlib.scrub(dump.stderr.decode(errors='replace').strip()[-500:], source_dsn)}")
    restore = subprocess.run(
        [str(bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=0", "-d", dst, "-f", "-"],
        input=dump.stdout, capture_output=True, env=dst_env, timeout=3600, check=False)
    errors = [line for line in restore.stderr.decode(errors="replace").splitlines() if "ERROR:" in line]
    if restore.returncode != 0:
        raise ScratchError(f"psql on {dsnlib.describe(scratch_dsn)} failed: {' '.join(errors)[-500:]}")
    out.problems += [_problem(section, dsnlib.scrub(e, scratch_dsn), bool(out.sampled)) for e in errors]


_FK = re.compile(r'violates foreign key constraint "((?:[^"]|"")+)"')


def _problem(section: str, error: str, sampled: bool) -> str:
    """A restore error as the report says it: a foreign key that a sample breaks is expected, not a
    failure of the build (plans do not use foreign keys), and says so."""
    fk = _FK.search(error)
    if fk and sampled:
        return (f"foreign key {fk.group(1)} left out of the scratch copy: sampled rows lack their parent rows "
                "(expected with sampling; query plans do not use it)")
    return f"{section}: {error}"
