"""``analyze sqlite:... --postgres-readiness``: "when do we move to PostgreSQL", answered with measurements.

The SQLite file is loaded into a private PostgreSQL through the model (a loader of ours): each table made
from the snapshot (SQLite's declared types mapped by their affinity; a column whose values do not fit its
declared type is loaded as text, and said so), its rows copied, its keys and indexes made again (foreign
keys only where every row has its parent). Then:

- the workload is transpiled (sqlglot, sqlite to postgres) and timed on both, statement by statement;
  what PostgreSQL refuses is listed with its error;
- writes: single-row insert transactions from one writer, then from several at once, for a few seconds
  each, on a copy of the file (WAL, busy_timeout) and on PostgreSQL: transactions per second and the
  writers' "database is locked" failures;
- PostgreSQL's own findings on the loaded database (the hygiene checks and, where HypoPG is installed,
  the index advisor) with the transpiled workload.
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlglot
from psycopg import sql
from sqlglot.errors import SqlglotError

from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.dialects.postgres.cluster import PrivateCluster
from dbadvisor.model.catalog import Column, ConstraintType, Snapshot
from dbadvisor.model.workload import Workload

WRITE_SECONDS = 3.0
WRITERS = 4
_AFFINITY = (("INT", "bigint"), ("CHAR", "text"), ("CLOB", "text"), ("TEXT", "text"), ("BLOB", "bytea"),
             ("REAL", "double precision"), ("FLOA", "double precision"), ("DOUB", "double precision"))
_FITS = {"bigint": ("integer",), "double precision": ("real", "integer"), "text": ("text",), "bytea": ("blob",),
         "numeric": ("integer", "real")}


@dataclass
class Readiness:
    tables: int = 0
    rows: int = 0
    load_seconds: float = 0.0
    incompatibilities: list[dict[str, Any]] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    writes: dict[str, Any] = field(default_factory=dict)
    postgres_findings: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def postgres_type(column: Column) -> str:
    """SQLite's affinity rules (section 3.1 of its datatype page), as a PostgreSQL type."""
    declared = column.type.upper()
    for needle, pg in _AFFINITY:
        if needle in declared:
            return pg
    return "text" if not declared else "numeric"


def _fits(conn: sqlite3.Connection, table: str, column: str, pg: str) -> int:
    """Rows whose value's storage class does not fit ``pg`` (SQLite keeps what it is given)."""
    allowed = (*_FITS.get(pg, ()), "null")
    marks = ", ".join("?" for _ in allowed)
    row = conn.execute(f'SELECT count(*) FROM "{table}" WHERE typeof("{column}") NOT IN ({marks})',  # noqa: S608
                       allowed).fetchone()
    return int(row[0]) if row else 0


def load(source: sqlite3.Connection, snapshot: Snapshot, target: psycopg.Connection[Any], out: Readiness) -> None:
    started = time.monotonic()
    for table in snapshot.tables:
        columns = sorted(snapshot.columns_of(table.key), key=lambda c: c.position)
        types = []
        for c in columns:
            pg = postgres_type(c)
            misfits = _fits(source, table.name, c.name, pg)
            if misfits:
                out.incompatibilities.append({"kind": "type", "table": table.qualname, "column": c.name,
                                              "declared": c.type, "postgres": pg, "rows": misfits,
                                              "loaded_as": "text"})
                pg = "text"
            types.append(pg)
        pk = next((k for k in snapshot.constraints_of(table.key) if k.type == ConstraintType.PRIMARY_KEY), None)
        defs = [sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(t),
                                          sql.SQL(" NOT NULL" if c.not_null else ""))
                for c, t in zip(columns, types, strict=True)]
        if pk:
            defs.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, pk.columns))))
        target.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table.name), sql.SQL(", ").join(defs)))
        names = ", ".join('"' + c.name.replace('"', '""') + '"' for c in columns)
        with target.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c.name) for c in columns))) as copy:
            for row in source.execute(f'SELECT {names} FROM "{table.name}"'):  # noqa: S608 - quoted names
                copy.write_row(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
                out.rows += 1
        out.tables += 1
    for index in snapshot.indexes:
        if index.is_primary:
            continue
        keys = ", ".join(k.expression if k.column is None else '"' + k.column.replace('"', '""') + '"'
                         for k in index.keys)
        text = f'CREATE {"UNIQUE " if index.is_unique else ""}INDEX "{index.name}" ON "{index.table}" ({keys})' + (
            f" WHERE {index.predicate}" if index.predicate else "")
        try:
            translated = sqlglot.transpile(text, read="sqlite", write="postgres")[0]
            with target.transaction():
                target.execute(translated)
        except (SqlglotError, psycopg.Error) as exc:
            out.incompatibilities.append({"kind": "index", "index": index.name, "sqlite": index.definition,
                                          "error": str(exc).strip().splitlines()[0]})
    for fk in (c for c in snapshot.constraints if c.type == ConstraintType.FOREIGN_KEY):
        orphans = snapshot.foreign_key_violations.get(f"main.{fk.table}", 0)
        if orphans:
            out.incompatibilities.append({"kind": "foreign_key", "table": f"main.{fk.table}", "rows": orphans,
                                          "detail": "rows point nowhere: the constraint is not created"})
            continue
        try:
            with target.transaction():
                target.execute(sql.SQL("ALTER TABLE {} ADD FOREIGN KEY ({}) REFERENCES {} ({})").format(
                    sql.Identifier(fk.table), sql.SQL(", ").join(map(sql.Identifier, fk.columns)),
                    sql.Identifier(fk.ref_table or ""), sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns))))
        except psycopg.Error as exc:
            out.incompatibilities.append({"kind": "foreign_key", "table": f"main.{fk.table}",
                                          "error": str(exc).strip().splitlines()[0]})
    target.execute("ANALYZE")
    out.load_seconds = round(time.monotonic() - started, 2)


def _time(run: Any, runs: int = 3) -> float:
    run()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def replay(source: sqlite3.Connection, target: psycopg.Connection[Any], workload: Workload, out: Readiness) -> None:
    for st in workload.statements:
        entry: dict[str, Any] = {"sqlite": st.query, "weight": st.weight if st.weight is not None else st.calls}
        try:
            entry["postgres"] = sqlglot.transpile(st.query, read="sqlite", write="postgres")[0]
        except SqlglotError as exc:
            entry["error"] = f"cannot be translated: {str(exc).splitlines()[0]}"
            out.statements.append(entry)
            continue
        if not st.query.lstrip().lower().startswith(("select", "with")):
            entry["not_measured"] = "writes are measured by the write test, not replayed"
            out.statements.append(entry)
            continue
        try:
            entry["sqlite_ms"] = round(_time(lambda q=st.query: source.execute(q).fetchall()), 3)
            with target.transaction(force_rollback=True):
                entry["postgres_ms"] = round(_time(lambda q=entry["postgres"]: target.execute(q).fetchall()), 3)
        except (sqlite3.Error, psycopg.Error) as exc:
            entry["error"] = str(exc).strip().splitlines()[0]
            problem = {"kind": "sql", "statement": st.query, "postgres": entry["postgres"], "error": entry["error"]}
            if "json" in entry["error"].lower():
                problem["hint"] = "the JSON is stored as text: make the column jsonb (and its filters use ->>)"
            out.incompatibilities.append(problem)
        out.statements.append(entry)


def _writers(make: Any, insert: Any, n: int, seconds: float) -> dict[str, Any]:
    done, failed = [0] * n, [0] * n
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        conn = make()
        try:
            while time.monotonic() < stop:
                try:
                    insert(conn, i)
                    done[i] += 1
                except (sqlite3.OperationalError, psycopg.Error):
                    failed[i] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"writers": n, "tx_per_s": round(sum(done) / seconds), "failed": sum(failed)}


def writes(path: Path, dsn: str, out: Readiness, seconds: float = WRITE_SECONDS, writers: int = WRITERS) -> None:
    with tempfile.TemporaryDirectory(prefix="dbadvisor-readiness-") as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copy(path, copy)
        with closing(sqlite3.connect(copy)) as lite_conn:
            lite_conn.execute("PRAGMA journal_mode = WAL")
            lite_conn.execute("CREATE TABLE dbadvisor_writes (id INTEGER PRIMARY KEY, writer INTEGER, at TEXT, "
                              "payload TEXT)")
            lite_conn.commit()

        def lite() -> sqlite3.Connection:
            conn = sqlite3.connect(copy, timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous = NORMAL")
            return conn

        def lite_insert(conn: sqlite3.Connection, i: int) -> None:
            conn.execute("INSERT INTO dbadvisor_writes (writer, at, payload) VALUES (?, datetime('now'), ?)",
                         (i, "x" * 100))

        with psycopg.connect(dsn, autocommit=True) as pg_conn:
            pg_conn.execute("CREATE TABLE dbadvisor_writes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                         "writer int, at timestamptz, payload text)")

        def pg() -> psycopg.Connection[Any]:
            return psycopg.connect(dsn, autocommit=True)

        def pg_insert(conn: psycopg.Connection[Any], i: int) -> None:
            conn.execute("INSERT INTO dbadvisor_writes (writer, at, payload) VALUES (%s, now(), %s)", (i, "x" * 100))

        out.writes = {"seconds": seconds, "sqlite": [_writers(lite, lite_insert, n, seconds) for n in (1, writers)],
                      "postgres": [_writers(pg, pg_insert, n, seconds) for n in (1, writers)],
                      "note": "single-row insert transactions; SQLite in WAL with synchronous=NORMAL and "
                              "busy_timeout 5 s, PostgreSQL with its defaults (synchronous_commit on)"}


def measure(path: Path, snapshot: Snapshot, workload: Workload | None, workload_files: tuple[Path, ...] = (),
            write_seconds: float = WRITE_SECONDS) -> Readiness:
    """Load ``path`` into a private PostgreSQL, replay, time the writes, and list PostgreSQL's findings."""
    from dbadvisor.dialects.sqlite.connection import open_read_only

    out = Readiness()
    source = open_read_only(path)
    try:
        with PrivateCluster() as cluster, tempfile.TemporaryDirectory(prefix="dbadvisor-readiness-") as tmp:
            extensions = tuple(e for e in ("pg_stat_statements", "hypopg") if e in cluster.available_extensions())
            dsn = cluster.create_database("readiness", extensions)
            with psycopg.connect(dsn, autocommit=True) as target:
                load(source, snapshot, target, out)
                if workload is not None:
                    replay(source, target, workload, out)
            translated = Path(tmp) / "postgres.sql"
            translated.write_text("".join(f"-- weight: {s['weight']}\n{s['postgres']};\n" for s in out.statements
                                          if "postgres" in s and "error" not in s))
            report = analyze(dsn, AnalyzeOptions(
                only=("duplicate_index", "redundant_index", "unindexed_foreign_key", "missing_index"),
                workload=(translated,) if out.statements else ()))
            out.postgres_findings = [{"id": f.id, "title": f.title, "sql": f.sql} for f in report.findings]
            writes(path, dsn, out, write_seconds)
    finally:
        source.close()
    return out
