"""Bounded, read-only samples of a table's values, for what the statistics do not say (the keys of a
JSON column's objects). TABLESAMPLE SYSTEM reads a share of the pages, not the table."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from dbadvisor.dialects.postgres.queries import JSON_KEYS_SAMPLE
from dbadvisor.model.catalog import Snapshot, TableKey

SAMPLE_ROWS = 1_000


def json_keys(conn: psycopg.Connection[Any], snapshot: Snapshot, table: TableKey, column: str,
              keys: int = 5, rows: int = SAMPLE_ROWS) -> list[tuple[str, float, float, str | None]]:
    """The most frequent top-level keys of ``column``'s objects: (key, share of sampled rows that have it,
    distinct values of it per sampled row, one of its values); empty when the column is not JSON or the
    sample fails."""
    found = snapshot.column(table, column)
    t = snapshot.table(table)
    if found is None or found.type not in ("jsonb", "json") or t is None:
        return []
    percent = 100.0 if t.rows <= rows else max(0.01, min(100.0, 100.0 * 2 * rows / t.rows))
    query = sql.SQL(JSON_KEYS_SAMPLE.sql).format(table=sql.Identifier(*table), column=sql.Identifier(column))
    try:
        with conn.transaction():
            return [(str(k), float(share), float(ratio), None if example is None else str(example))
                    for k, share, ratio, example in
                    conn.execute(query, {"percent": percent, "rows": rows, "keys": keys}).fetchall()]
    except psycopg.Error:
        return []
