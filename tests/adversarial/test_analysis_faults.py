"""Analysis degrades per object, not per run, and keeps its own activity out of what it measures: a
table held in ACCESS EXCLUSIVE, a role that sees '<insufficient privilege>', a one-millisecond statement
timeout, and two runs in a row on an idle database."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import psycopg
import pytest

from dbadvisor import workload as workloads
from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.cli import main
from dbadvisor.dialects.postgres.connection import connect
from tests.conftest import Database

SCHEMA = """
CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, note text);
INSERT INTO orders SELECT g, g % 100, md5(g::text) FROM generate_series(1, 30000) g;
CREATE TABLE archive (id int PRIMARY KEY, note text);
INSERT INTO archive SELECT g, md5(g::text) FROM generate_series(1, 30000) g;
CREATE INDEX orders_customer_idx ON orders (customer);
CREATE INDEX orders_customer_dup ON orders (customer);
ANALYZE;
"""


@pytest.fixture(scope="module")
def target(db: Database) -> Database:
    db.execute(SCHEMA)
    return db


def test_a_locked_table_is_skipped_and_the_rest_analysed(target: Database) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(target.dsn) as conn:
            conn.execute("LOCK TABLE archive IN ACCESS EXCLUSIVE MODE")
            held.set()
            release.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(10)
        report = analyze(target.dsn, AnalyzeOptions(only=("duplicate_index", "missing_primary_key")))
    finally:
        release.set()
        thread.join()
    assert any("public.archive" in s.reason and "ACCESS EXCLUSIVE" in s.reason for s in report.skipped)
    assert any(f.check == "duplicate_index" and f.table == "public.orders" for f in report.findings), report.skipped


def test_hidden_pg_stat_statements_rows_are_counted(target: Database) -> None:
    target.execute("DO $$ BEGIN CREATE ROLE peeker LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    target.execute("SELECT count(*) FROM orders WHERE customer = 3")  # a statement of another role
    dsn = target.dsn.replace("user=postgres", "user=peeker")
    with connect(dsn) as conn:
        wl = workloads.from_pg_stat_statements(conn)
    assert any("<insufficient privilege>" in s.reason and "pg_read_all_stats" in s.reason for s in wl.skipped)


def test_a_statement_timeout_is_one_line_and_exit_2(target: Database, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", target.dsn, "--statement-timeout", "1", "-f", "json", "-o", "/dev/null"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2


def test_two_runs_on_an_idle_database_give_the_same_findings(target: Database, tmp_path: Path) -> None:
    checks = ("low_cache_hit_ratio", "duplicate_index", "unused_index", "seq_scan_heavy_table", "table_bloat",
              "index_bloat", "autovacuum_settings", "missing_index")
    first = analyze(target.dsn, AnalyzeOptions(only=checks))
    second = analyze(target.dsn, AnalyzeOptions(only=checks))
    assert [(f.id, f.severity) for f in first.findings] == [(f.id, f.severity) for f in second.findings]
    with connect(target.dsn) as conn:  # what the next run would take for the application's workload
        statements = workloads.from_pg_stat_statements(conn).statements
    ours = [s.query for s in statements if re.search(r"pg_class|pg_namespace|pgstat|hypopg|EXPLAIN", s.query)]
    assert ours == []  # our catalog reads and EXPLAINs are not in it (track off, or marked and filtered)


def test_a_fresh_statistics_window_keeps_cache_hit_low(target: Database) -> None:
    # A cold read of a table the buffers do not hold, right after a statistics reset.
    target.execute("SELECT pg_stat_reset()")
    findings = target.findings("low_cache_hit_ratio", min_blocks=1, database_threshold=1.01)
    db_level = [f for f in findings if f.id == "low_cache_hit_ratio:database"]
    assert db_level and db_level[0].severity == "low" and db_level[0].evidence["window_hours"] < 1


def test_autovacuum_leaves_an_insert_only_table_alone(fresh_db: Database) -> None:
    fresh_db.execute("CREATE TABLE log (id int, v text); "
                     "INSERT INTO log SELECT g, 'x' FROM generate_series(1, 20000) g; "
                     "CREATE TABLE hot (id int PRIMARY KEY, v int); "
                     "INSERT INTO hot SELECT g, 0 FROM generate_series(1, 20000) g; "
                     "UPDATE hot SET v = 1; UPDATE hot SET v = 2; ANALYZE")
    findings = fresh_db.findings("autovacuum_settings", large_table_rows=10_000)
    assert {f.table for f in findings} == {"public.hot"}
    (hot,) = findings
    assert "autovacuum_vacuum_scale_factor = 0.1," in (hot.sql or "")  # a usual value, not 0.09997
