from __future__ import annotations

from tests.conftest import Database

CHECK = "missing_primary_key"


def test_plain_table_without_key(fresh_db: Database) -> None:
    fresh_db.execute("CREATE TABLE log (at timestamptz, msg text); INSERT INTO log SELECT now(), 'x'; ANALYZE")
    (f,) = fresh_db.findings(CHECK)
    assert f.id == "missing_primary_key:public.log" and f.table == "public.log"
    assert f.sql == 'ALTER TABLE "public"."log" ADD COLUMN "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;'
    assert f.rollback_sql == 'ALTER TABLE "public"."log" DROP COLUMN "id";'
    # The fix really works, and its rollback too.
    fresh_db.execute(f.sql)
    assert fresh_db.findings(CHECK) == []
    fresh_db.execute(f.rollback_sql)
    assert len(fresh_db.findings(CHECK)) == 1


def test_unique_not_null_index_is_promoted(fresh_db: Database) -> None:
    fresh_db.execute("CREATE TABLE t (code text NOT NULL, id text); CREATE UNIQUE INDEX t_code_key ON t (code);"
                     "INSERT INTO t SELECT g::text, 'a' FROM generate_series(1, 10) g; ANALYZE")
    (f,) = fresh_db.findings(CHECK)
    assert f.evidence["unique_index_candidate"] == "public.t_code_key" and f.columns == ("code",)
    assert "PRIMARY KEY USING INDEX" in (f.sql or "")
    fresh_db.execute(f.sql or "")
    assert fresh_db.findings(CHECK) == []
    for statement in (f.rollback_sql or "").splitlines():  # the rebuild is CONCURRENTLY: one at a time
        fresh_db.execute(statement)
    assert fresh_db.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 't_code_key'") == [(1,)]


def test_severity_grows_with_updates_and_partitions_handled(fresh_db: Database) -> None:
    fresh_db.execute(
        "CREATE TABLE hot (a int); INSERT INTO hot SELECT generate_series(1, 100); UPDATE hot SET a = a + 1;"
        "CREATE TABLE empty_one (a int);"
        "CREATE TABLE parted (a int, at date) PARTITION BY RANGE (at);"
        "CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
        "CREATE TABLE keyed (id int PRIMARY KEY); CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x;"
    )
    import time

    time.sleep(0.6)  # let the stats collector see the UPDATE
    found = {f.table: f for f in fresh_db.findings(CHECK)}
    assert set(found) == {"public.hot", "public.empty_one", "public.parted"}
    assert found["public.hot"].severity == "high"
    assert found["public.empty_one"].severity == "low"
    assert found["public.parted"].sql is None and "partition key" in found["public.parted"].detail


def test_quoted_table_name_fix_runs(fresh_db: Database) -> None:
    fresh_db.execute('CREATE SCHEMA "My App"; CREATE TABLE "My App"."a""; drop table x;--" (v int)')
    (f,) = fresh_db.findings(CHECK)
    fresh_db.execute(f.sql or "")
    assert fresh_db.execute("""SELECT count(*) FROM information_schema.table_constraints
                               WHERE table_schema = 'My App' AND constraint_type = 'PRIMARY KEY'""") == [(1,)]
