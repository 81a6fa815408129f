"""Index hygiene checks: each plants its problem in a real database, and walks into its known traps."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.conftest import Database


def test_unindexed_foreign_key(fresh_db: Database) -> None:
    fresh_db.execute("""
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE);
        CREATE TABLE pair_parent (a int, b int, PRIMARY KEY (a, b));
        -- served: index on (b, a, x) has the FK columns leading, in another order
        CREATE TABLE served (a int, b int, x int, FOREIGN KEY (a, b) REFERENCES pair_parent);
        CREATE INDEX served_idx ON served (b, a, x);
        -- not served: partial index, and FK column not leading
        CREATE TABLE partial_only (parent_id int REFERENCES parent, flag bool);
        CREATE INDEX partial_only_idx ON partial_only (parent_id) WHERE flag;
        CREATE TABLE not_leading (x int, parent_id int REFERENCES parent);
        CREATE INDEX not_leading_idx ON not_leading (x, parent_id);
        -- served by a UNIQUE constraint's index
        CREATE TABLE uniq (parent_id int UNIQUE REFERENCES parent);
        INSERT INTO parent SELECT generate_series(1, 20000);
        INSERT INTO child SELECT g, g FROM generate_series(1, 20000) g;
        DELETE FROM parent WHERE id = 20000;
        ANALYZE;
    """)
    time.sleep(0.6)
    found = {f.table: f for f in fresh_db.findings("unindexed_foreign_key")}
    assert set(found) == {"public.child", "public.partial_only", "public.not_leading"}
    child = found["public.child"]
    assert child.columns == ("parent_id",) and child.severity == "high"  # 20k rows, parent sees deletes
    assert child.sql == ('CREATE INDEX CONCURRENTLY IF NOT EXISTS "child_parent_id_idx" ON "public"."child" '
                         '("parent_id");')
    assert found["public.partial_only"].severity == "low"
    for statement in (child.sql, child.rollback_sql, child.sql):
        fresh_db.execute(statement or "")
    assert "public.child" not in {f.table for f in fresh_db.findings("unindexed_foreign_key")}


def test_duplicate_index_keeps_constraint_index(fresh_db: Database) -> None:
    fresh_db.execute("""
        CREATE TABLE t (id int PRIMARY KEY, a int, b text, c int);
        CREATE UNIQUE INDEX t_id_dup ON t (id);
        CREATE INDEX t_a_1 ON t (a);
        CREATE INDEX t_a_2 ON t (a);
        CREATE INDEX t_a_desc ON t (a DESC);                 -- different direction: not a duplicate
        CREATE INDEX t_b_c ON t (b COLLATE "C");             -- different collation: not a duplicate
        CREATE INDEX t_b ON t (b);
        CREATE INDEX t_a_part ON t (a) WHERE c > 0;          -- different predicate: not a duplicate
        CREATE INDEX t_a_incl ON t (a) INCLUDE (c);          -- different INCLUDE: not a duplicate
    """)
    found = {f.index: f for f in fresh_db.findings("duplicate_index")}
    assert set(found) == {"public.t_id_dup", "public.t_a_2"}
    assert found["public.t_id_dup"].evidence["duplicate_of"] == "public.t_pkey"
    assert found["public.t_a_2"].sql == 'DROP INDEX CONCURRENTLY IF EXISTS "public"."t_a_2";'
    assert found["public.t_a_2"].rollback_sql == (
        "CREATE INDEX CONCURRENTLY t_a_2 ON public.t USING btree (a);")


def test_redundant_index_traps(fresh_db: Database) -> None:
    fresh_db.execute("""
        CREATE TABLE t (id int PRIMARY KEY, a int, b int, c int, email text UNIQUE);
        CREATE INDEX t_a ON t (a);
        CREATE INDEX t_a_b ON t (a, b);
        CREATE INDEX t_b_part ON t (b) WHERE c > 0;          -- prefix of (b, c) but another predicate
        CREATE INDEX t_b_c ON t (b, c);
        CREATE INDEX t_email_id ON t (email, id);            -- would cover the UNIQUE email: never flag it
        CREATE INDEX t_c_incl ON t (c) INCLUDE (a);          -- INCLUDE a not in (c, b): not covered
        CREATE INDEX t_c_b ON t (c, b);
    """)
    found = {f.index: f for f in fresh_db.findings("redundant_index")}
    assert set(found) == {"public.t_a"}
    assert found["public.t_a"].evidence["covered_by"] == "public.t_a_b"


def test_unused_index_respects_stats_window(fresh_db: Database) -> None:
    fresh_db.execute("""
        CREATE TABLE t (id int PRIMARY KEY, a int, b int);
        INSERT INTO t SELECT g, g, g FROM generate_series(1, 100000) g;
        CREATE INDEX t_a ON t (a);
        CREATE INDEX t_b ON t (b);
        CREATE UNIQUE INDEX t_a_key ON t (a, id);
        ANALYZE;
    """)
    fresh_db.execute("SELECT pg_stat_reset()")
    fresh_db.execute("SET enable_seqscan = off; SELECT * FROM t WHERE b = 5")
    time.sleep(0.6)
    found = {f.index: f for f in fresh_db.findings("unused_index")}
    assert set(found) == {"public.t_a"}  # t_b was scanned, unique and PK indexes never count as unused
    f = found["public.t_a"]
    assert f.severity == "low" and "reset only" in f.detail  # a freshly reset window is not proof
    assert f.evidence["stats_window_days"] is not None and f.evidence["stats_window_days"] < 1
    confident = fresh_db.findings("unused_index", min_window_days=0)
    assert confident[0].severity == "medium"
    assert fresh_db.findings("unused_index", min_size_bytes=1 << 40) == []


def test_invalid_index(fresh_db: Database) -> None:
    fresh_db.execute("CREATE TABLE t (code int); INSERT INTO t VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):  # the failure is the point: it leaves t_code_key
        fresh_db.execute("CREATE UNIQUE INDEX CONCURRENTLY t_code_key ON t (code)")
    (f,) = fresh_db.findings("invalid_index")
    assert f.index == "public.t_code_key" and f.severity == "high"
    # With the duplicate still there a rebuild cannot succeed: no fix, and the detail says why.
    assert f.fix is None and f.evidence["duplicate_keys"] == 1 and "cannot succeed" in f.detail
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "public"."t_code_key"' in f.detail
    fresh_db.execute("DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t)")
    (f,) = fresh_db.findings("invalid_index")
    assert f.sql == 'REINDEX INDEX CONCURRENTLY "public"."t_code_key";'
    fresh_db.execute(f.sql or "")
    assert fresh_db.findings("invalid_index") == []


def test_sequence_exhaustion(fresh_db: Database) -> None:
    fresh_db.execute("""
        CREATE TABLE t (id serial PRIMARY KEY, v int);
        CREATE TABLE refs (t_id int REFERENCES t (id));
        CREATE TABLE big (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
        CREATE TABLE narrow (id int NOT NULL);
        CREATE SEQUENCE wide_into_narrow;  -- bigint sequence feeding an integer column
        ALTER SEQUENCE wide_into_narrow OWNED BY narrow.id;
        SELECT setval('t_id_seq', 2000000000);
        SELECT setval('big_id_seq', 1000000000);
        SELECT setval('wide_into_narrow', 1200000000);
    """)
    found = {f.id: f for f in fresh_db.findings("sequence_exhaustion")}
    assert set(found) == {"sequence_exhaustion:public.t_id_seq", "sequence_exhaustion:public.wide_into_narrow"}
    f = found["sequence_exhaustion:public.t_id_seq"]
    assert f.severity == "critical" and f.evidence["limit"] == 2147483647
    assert f.sql == ('ALTER TABLE "public"."t" ALTER COLUMN "id" TYPE bigint;\n'
                     'ALTER TABLE "public"."refs" ALTER COLUMN "t_id" TYPE bigint;\n'
                     'ALTER SEQUENCE "public"."t_id_seq" AS bigint;')
    assert found["sequence_exhaustion:public.wide_into_narrow"].severity == "medium"
    fresh_db.execute(f.sql or "")
    assert "sequence_exhaustion:public.t_id_seq" not in {x.id for x in fresh_db.findings("sequence_exhaustion")}


def test_pg_stat_statements_missing(pg_cluster, fresh_db: Database) -> None:  # type: ignore[no-untyped-def]
    assert fresh_db.findings("pg_stat_statements_missing") == []
    dsn = pg_cluster.create_database("pgss_absent", extensions=())
    from dbadvisor.analysis import AnalyzeOptions, analyze

    report = analyze(dsn, AnalyzeOptions(only=("pg_stat_statements_missing",)))
    (f,) = report.findings
    assert f.sql == 'CREATE EXTENSION IF NOT EXISTS "pg_stat_statements";' and f.fix is not None
