"""Run a statement several times with EXPLAIN (ANALYZE, BUFFERS) and keep the median.

Only plain queries are run, each inside a READ ONLY transaction that is rolled back: a write statement
from the workload is refused before it reaches the server, and the transaction refuses what slips by
(a volatile function that writes, a FOR UPDATE).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlglot import exp, parse
from sqlglot.errors import SqlglotError

from dbadvisor.dialects.postgres.render import DIALECT as PG
from dbadvisor.errors import DbAdvisorError

_QUERY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge)


class NotMeasurable(DbAdvisorError):
    """A statement that must not or cannot be run for measurement; the message says why."""


@dataclass(frozen=True)
class Measurement:
    median_ms: float
    runs_ms: tuple[float, ...]
    buffers: int  # shared blocks hit + read by the median run
    indexes: tuple[str, ...]  # indexes the plan used
    relations: tuple[str, ...] = ()  # tables (partitions) the plan read

    def to_dict(self) -> dict[str, Any]:
        return {"median_ms": round(self.median_ms, 3), "runs_ms": [round(r, 3) for r in self.runs_ms],
                "buffers": self.buffers, "indexes": list(self.indexes), "relations": list(self.relations)}


def ensure_read_only(sql: str) -> None:
    """Refuse anything but a plain query: verification never runs the workload's writes."""
    try:
        trees = [t for t in parse(sql, read=PG.sqlglot) if t is not None]
    except SqlglotError as exc:
        raise NotMeasurable(f"cannot be parsed: {str(exc).splitlines()[0]}") from None
    if len(trees) != 1:
        raise NotMeasurable("not a single statement")
    tree = trees[0]
    if not isinstance(tree, _QUERY_ROOTS) or next(tree.find_all(*_WRITES), None) is not None:
        raise NotMeasurable("not a read-only query (write statements are never run)")
    if tree.find(exp.Lock) is not None:
        raise NotMeasurable("takes row locks (FOR UPDATE/SHARE)")


def measure(conn: psycopg.Connection[Any], sql: str, runs: int = 5, warmup: int = 1) -> Measurement:
    """Median of ``runs`` timed executions after ``warmup`` untimed ones (which warm the cache, so that
    before and after are compared on equal terms)."""
    ensure_read_only(sql)
    results = []
    for i in range(warmup + runs):
        try:
            with conn.transaction(force_rollback=True):
                conn.execute("SET TRANSACTION READ ONLY")
                row = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}").fetchone()
        except psycopg.Error as exc:
            raise NotMeasurable(f"failed: {str(exc).strip().splitlines()[0]}") from None
        assert row is not None
        if i >= warmup:
            results.append(row[0][0])
    results.sort(key=lambda doc: doc["Execution Time"])
    median = results[len(results) // 2]
    plan = median["Plan"]
    return Measurement(
        median_ms=statistics.median(doc["Execution Time"] for doc in results),
        runs_ms=tuple(doc["Execution Time"] for doc in results),
        buffers=int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0)),
        indexes=tuple(sorted(set(_indexes(plan)))),
        relations=tuple(sorted(set(_relations(plan)))),
    )


def _relations(node: dict[str, Any]) -> Iterator[str]:
    if "Relation Name" in node:
        yield str(node["Relation Name"])
    for child in node.get("Plans", ()):
        yield from _relations(child)


def _indexes(node: dict[str, Any]) -> Iterator[str]:
    if "Index Name" in node:
        yield str(node["Index Name"])
    for child in node.get("Plans", ()):
        yield from _indexes(child)
