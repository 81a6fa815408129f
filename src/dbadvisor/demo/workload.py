"""An application-like workload for the demo, so pg_stat_statements has something to show.

Statements use server-side parameters (psycopg sends %s as $1), as an ORM or driver sends them; the
mix includes the slow queries the planted problems cause (lookups on unindexed foreign keys,
rare-status scans, JSONB filters).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import psycopg

# (statement, how many times, parameter maker)
Param = Callable[[random.Random], tuple[Any, ...]]
WORKLOAD: tuple[tuple[str, int, Param], ...] = (
    ("SELECT id, role, content, created_at FROM messages WHERE chat_id = %s ORDER BY created_at DESC LIMIT 50",
     30, lambda r: (r.randint(1, 200_000),)),
    ("SELECT id, bot_id, event_type, payload FROM webhook_events WHERE status = %s ORDER BY created_at LIMIT 100",
     20, lambda r: ("failed",)),
    ("SELECT count(*), sum(cost_usd) FROM llm_calls WHERE metadata @> %s::jsonb",
     10, lambda r: ('{"feature": "summarize"}',)),
    ("SELECT id, model, latency_ms FROM llm_calls WHERE message_id = %s",
     20, lambda r: (r.randint(1, 1_000_000),)),
    ("SELECT id, status, updated_at FROM chats WHERE bot_id = %s AND status = %s",
     300, lambda r: (r.randint(1, 5000), "open")),
    ("SELECT id, workspace_id, display_name FROM users WHERE email = %s",
     300, lambda r: (f"user{r.randint(1, 50_000)}@example.com",)),
    ("SELECT bot_id, sum(cost_usd), avg(latency_ms) FROM llm_calls "
     "WHERE bot_id = %s AND created_at > now() - %s::interval GROUP BY bot_id",
     200, lambda r: (r.randint(1, 5000), "7 days")),
    ("SELECT b.name, count(*) FROM bots b JOIN chats c ON c.bot_id = b.id WHERE b.workspace_id = %s GROUP BY b.name",
     100, lambda r: (r.randint(1, 2000),)),
    ("INSERT INTO messages (chat_id, role, content, tokens) VALUES (%s, 'user', %s, %s)",
     300, lambda r: (r.randint(1, 200_000), "hello", r.randint(5, 50))),
    ("UPDATE chats SET updated_at = now() WHERE id = %s",
     300, lambda r: (r.randint(1, 200_000),)),
    ("INSERT INTO audit_log (actor, action, details) VALUES (%s, 'login', NULL)",
     100, lambda r: (f"user{r.randint(1, 50_000)}",)),
    ("DELETE FROM chats WHERE id = %s",
     3, lambda r: (r.randint(1, 200_000),)),
    # the usage dashboard: LLM calls, spend and latency over the last day
    ("SELECT count(*), sum(cost_usd), avg(latency_ms) FROM llm_calls WHERE created_at > now() - %s::interval",
     50, lambda r: ("24 hours",)),
    # the nightly cleanup job: one DELETE of everything older than 90 days
    ("DELETE FROM webhook_events WHERE created_at < now() - %s::interval",
     3, lambda r: ("90 days",)),
)


def run(dsn: str, seed: int = 7, tick: Callable[[int], None] | None = None) -> int:
    """Run the workload once against ``dsn``; returns the number of statements executed."""
    rng = random.Random(seed)
    jobs = [(stmt, make) for stmt, times, make in WORKLOAD for _ in range(times)]
    rng.shuffle(jobs)
    with psycopg.connect(dsn, autocommit=True, application_name="demo-app") as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        for stmt, make in jobs:
            conn.execute(stmt, make(rng), prepare=False)
            if tick:
                tick(1)
    return len(jobs)


def total() -> int:
    return sum(times for _, times, _ in WORKLOAD)
