"""Bloat, autovacuum, sequential scans and cache: planted in a real database, with their traps."""

from __future__ import annotations

import time

import pytest

from dbadvisor.dialects.postgres.cluster import PrivateCluster
from tests.conftest import Database


@pytest.fixture(scope="module")
def churned(pg_cluster: PrivateCluster) -> Database:
    """A table with a third of its rows dead (autovacuum off), a healthy twin, and a scanned table."""
    dsn = pg_cluster.create_database("maint", ("pg_stat_statements", "pgstattuple"))
    db = Database(pg_cluster, "maint", dsn)
    db.execute("""
        CREATE TABLE events (id int PRIMARY KEY, status text, payload text) WITH (autovacuum_enabled = false);
        INSERT INTO events SELECT g, 'ok', md5(g::text) FROM generate_series(1, 200000) g;
        UPDATE events SET status = 'retried' WHERE id % 3 = 0;
        CREATE TABLE healthy (id int PRIMARY KEY, v text);
        INSERT INTO healthy SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
        CREATE TABLE busy (id int PRIMARY KEY, v text);
        INSERT INTO busy SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
        UPDATE busy SET v = 'x' WHERE id <= 1000;
        CREATE TABLE scanned (id int, v int);
        INSERT INTO scanned SELECT g, g FROM generate_series(1, 150000) g;
        ANALYZE events; ANALYZE scanned;
    """)
    db.execute("VACUUM ANALYZE healthy")
    db.execute("VACUUM ANALYZE busy")
    for _ in range(12):
        db.execute("SELECT count(*) FROM scanned WHERE v = 42")
    time.sleep(0.6)
    return db


def test_table_bloat_measured_with_pgstattuple(churned: Database) -> None:
    found = {f.table: f for f in churned.findings("table_bloat", min_wasted_bytes=1 << 20)}
    assert set(found) == {"public.events"}  # the vacuumed twin is not bloated
    f = found["public.events"]
    assert f.evidence["method"] == "pgstattuple_approx" and f.estimate is not None
    assert f.estimate.kind == "measured" and f.estimate.figures["reclaimable_bytes"] > 1 << 20
    assert 0.2 < f.evidence["dead_fraction"] < 0.3  # 66,667 dead of 266,667 tuples
    assert f.sql == 'VACUUM (VERBOSE, ANALYZE) "public"."events";'


def test_table_bloat_estimated_without_pgstattuple(fresh_db: Database) -> None:
    fresh_db.execute("""
        CREATE TABLE t (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false);
        INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
        DELETE FROM t WHERE id % 10 <> 0;
        ANALYZE t;
    """)
    time.sleep(0.6)
    (f,) = fresh_db.findings("table_bloat", min_wasted_bytes=1 << 20)
    assert f.evidence["method"] == "statistics" and f.estimate is not None and f.estimate.kind == "heuristic"
    assert f.evidence["wasted_fraction"] > 0.8 and f.severity == "high"
    assert "pg_repack" in f.detail


def test_index_bloat(fresh_db: Database) -> None:
    fresh_db.execute("""
        CREATE TABLE t (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false);
        INSERT INTO t SELECT g, g FROM generate_series(1, 300000) g;
        CREATE INDEX t_v ON t (v);
        DELETE FROM t WHERE id % 20 <> 0;
    """)
    fresh_db.execute("VACUUM ANALYZE t")
    found = {f.index: f for f in fresh_db.findings("index_bloat", min_wasted_bytes=1 << 20)}
    assert {"public.t_v", "public.t_pkey"} <= set(found)
    f = found["public.t_v"]
    assert f.sql == 'REINDEX INDEX CONCURRENTLY "public"."t_v";' and f.evidence["method"] == "statistics"
    fresh_db.execute(f.sql)
    assert "public.t_v" not in {x.index for x in fresh_db.findings("index_bloat", min_wasted_bytes=1 << 20)}


def test_autovacuum_settings(churned: Database) -> None:
    found = {f.table: f for f in churned.findings("autovacuum_settings", large_table_rows=150_000)}
    disabled = found["public.events"]
    assert disabled.severity == "high"
    assert disabled.sql == 'ALTER TABLE "public"."events" SET (autovacuum_enabled = true);'
    assert disabled.rollback_sql == 'ALTER TABLE "public"."events" SET (autovacuum_enabled = false);'
    # Size alone is no reason: the insert-only twin makes no dead tuples; a large table with updates does.
    assert "public.healthy" not in found
    tuned = found["public.busy"]
    assert "autovacuum_vacuum_scale_factor = 0.1" in (tuned.sql or "")
    assert tuned.rollback_sql == ('ALTER TABLE "public"."busy" RESET (autovacuum_vacuum_scale_factor, '
                                  'autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor, '
                                  'autovacuum_vacuum_insert_scale_factor);')
    # Defaults are fine for tables below the size and churn bars.
    assert "public.busy" not in {f.table for f in churned.findings("autovacuum_settings")}


def test_seq_scan_heavy_table(churned: Database) -> None:
    found = {f.table: f for f in churned.findings("seq_scan_heavy_table")}
    assert set(found) == {"public.scanned"}
    assert found["public.scanned"].evidence["seq_scan"] >= 12
    assert "missing_index" in found["public.scanned"].detail


def test_low_cache_hit_ratio_thresholds(churned: Database) -> None:
    strict = churned.findings("low_cache_hit_ratio", database_threshold=1.01, min_blocks=1)
    assert any(f.id == "low_cache_hit_ratio:database" for f in strict)
    assert strict[0].evidence["shared_buffers_bytes"] == 256 << 20
    lax = churned.findings("low_cache_hit_ratio", database_threshold=0.0, table_threshold=0.0)
    assert lax == []
