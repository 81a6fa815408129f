"""Monitoring queries for the report's appendix: for a person to run later, not for dbadvisor."""

from __future__ import annotations

MONITORING_QUERIES: tuple[tuple[str, str], ...] = (
    ("Cache hit ratio (database)", """
SELECT datname, round(100.0 * blks_hit / nullif(blks_hit + blks_read, 0), 2) AS hit_pct
FROM pg_stat_database WHERE datname = current_database();"""),
    ("Top statements by total time (pg_stat_statements)", """
SELECT round(total_exec_time::numeric, 1) AS total_ms, calls, round(mean_exec_time::numeric, 2) AS mean_ms,
       rows, left(query, 120) AS query
FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20;"""),
    ("Tables read mostly by sequential scans", """
SELECT relid::regclass AS table, seq_scan, seq_tup_read, idx_scan, n_live_tup
FROM pg_stat_user_tables WHERE seq_scan > coalesce(idx_scan, 0) ORDER BY seq_tup_read DESC LIMIT 20;"""),
    ("Indexes never scanned since the last stats reset", """
SELECT indexrelid::regclass AS index, relid::regclass AS table,
       pg_size_pretty(pg_relation_size(indexrelid)) AS size, idx_scan
FROM pg_stat_user_indexes WHERE idx_scan = 0 ORDER BY pg_relation_size(indexrelid) DESC LIMIT 20;"""),
    ("Dead tuples and last (auto)vacuum", """
SELECT relid::regclass AS table, n_live_tup, n_dead_tup,
       round(100.0 * n_dead_tup / nullif(n_live_tup + n_dead_tup, 0), 1) AS dead_pct,
       last_vacuum, last_autovacuum
FROM pg_stat_user_tables ORDER BY n_dead_tup DESC LIMIT 20;"""),
    ("Sessions waiting on locks", """
SELECT pid, wait_event_type, wait_event, pg_blocking_pids(pid) AS blocked_by, left(query, 120) AS query
FROM pg_stat_activity WHERE wait_event_type = 'Lock';"""),
    ("Invalid indexes (failed concurrent builds)", """
SELECT indexrelid::regclass AS index, indrelid::regclass AS table FROM pg_index WHERE NOT indisvalid;"""),
)
