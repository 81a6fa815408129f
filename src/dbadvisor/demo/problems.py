"""The mistakes planted in the demo database, each one a thing a real team does. Every later check
should find its own: this list is the demo's answer key (see tests/test_demo.py)."""

from __future__ import annotations

# (what the problem is, the statements that plant it). Statements run one by one in autocommit, so
# CONCURRENTLY builds (and their failures) behave as in production.
PLANTED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("duplicate index on chats(bot_id)", (
        "CREATE INDEX chats_bot_id_idx ON chats (bot_id)",
        "CREATE INDEX idx_chats_bot ON chats (bot_id)",
    )),
    ("redundant index: chats(bot_id) is a prefix of chats(bot_id, status)", (
        "CREATE INDEX chats_bot_id_status_idx ON chats (bot_id, status)",
    )),
    ("unused index on llm_calls(latency_ms)", (
        "CREATE INDEX llm_calls_latency_ms_idx ON llm_calls (latency_ms)",
    )),
    ("invalid index left by a failed concurrent unique build", (
        "CREATE UNIQUE INDEX CONCURRENTLY webhook_events_event_type_key ON webhook_events (event_type)",
    )),
    ("serial id of webhook_events past 75% of the integer range", (
        "SELECT setval('webhook_events_id_seq', 1650000000)",
    )),
    ("webhook_events: autovacuum disabled, then a mass status update leaves dead tuples", (
        "ALTER TABLE webhook_events SET (autovacuum_enabled = false)",
        "UPDATE webhook_events SET attempts = attempts + 1 WHERE status = 'delivered' AND id % 3 = 0",
    )),
    ("RLS policy on chats calling a function per row, on an unindexed column", (
        "CREATE FUNCTION app_current_user_id() RETURNS bigint LANGUAGE sql STABLE "
        "AS $$ SELECT nullif(current_setting('app.user_id', true), '')::bigint $$",
        "ALTER TABLE chats ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY chats_owner ON chats FOR SELECT TO PUBLIC USING (user_id = app_current_user_id())",
    )),
    # Counters start from here, as on a server whose statistics were reset after the bulk load; ANALYZE
    # re-establishes live/dead tuple counts (and planner statistics) for the reset counters.
    ("statistics reset, then fresh planner statistics", ("SELECT pg_stat_reset()", "ANALYZE")),
)
