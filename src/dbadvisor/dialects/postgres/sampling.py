"""Bounded, read-only samples of a table's values, for what the statistics do not say (the keys of a
JSON column's objects). TABLESAMPLE SYSTEM reads a share of the pages, not the table."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from dbadvisor.dialects.postgres.queries import CONTAINMENT_SAMPLE, JSON_KEYS_SAMPLE
from dbadvisor.model.catalog import Snapshot, TableKey

SAMPLE_ROWS = 1_000


def _percent(rows_in_table: int, rows: int) -> float:
    return 100.0 if rows_in_table <= rows else max(0.01, min(100.0, 100.0 * 2 * rows / rows_in_table))


def containment_share(conn: psycopg.Connection[Any], snapshot: Snapshot, table: TableKey, column: str,
                      value: str, rows: int = SAMPLE_ROWS) -> float | None:
    """The share of sampled rows whose ``column`` contains ``value`` (a JSON text); None when it cannot
    be sampled (not JSON, not valid JSON, a timeout)."""
    found = snapshot.column(table, column)
    t = snapshot.table(table)
    if found is None or found.type not in ("jsonb", "json") or t is None:
        return None
    query = sql.SQL(CONTAINMENT_SAMPLE.sql).format(table=sql.Identifier(*table), column=sql.Identifier(column))
    try:
        with conn.transaction():
            row = conn.execute(query, {"percent": _percent(t.rows, rows), "rows": rows, "value": value}).fetchone()
    except psycopg.Error:
        return None
    return float(row[0]) if row and row[0] is not None else None


def json_keys(conn: psycopg.Connection[Any], snapshot: Snapshot, table: TableKey, column: str,
              keys: int = 5, rows: int = SAMPLE_ROWS) -> list[tuple[str, float, float, str | None]]:
    """The most frequent top-level keys of ``column``'s objects: (key, share of sampled rows that have it,
    distinct values of it per sampled row, one of its values); empty when the column is not JSON or the
    sample fails."""
    found = snapshot.column(table, column)
    t = snapshot.table(table)
    if found is None or found.type not in ("jsonb", "json") or t is None:
        return []
    percent = _percent(t.rows, rows)
    query = sql.SQL(JSON_KEYS_SAMPLE.sql).format(table=sql.Identifier(*table), column=sql.Identifier(column))
    try:
        with conn.transaction():
            return [(str(k), float(share), float(ratio), None if example is None else str(example))
                    for k, share, ratio, example in
                    conn.execute(query, {"percent": percent, "rows": rows, "keys": keys}).fetchall()]
    except psycopg.Error:
        return []
