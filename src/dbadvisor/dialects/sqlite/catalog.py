"""Snapshot a SQLite file into the model: tables, columns, indexes (with their key order, collation,
expression keys and partial predicates), keys and foreign keys, from ``sqlite_schema`` and the
``pragma_*`` table-valued functions; row counts from ``sqlite_stat1`` when ANALYZE has run (else counted);
sizes from ``dbstat``; the file's settings (journal mode, page counts, freelist, auto_vacuum) as settings.

Everything is read on the read-only connection; tables are named ``main.<table>``.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from dbadvisor.dialects.sqlite.connection import is_wal
from dbadvisor.model.capabilities import Capabilities
from dbadvisor.model.catalog import (
    Column,
    ColumnStats,
    Constraint,
    ConstraintType,
    DatabaseInfo,
    Index,
    IndexKey,
    Schema,
    Setting,
    Snapshot,
    Table,
    TableKind,
    Trigger,
)
from dbadvisor.model.collected import Collected
from dbadvisor.model.findings import Skipped

SCHEMA = "main"
# Settings the file keeps, read with PRAGMA. foreign_keys, busy_timeout and synchronous belong to each
# connection, not to the file: what an application's connections set is not in it.
PRAGMAS = ("journal_mode", "page_size", "page_count", "freelist_count", "auto_vacuum", "user_version", "encoding")
_ACTIONS = {"NO ACTION": "no action", "RESTRICT": "restrict", "CASCADE": "cascade", "SET NULL": "set null",
            "SET DEFAULT": "set default"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def collect(conn: sqlite3.Connection, path: Path) -> Collected:
    problems: list[Skipped] = []
    version = sqlite3.sqlite_version_info
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema").fetchall()
    tables = sorted(r[1] for r in rows if r[0] == "table" and not r[1].startswith("sqlite_"))
    sql_of = {(r[0], r[1]): " ".join(str(r[3]).split()) if r[3] else None for r in rows}
    flags = _table_flags(conn)
    stat1 = _stat1(conn)
    sizes = _sizes(conn, problems)
    out_tables, columns, indexes, constraints = [], [], [], []
    for t in tables:
        count = _rows(stat1, t)
        if count is None:
            count = int(conn.execute(f"SELECT count(*) FROM {_q(t)}").fetchone()[0])  # noqa: S608 - quoted name
        index_list = conn.execute("SELECT * FROM pragma_index_list(?)", (t,)).fetchall()
        index_names = [str(r[1]) for r in index_list]
        out_tables.append(Table(SCHEMA, t, TableKind.PLAIN, "", row_estimate=count, heap_bytes=sizes.get(t, 0),
                                index_bytes=sum(sizes.get(i, 0) for i in index_names),
                                total_bytes=sizes.get(t, 0) + sum(sizes.get(i, 0) for i in index_names),
                                reloptions=flags.get(t, {})))
        cols = conn.execute("SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?)",
                            (t,)).fetchall()
        distinct = _distinct_from_stat1(conn, t, stat1, count)
        pk = [str(c[1]) for c in sorted((c for c in cols if c[5]), key=lambda c: c[5])]
        for cid, name, type_, notnull, default, _pkpos, hidden in cols:
            stats = None
            if name in distinct:
                stats = ColumnStats(0.0, 0, float(distinct[name]))
            columns.append(Column(SCHEMA, t, str(name), int(cid) + 1, str(type_ or "").lower(),
                                  bool(notnull) or name in pk, default=default, generated=hidden in (2, 3),
                                  stats=stats))
        if pk:
            constraints.append(Constraint(SCHEMA, t, f"{t}_pkey", ConstraintType.PRIMARY_KEY, tuple(pk),
                                          f"PRIMARY KEY ({', '.join(pk)})"))
        for fk_id, group in _foreign_keys(conn, t).items():
            ref, pairs, on_update, on_delete = group
            ref_cols = tuple(p[1] or "" for p in pairs)
            constraints.append(Constraint(
                SCHEMA, t, f"{t}_fk{fk_id}", ConstraintType.FOREIGN_KEY, tuple(p[0] for p in pairs),
                f"FOREIGN KEY ({', '.join(p[0] for p in pairs)}) REFERENCES {ref}({', '.join(ref_cols)})",
                ref_schema=SCHEMA, ref_table=ref, ref_columns=ref_cols,
                on_update=_ACTIONS.get(on_update, "no action"), on_delete=_ACTIONS.get(on_delete, "no action")))
        for seq, name, unique, origin, partial in index_list:
            del seq
            definition = sql_of.get(("index", name))
            keys = _keys(conn, str(name), definition)
            index = Index(SCHEMA, str(name), SCHEMA, t, "btree", keys,
                          definition or f"-- {origin} index of {t} ({', '.join(k.expression for k in keys)})",
                          predicate=_predicate(definition) if partial else None, is_unique=bool(unique),
                          is_primary=origin == "pk", size_bytes=sizes.get(str(name), 0),
                          constraint=str(name) if origin in ("pk", "u") else None,
                          constraint_type=ConstraintType.PRIMARY_KEY if origin == "pk"
                          else ConstraintType.UNIQUE if origin == "u" else None)
            indexes.append(index)
    triggers = [Trigger(SCHEMA, str(r[2]), str(r[1]), str(r[3] or "")) for r in rows if r[0] == "trigger"]
    settings = {name: Setting(name, str(value)) for name in PRAGMAS
                if (value := _pragma(conn, name)) is not None}
    if is_wal(path):  # an immutable (idle WAL) connection reports the journal it uses, not the file's
        settings["journal_mode"] = Setting("journal_mode", "wal")
    settings["analyzed"] = Setting("analyzed", "on" if stat1 else "off")
    database = DatabaseInfo("sqlite", path.name, sqlite3.sqlite_version,
                            version[0] * 1_000_000 + version[1] * 1000 + version[2], path.stat().st_size,
                            collected_at=datetime.now(UTC), encoding=settings.get("encoding", Setting("", "")).value)
    violations = {f"{SCHEMA}.{t}": n for t in tables if any(c.table == t and c.type == ConstraintType.FOREIGN_KEY
                                                           for c in constraints) and (n := _violations(conn, t))}
    snapshot = Snapshot(database, (Schema(SCHEMA, ""),), tuple(out_tables), tuple(columns), tuple(indexes),
                        tuple(constraints), settings=settings, triggers=tuple(triggers),
                        foreign_key_violations=violations)
    capabilities = Capabilities(database.server_version_num, live_statistics=False, connected=False,
                                source=f"SQLite file {path.name}")
    return Collected(snapshot, capabilities, tuple(problems))


VIOLATIONS_COUNTED = 1000


def _violations(conn: sqlite3.Connection, table: str) -> int:
    """Rows of ``table`` whose foreign keys point nowhere, up to VIOLATIONS_COUNTED."""
    try:
        row = conn.execute("SELECT count(*) FROM (SELECT 1 FROM pragma_foreign_key_check(?) LIMIT ?)",
                           (table, VIOLATIONS_COUNTED)).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def _pragma(conn: sqlite3.Connection, name: str) -> object:
    try:
        row = conn.execute(f"PRAGMA {name}").fetchone()  # a name from PRAGMAS, never from input
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _table_flags(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """WITHOUT ROWID and STRICT (pragma_table_list, SQLite 3.37+), as table options."""
    try:
        rows = conn.execute("SELECT name, wr, strict FROM pragma_table_list WHERE schema = 'main'").fetchall()
    except sqlite3.Error:
        return {}
    return {str(n): {k: "true" for k, on in (("without_rowid", wr), ("strict", st)) if on} for n, wr, st in rows}


def _stat1(conn: sqlite3.Connection) -> dict[tuple[str, str | None], tuple[int, ...]]:
    """sqlite_stat1's figures by (table, index): the rows, then the rows per key of each prefix; empty when
    ANALYZE never ran."""
    try:
        rows = conn.execute("SELECT tbl, idx, stat FROM sqlite_stat1").fetchall()
    except sqlite3.Error:
        return {}
    out: dict[tuple[str, str | None], tuple[int, ...]] = {}
    for tbl, idx, stat in rows:
        figures = tuple(int(x) for x in str(stat or "").split() if x.isdigit())
        if figures:
            out[(str(tbl), str(idx) if idx else None)] = figures
    return out


def _rows(stat1: dict[tuple[str, str | None], tuple[int, ...]], table: str) -> int | None:
    """The table's rows as ANALYZE counted them (any of its entries says), or None."""
    counts = [f[0] for (t, _), f in stat1.items() if t == table]
    return max(counts) if counts else None


def _distinct_from_stat1(conn: sqlite3.Connection, table: str, stat1: dict[tuple[str, str | None], tuple[int, ...]],
                         rows: int) -> dict[str, float]:
    """Distinct values of each index's leading column, from sqlite_stat1's "rows per key" figures."""
    out: dict[str, float] = {}
    for (tbl, idx), figures in stat1.items():
        if tbl != table or idx is None or len(figures) < 2:
            continue
        lead = conn.execute("SELECT name FROM pragma_index_info(?) WHERE seqno = 0", (idx,)).fetchone()
        if lead and lead[0]:
            out[str(lead[0])] = max(rows / max(figures[1], 1), 1.0)
    return out


def _sizes(conn: sqlite3.Connection, problems: list[Skipped]) -> dict[str, int]:
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.Error as exc:
        problems.append(Skipped("collect.dbstat", f"sizes not read (dbstat: {exc})"))
        return {}
    return {str(n): int(s or 0) for n, s in rows}


ForeignKey = tuple[str, list[tuple[str, str | None]], str, str]  # referenced table, (from, to)s, on update/delete


def _foreign_keys(conn: sqlite3.Connection, table: str) -> dict[int, ForeignKey]:
    groups: dict[int, ForeignKey] = {}
    for fk_id, _seq, ref, frm, to, on_update, on_delete, _match in conn.execute(
            "SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", (table,)).fetchall():
        if fk_id not in groups:
            groups[fk_id] = (str(ref), [], str(on_update), str(on_delete))
        groups[fk_id][1].append((str(frm), None if to is None else str(to)))
    return groups


def _keys(conn: sqlite3.Connection, name: str, definition: str | None) -> tuple[IndexKey, ...]:
    """The index's keys in order: columns by name, expressions (cid -2) from its CREATE INDEX text."""
    expressions = _expression_keys(definition)
    keys = []
    for _seqno, cid, column, desc, coll, key in conn.execute(
            "SELECT seqno, cid, name, \"desc\", coll, key FROM pragma_index_xinfo(?) ORDER BY seqno", (name,)):
        if not key:
            continue  # the rowid (or the primary key, WITHOUT ROWID) stored after the keys
        collation = None if str(coll).upper() == "BINARY" else str(coll)
        if cid == -2:
            text = expressions.pop(0) if expressions else "?"
            keys.append(IndexKey(text, None, bool(desc), collation=collation))
        else:
            keys.append(IndexKey(str(column), str(column), bool(desc), collation=collation))
    return tuple(keys)


def _parsed(definition: str | None) -> exp.Expr | None:
    if not definition:
        return None
    try:
        return sqlglot.parse_one(definition, read="sqlite")
    except (SqlglotError, ValueError):
        return None


def _expression_keys(definition: str | None) -> list[str]:
    tree = _parsed(definition)
    if tree is None:
        return []
    params = tree.find(exp.IndexParameters)
    cols = params.args.get("columns") if params is not None else None
    out = []
    for c in cols or ():
        node = c.this if isinstance(c, exp.Ordered) else c
        if not isinstance(node, exp.Column):
            out.append(node.sql(dialect="sqlite"))
    return out


def _predicate(definition: str | None) -> str | None:
    if not definition:
        return None
    m = re.search(r"\bWHERE\b(.*)$", definition, re.IGNORECASE | re.DOTALL)
    return m.group(1).strip() if m else None
