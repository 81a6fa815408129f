"""Timing statements and reading their plans on SQLite (a private copy of the file): what the advisor and
``verify`` measure with, so both count the same way."""

from __future__ import annotations

import re
import sqlite3
import statistics
import time


def plan(conn: sqlite3.Connection, sql: str) -> str:
    """EXPLAIN QUERY PLAN's lines, joined."""
    return " | ".join(str(r[-1]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


def plan_uses(text: str, index: str) -> bool:
    """Whether a plan (from ``plan``) reads the index ``index`` (its name as a whole word)."""
    return re.search(rf"\bINDEX {re.escape(index)}\b", text) is not None


def measure(conn: sqlite3.Connection, sql: str, runs: int, once_over_ms: float | None = None) -> float:
    """Median time (ms) of ``runs`` runs after a warm-up; with ``once_over_ms``, a warm-up slower than
    that is the one run (the median of slow scans varies little)."""
    times = []
    for i in range(1 + runs):
        start = time.perf_counter()
        conn.execute(sql).fetchall()
        elapsed = (time.perf_counter() - start) * 1000
        if i:
            times.append(elapsed)
        elif once_over_ms is not None and elapsed > once_over_ms:
            times.append(elapsed)
            break
    return statistics.median(times)


def index_bytes(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (name,)).fetchone()
    return int(row[0] or 0) if row else 0
