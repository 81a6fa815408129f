"""pg_partman 4.7 and pg_cron from Debian, used for real: a table converted online is handed to
pg_partman (which adopts the partitions, named as it names them) and its maintenance scheduled with
pg_cron; the revert lets both go. pg_cron lives in the database cron.database_name names ("postgres")."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.apply.history import SqliteHistory
from dbadvisor.apply.run import ApplyOptions, apply, revert
from dbadvisor.dialects.postgres import DIALECT
from dbadvisor.dialects.postgres.cluster import SUPERUSER, PrivateCluster
from dbadvisor.migrations import plan_of
from dbadvisor.model.ddl import PartitionTable, SetRetention
from dbadvisor.report import json as json_report
from dbadvisor.sources import saved_report
from tests.conftest import Database

SCHEMA = """
CREATE TABLE tick_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                          at timestamptz NOT NULL DEFAULT now(), v int);
INSERT INTO tick_events (at, v) SELECT now() - interval '100 days' + g * interval '100 days' / 200000, g % 10
FROM generate_series(1, 200000) g;
ANALYZE tick_events;
"""
WORKLOAD = "SELECT v, count(*) FROM tick_events WHERE at > now() - interval '3 days' GROUP BY v;\n"


@pytest.fixture
def cron_db(pg_cluster: PrivateCluster) -> Iterator[Database]:
    """The cluster's "postgres" database with pg_partman and pg_cron; left as it was found."""
    if not {"pg_partman", "pg_cron"} <= pg_cluster.available_extensions():
        pytest.skip("pg_partman and pg_cron are packaged (postgresql-15-partman, postgresql-15-cron) for PostgreSQL "
                    "15 only here")
    db = Database(pg_cluster, "postgres", pg_cluster.dsn())
    db.execute("CREATE SCHEMA IF NOT EXISTS partman; CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman; "
               "CREATE EXTENSION IF NOT EXISTS pg_cron")
    db.execute("DROP TABLE IF EXISTS tick_events CASCADE")
    db.execute(SCHEMA)
    try:
        yield db
    finally:
        db.execute("DROP TABLE IF EXISTS tick_events CASCADE; DROP SCHEMA IF EXISTS dbadvisor CASCADE; "
                   "DROP EXTENSION IF EXISTS pg_cron; DROP EXTENSION IF EXISTS pg_partman; DROP SCHEMA partman CASCADE")


def _finding_op(db: Database, tmp_path: Path) -> tuple[Path, PartitionTable]:
    sql = tmp_path / "w.sql"
    sql.write_text(WORKLOAD)
    report = analyze(db.dsn, AnalyzeOptions(only=("partition_by_time",), workload=(sql,)))
    path = tmp_path / "report.json"
    path.write_text(json_report.render(report))
    (finding,) = report.findings
    assert "pg_partman" in finding.evidence["maintenance"] and "pg_cron" in finding.evidence["maintenance"]
    assert isinstance(finding.fix, PartitionTable)
    return path, finding.fix


def test_online_conversion_hands_the_table_to_pg_partman_and_pg_cron(cron_db: Database, tmp_path: Path) -> None:
    path, op = _finding_op(cron_db, tmp_path)
    assert op.partman_schema == "partman" and op.cron and op.interval == "1 month"
    steps = list(plan_of(saved_report.load(path).actionable()).steps)
    history = SqliteHistory(tmp_path / "h.sqlite")
    (result,) = apply(cron_db.dsn, steps, history, ApplyOptions(measure=False))
    assert result.status == "applied", result.error
    config = cron_db.execute("SELECT partition_interval, premake FROM partman.part_config "
                             "WHERE parent_table = 'public.tick_events'")
    assert config == [("1 mon", 4)]
    assert cron_db.execute("SELECT command FROM cron.job WHERE jobname = 'dbadvisor partitions public.tick_events'") \
        == [("SELECT \"partman\".run_maintenance('public.tick_events')",)]
    cron_db.execute("SELECT partman.run_maintenance('public.tick_events')")  # what the job runs
    assert cron_db.execute("SELECT count(*) FROM tick_events") == [(200000,)]
    assert cron_db.execute("SELECT to_regclass('tick_events_default') IS NOT NULL") == [(True,)]
    cron_db.execute("INSERT INTO tick_events (v) VALUES (1)")

    # retention on the partitioned table: pg_partman's own setting too, and old months dropped now
    sql = tmp_path / "w.sql"
    report = analyze(cron_db.dsn, AnalyzeOptions(only=("retention_policy",), workload=(sql,)))
    (keep,) = report.findings
    assert isinstance(keep.fix, SetRetention) and keep.fix.partman_schema == "partman"
    assert keep.fix.method == "drop_partitions" and keep.evidence["keep"] == "6 days"
    path.write_text(json_report.render(report))
    (kept,) = apply(cron_db.dsn, list(plan_of(saved_report.load(path).actionable()).steps), history,
                    ApplyOptions(measure=False))
    assert kept.status == "applied" and kept.measured and kept.measured["partitions"], kept.error
    assert cron_db.execute("SELECT retention FROM partman.part_config") == [("6 days",)]
    left = cron_db.execute("SELECT count(*) FROM tick_events")[0][0]
    assert 0 < left < 200001
    assert revert(cron_db.dsn, kept.action_id or 0, history).status == "applied"
    assert cron_db.execute("SELECT retention FROM partman.part_config") == [(None,)]
    back = revert(cron_db.dsn, result.action_id or 0, history)
    assert back.status == "applied"
    assert cron_db.execute("SELECT relkind FROM pg_class WHERE oid = 'tick_events'::regclass") == [("r",)]
    assert cron_db.execute("SELECT count(*) FROM partman.part_config") == [(0,)]
    assert cron_db.execute("SELECT count(*) FROM cron.job") == [(0,)]
    assert cron_db.execute("SELECT count(*) FROM tick_events") == [(left,)]


def test_the_migration_does_the_same_in_one_transaction(cron_db: Database, tmp_path: Path) -> None:
    _, op = _finding_op(cron_db, tmp_path)
    up, down = tmp_path / "up.sql", tmp_path / "down.sql"
    up.write_text(DIALECT.sql(op))
    down.write_text(DIALECT.sql(op.reverse()))

    def psql(file: Path) -> None:
        subprocess.run([str(cron_db.cluster.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", cron_db.dsn,
                        "-U", SUPERUSER, "-1", "-f", str(file)], check=True, capture_output=True)

    psql(up)
    assert cron_db.execute("SELECT count(*) FROM partman.part_config") == [(1,)]
    assert cron_db.execute("SELECT count(*) FROM cron.job") == [(1,)]
    with psycopg.connect(cron_db.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM tick_events").fetchone() == (200000,)
    psql(down)
    assert cron_db.execute("SELECT relkind FROM pg_class WHERE oid = 'tick_events'::regclass") == [("r",)]
    assert cron_db.execute("SELECT count(*) FROM partman.part_config") == [(0,)]
    assert cron_db.execute("SELECT count(*) FROM cron.job") == [(0,)]
