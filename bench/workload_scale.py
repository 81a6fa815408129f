"""Benchmark: `dbadvisor analyze DSN --workload postgresql.log` on 100,000 logged statements.

An application's log (log_min_duration_statement = 0) of a CRM: per-user message pages (an N+1 loop
over 5,000 users), per-channel pages, status lookups (a rare and a common value), LLM call logs by
customer and by JSON key, time windows. Statements differ in their constants, as a log's do. Runs the
analysis as a child process on a private PostgreSQL 15 with HypoPG and prints wall time, peak memory,
the shapes found, what-if calls and the recommendations.
Target (workloads issue): 100,000 statements in under 60 s and 500 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import tempfile
import uuid
from pathlib import Path

import psycopg

from bench import child
from dbadvisor.dialects.postgres.cluster import PrivateCluster


def crm_schema(messages: int = 500_000, llm_calls: int = 300_000) -> str:
    """The CRM's tables with ``messages`` chat messages (5,000 users, 400 channels, one in 500 an 'error')
    and ``llm_calls`` LLM call logs (JSON payload with a unique externalId), analyzed. The tests'
    application database is this one, smaller."""
    return f"""
CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL, plan text NOT NULL);
INSERT INTO users SELECT md5('u' || g)::uuid, 'u' || g || '@x.io', (ARRAY['free', 'pro'])[1 + g % 2]
FROM generate_series(1, 5000) g;
CREATE TABLE messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id uuid NOT NULL, channel_id int NOT NULL,
    status text NOT NULL, created_at timestamptz NOT NULL, body text NOT NULL);
INSERT INTO messages (user_id, channel_id, status, created_at, body)
SELECT md5('u' || (1 + g % 5000))::uuid, g % 400, CASE WHEN g % 500 = 0 THEN 'error' ELSE 'sent' END,
       now() - g * interval '10 seconds', repeat('x', 60)
FROM generate_series(1, {int(messages)}) g;
CREATE TABLE llm_calls (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id int NOT NULL, model text NOT NULL,
    created_at timestamptz NOT NULL, payload jsonb NOT NULL);
INSERT INTO llm_calls (customer_id, model, created_at, payload)
SELECT g % 3000, (ARRAY['small', 'large'])[1 + g % 2], now() - g * interval '20 seconds',
       jsonb_build_object('externalId', 'X' || g, 'tokens', g % 900)
FROM generate_series(1, {int(llm_calls)}) g;
CREATE INDEX llm_calls_customer_id_idx ON llm_calls (customer_id);
ANALYZE;
"""


SCHEMA = "CREATE EXTENSION IF NOT EXISTS hypopg;\n" + crm_schema()


def users(n: int) -> list[str]:
    """The ids ``crm_schema`` gives its first ``n`` users."""
    return [str(uuid.UUID(hashlib.md5(f"u{g}".encode()).hexdigest())) for g in range(1, n + 1)]


def statement(rng: random.Random, ids: list[str]) -> str:
    pick = rng.random()
    if pick < 0.40:
        return f"SELECT id, body FROM messages WHERE user_id = '{rng.choice(ids)}' ORDER BY created_at DESC LIMIT 20"
    if pick < 0.60:
        return (f"SELECT id, body FROM messages WHERE channel_id = {rng.randrange(400)} "
                "ORDER BY created_at DESC LIMIT 50")
    if pick < 0.70:
        status = "error" if rng.random() < 0.1 else "sent"
        return f"SELECT id FROM messages WHERE status = '{status}' ORDER BY created_at DESC LIMIT 20"
    if pick < 0.85:
        return (f"SELECT id, model FROM llm_calls WHERE customer_id = {rng.randrange(3000)} "
                f"ORDER BY created_at DESC LIMIT {rng.choice((10, 20, 50))}")
    if pick < 0.95:
        return f"SELECT id FROM llm_calls WHERE payload->>'externalId' = 'X{rng.randrange(300000)}'"
    return (f"SELECT count(*) FROM llm_calls WHERE created_at > now() - interval '{rng.randrange(1, 30)} days' "
            f"AND model = '{rng.choice(('small', 'large'))}'")


def write_log(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    ids = users(5000)
    with path.open("w") as f:
        for i in range(n):
            f.write(f"2026-12-01 10:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i % 1000:03d} UTC [{1000 + i % 50}] "
                    f"LOG:  duration: {rng.uniform(0.05, 3):.3f} ms  statement: {statement(rng, ids)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--budget", help="index budget passed to analyze (default: the CLI's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, PrivateCluster() as cluster:
        dsn = cluster.create_database("crm", ())
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(SCHEMA)
        log = Path(tmp) / "postgresql.log"
        write_log(log, args.statements)
        run = child.analyze([dsn, "--only", "missing_index", "--workload", str(log),
                             *(("--budget", args.budget) if args.budget else ())])
        report, wall, peak_mb = run.report, run.wall_s, run.peak_mb
        findings = [f for f in report["findings"] if f["check"] == "missing_index"]
        print(f"statements logged: {args.statements:,} ({log.stat().st_size / 1e6:.1f} MB of log)")
        print(f"wall: {wall:.2f} s (target < 60 s), peak RSS of the analysis: {peak_mb:.0f} MB (target < 500 MB)")
        figures = report["summary"]["advisor"] or {}
        print(f"recommendations: {len(findings)}; advisor: {json.dumps(figures)}")
        for f in findings:
            print(f"  {f['fix']['sql'] if f.get('fix') else f['id']}")
        skipped = [s for s in report["skipped"] if s["check"] == "missing_index"]
        print(f"skipped: {len(skipped)}")
        for s in skipped[:5]:
            print(f"  {s['reason'][:200]}")


if __name__ == "__main__":
    main()
