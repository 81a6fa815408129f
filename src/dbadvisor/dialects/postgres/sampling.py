"""Bounded, read-only samples of a table's values, for what the statistics do not say (the keys of a
JSON column's objects). TABLESAMPLE SYSTEM reads a share of the pages, not the table."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from dbadvisor.dialects.postgres.queries import CONTAINMENT_SAMPLE, JSON_KEYS_SAMPLE
from dbadvisor.model.catalog import Snapshot, TableKey

SAMPLE_ROWS = 1_000


def _sample(conn: psycopg.Connection[Any], snapshot: Snapshot, table: TableKey, column: str, text: str,
            params: dict[str, Any], rows: int) -> list[tuple[Any, ...]] | None:
    """Run a sample query (``text`` with ``{table}``, ``{column}`` and ``%(percent)s``/``%(rows)s``) over a
    JSON column, in a savepoint: None when the column is not JSON or the sample fails (a timeout, a
    privilege, a value that is not JSON), so the caller goes on without."""
    found = snapshot.column(table, column)
    t = snapshot.table(table)
    if found is None or found.type not in ("jsonb", "json") or t is None:
        return None
    percent = 100.0 if t.rows <= rows else max(0.01, min(100.0, 100.0 * 2 * rows / t.rows))
    query = sql.SQL(text).format(table=sql.Identifier(*table), column=sql.Identifier(column))
    try:
        with conn.transaction():
            return conn.execute(query, {**params, "percent": percent, "rows": rows}).fetchall()
    except psycopg.Error:
        return None


def containment_share(conn: psycopg.Connection[Any], snapshot: Snapshot, table: TableKey, column: str,
                      value: str, rows: int = SAMPLE_ROWS) -> float | None:
    """The share of sampled rows whose ``column`` contains ``value`` (a JSON text); None when it cannot
    be sampled (not JSON, not valid JSON, a timeout)."""
    found = _sample(conn, snapshot, table, column, CONTAINMENT_SAMPLE.sql, {"value": value}, rows)
    return float(found[0][0]) if found and found[0][0] is not None else None


def json_keys(conn: psycopg.Connection[Any], snapshot: Snapshot, table: TableKey, column: str,
              keys: int = 5, rows: int = SAMPLE_ROWS) -> list[tuple[str, float, float, str | None]]:
    """The most frequent top-level keys of ``column``'s objects: (key, share of sampled rows that have it,
    distinct values of it per sampled row, one of its values); empty when the column is not JSON or the
    sample fails."""
    found = _sample(conn, snapshot, table, column, JSON_KEYS_SAMPLE.sql, {"keys": keys}, rows)
    return [(str(k), float(share), float(ratio), None if example is None else str(example))
            for k, share, ratio, example in found or []]
