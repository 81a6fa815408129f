"""Benchmark: dbadvisor's index set against pg_qualstats_index_advisor()'s (the engine of POWA's index
suggestions) on application databases, each advisor with its default input and defaults.

Per database: the application's workload is run through a driver that binds parameters on the server
(so pg_stat_statements keeps ``$n``: dbadvisor's default input) with pg_qualstats preloaded and
installed (Debian's postgresql-15-pg-qualstats). Then each advisor's indexes are built in turn, and the
workload's statements are timed with real values (EXPLAIN ANALYZE, median of 5, weighted by how often
the application runs each): no indexes, dbadvisor's, pg_qualstats'. Needs HypoPG (PostgreSQL 15 here).
Target (workloads issue): dbadvisor's measured workload time at least as good as pg_qualstats'.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import ClientCursor

from bench.workload_scale import SCHEMA as CRM_SCHEMA
from bench.workload_scale import users
from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.dialects.postgres.cluster import PrivateCluster
from dbadvisor.dialects.postgres.explain import measure
from dbadvisor.model.ddl import CreateIndex

SHOP_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, country text NOT NULL, created_at timestamptz);
INSERT INTO customers SELECT g, 'c' || g || '@shop.io', (ARRAY['de', 'fr', 'us', 'jp'])[1 + g % 4],
       now() - g * interval '5 minutes' FROM generate_series(1, 100000) g;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, status text NOT NULL,
                     total numeric(10, 2) NOT NULL, created_at timestamptz NOT NULL, meta jsonb NOT NULL);
INSERT INTO orders SELECT g, 1 + g % 100000, CASE WHEN g % 250 = 0 THEN 'refunded' WHEN g % 9 = 0 THEN 'pending'
       ELSE 'paid' END, g % 700, now() - g * interval '30 seconds',
       jsonb_build_object('channel', (ARRAY['web', 'app'])[1 + g % 2], 'ref', 'R' || g)
FROM generate_series(1, 600000) g;
CREATE TABLE order_items (order_id bigint NOT NULL, sku text NOT NULL, qty int NOT NULL);
INSERT INTO order_items SELECT 1 + g % 600000, 'SKU' || (g % 5000), 1 + g % 3 FROM generate_series(1, 900000) g;
ANALYZE;
"""

Params = Callable[[random.Random], tuple[Any, ...]]


@dataclass(frozen=True)
class Template:
    sql: str
    params: Params
    weight: int  # runs per 100 application requests


def crm_workload() -> list[Template]:
    ids = users(5000)
    return [
        Template("SELECT id, body FROM messages WHERE user_id = %s ORDER BY created_at DESC LIMIT 20",
                 lambda r: (r.choice(ids),), 30),
        Template("SELECT id, body FROM messages WHERE channel_id = %s ORDER BY created_at DESC LIMIT 50",
                 lambda r: (r.randrange(400),), 20),
        Template("SELECT id FROM messages WHERE status = %s ORDER BY created_at DESC LIMIT 20",
                 lambda r: ("error",), 10),
        Template("SELECT id, model FROM llm_calls WHERE customer_id = %s ORDER BY created_at DESC LIMIT %s",
                 lambda r: (r.randrange(3000), 20), 20),
        Template("SELECT id FROM llm_calls WHERE payload->>'externalId' = %s",
                 lambda r: (f"X{r.randrange(300000)}",), 10),
        Template("SELECT count(*) FROM llm_calls WHERE created_at > now() - %s::interval AND model = %s",
                 lambda r: ("2 days", "large"), 5),
    ]


def shop_workload() -> list[Template]:
    return [
        Template("SELECT id, total, status FROM orders WHERE customer_id = %s ORDER BY created_at DESC LIMIT 10",
                 lambda r: (1 + r.randrange(100000),), 30),
        Template("SELECT id FROM customers WHERE email = %s", lambda r: (f"c{1 + r.randrange(100000)}@shop.io",), 20),
        Template("SELECT id, total FROM orders WHERE status = %s AND created_at > now() - interval '30 days'",
                 lambda r: ("refunded",), 10),
        Template("SELECT sku, qty FROM order_items WHERE order_id = %s", lambda r: (1 + r.randrange(600000),), 25),
        Template("SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id "
                 "WHERE o.status = %s ORDER BY o.created_at DESC LIMIT 20", lambda r: ("pending",), 10),
        Template("SELECT count(*) FROM orders WHERE meta->>'ref' = %s", lambda r: (f"R{r.randrange(600000)}",), 5),
    ]


DATABASES: dict[str, tuple[str, Callable[[], list[Template]]]] = {
    "crm": (CRM_SCHEMA, crm_workload), "shop": (SHOP_SCHEMA, shop_workload),
}


def run_application(dsn: str, templates: list[Template], requests: int, rng: random.Random) -> None:
    """The application's traffic: each template run in proportion to its weight, values bound server-side."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        conn.execute("SELECT pg_qualstats_reset()")
        for t in templates:
            for _ in range(max(1, requests * t.weight // 100)):
                conn.execute(t.sql, t.params(rng)).fetchall()


def literal(conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...]) -> str:
    return ClientCursor(conn).mogrify(sql, params)


def timed(conn: psycopg.Connection[Any], statements: list[tuple[int, str, float]]) -> list[float]:
    """Weighted time per template: each sampled statement's median EXPLAIN ANALYZE time times its weight."""
    out = [0.0] * (1 + max(t for t, _, _ in statements))
    for t, sql, w in statements:
        out[t] += w * measure(conn, sql, runs=5).median_ms
    return out


def build(conn: psycopg.Connection[Any], ddl: list[str]) -> tuple[list[str], int]:
    """Build ``ddl`` (plain CREATE INDEX statements), ANALYZE; returns the index names and their size."""
    names, size = [], 0
    for statement in ddl:
        before = {r[0] for r in conn.execute("SELECT indexrelid::regclass::text FROM pg_index")}
        conn.execute(statement)
        new = {r[0] for r in conn.execute("SELECT indexrelid::regclass::text FROM pg_index")} - before
        names += sorted(new)
    conn.execute("ANALYZE")
    for name in names:
        row = conn.execute("SELECT pg_relation_size(%s::regclass)", (name,)).fetchone()
        size += int(row[0]) if row else 0
    return names, size


def drop(conn: psycopg.Connection[Any], names: list[str]) -> None:
    for name in names:
        conn.execute(f"DROP INDEX {name}")


def ours(dsn: str) -> tuple[list[str], list[str]]:
    """dbadvisor's indexes as a user gets them (defaults, pg_stat_statements and pg_qualstats), built
    plainly; and what the advisor skipped, with the reasons."""
    report = analyze(dsn, AnalyzeOptions(only=("missing_index",)))
    ddl = [str(f.sql).replace(" CONCURRENTLY", "") for f in report.findings if isinstance(f.fix, CreateIndex) and f.sql]
    return ddl, [s.reason for s in report.skipped if s.check == "missing_index"]


def qualstats(conn: psycopg.Connection[Any]) -> list[str]:
    row = conn.execute("SELECT pg_qualstats_index_advisor()").fetchone()
    advice = row[0] if row else {}
    if isinstance(advice, str):
        advice = json.loads(advice)
    return [str(i["ddl"] if isinstance(i, dict) else i) for i in advice.get("indexes") or []]


def main() -> None:
    rng = random.Random(11)
    print(f"{'database':>9} | {'no index ms':>11} | {'dbadvisor ms':>12} {'x':>6} {'#':>3} {'MB':>6} | "
          f"{'pg_qualstats ms':>15} {'x':>6} {'#':>3} {'MB':>6}")
    with PrivateCluster() as cluster:
        for name, (schema, workload) in DATABASES.items():
            dsn = cluster.create_database(name, ("pg_stat_statements", "pg_qualstats"))
            templates = workload()
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(schema)
            start = time.perf_counter()
            run_application(dsn, templates, 2000, rng)
            with psycopg.connect(dsn, autocommit=True) as conn:
                statements = [(i, literal(conn, t.sql, t.params(rng)), t.weight / 5) for i, t in enumerate(templates)
                              for _ in range(5)]
                mine, skipped = ours(dsn)
                theirs = qualstats(conn)
                figures: dict[str, tuple[list[float], int, int]] = {"none": (timed(conn, statements), 0, 0)}
                for label, ddl in (("ours", mine), ("qualstats", theirs)):
                    names, size = build(conn, ddl)
                    figures[label] = (timed(conn, statements), len(names), size)
                    drop(conn, names)
            base = sum(figures["none"][0])
            (per_o, on, osz), (per_q, qn, qsz) = figures["ours"], figures["qualstats"]
            o, q = sum(per_o), sum(per_q)
            print(f"{name:>9} | {base:11.1f} | {o:12.1f} {base / o:6.1f} {on:3d} {osz / 1e6:6.1f} | "
                  f"{q:15.1f} {base / q:6.1f} {qn:3d} {qsz / 1e6:6.1f}   ({time.perf_counter() - start:.0f} s)")
            for label, ddl in (("dbadvisor", mine), ("pg_qualstats", theirs)):
                for statement in ddl:
                    print(f"           {label}: {statement}")
            for i, t in enumerate(templates):
                print(f"           {figures['none'][0][i]:9.1f} {per_o[i]:9.1f} {per_q[i]:9.1f} ms  {t.sql[:80]}")
            for reason in skipped:
                print(f"           dbadvisor skipped: {reason[:160]}")


if __name__ == "__main__":
    main()
