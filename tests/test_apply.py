"""apply / history / revert on a real server: interrupted builds, lock timeouts, a concurrent writer,
idempotence, regressions, and the dry run that does nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from dbadvisor.apply.history import PostgresHistory, SqliteHistory
from dbadvisor.apply.run import LOCK_KEY, ApplyOptions, apply, revert
from dbadvisor.cli import app
from dbadvisor.dialects.postgres import DIALECT as PG
from dbadvisor.dialects.postgres.online import ApplyError, RetryPolicy
from dbadvisor.migrations import plan_of
from dbadvisor.sources import saved_report
from tests.conftest import Database, wait_for

pytestmark = pytest.mark.hypopg  # the index advisor's what-if costing

EVIL = 'a"; drop table x;--'
SCHEMA = f"""
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id int NOT NULL,
                     kind text NOT NULL, created_at timestamptz NOT NULL, payload text NOT NULL);
INSERT INTO events (account_id, kind, created_at, payload)
SELECT g % 5000, (ARRAY['click', 'view', 'buy'])[1 + g % 3], now() - g * interval '1 second', md5(g::text)
FROM generate_series(1, 400000) g;
CREATE TABLE "{EVIL.replace('"', '""')}" (id int PRIMARY KEY, "Owner Id" int NOT NULL);
INSERT INTO "{EVIL.replace('"', '""')}" SELECT g, g % 300 FROM generate_series(1, 50000) g;
CREATE TABLE other (id int);
ANALYZE;
"""
WORKLOAD = f"""
-- weight: 100
SELECT id, kind FROM events WHERE account_id = 42 ORDER BY created_at DESC LIMIT 20;
-- weight: 50
SELECT id FROM "{EVIL.replace('"', '""')}" WHERE "Owner Id" = 7;
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def target(db: Database) -> Database:
    db.execute(SCHEMA)
    return db


@pytest.fixture
def report(target: Database, tmp_path: Path) -> Path:
    _drop_recommended(target)
    return target.report_file(tmp_path / "report.json", WORKLOAD)


def _drop_recommended(db: Database) -> None:
    for (name,) in db.execute("SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c "
                              "ON c.oid = i.indexrelid WHERE c.relname LIKE '%\\_idx' AND NOT i.indisprimary"):
        db.execute(f"DROP INDEX {name}")


def _indexes(db: Database) -> dict[str, bool]:
    rows = db.execute("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                      "AND NOT i.indisprimary")
    return {str(name): bool(valid) for name, valid in rows}


def _plan(report: Path) -> list:  # type: ignore[type-arg]
    return list(plan_of(saved_report.load(report).actionable()).steps)


BUILD_WAITING = ("SELECT pid FROM pg_stat_activity WHERE application_name = 'dbadvisor' "
                 "AND query LIKE '%CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'")


def test_plan_builds_indexes_and_quotes_names(report: Path) -> None:
    plan = _plan(report)
    assert len(plan) == 2
    evil = next(s for s in plan if s.finding.table == f"public.{EVIL}")
    assert '"a""; drop table x;--"' in PG.sql(evil.op)


def test_dry_run_does_nothing(target: Database, report: Path, tmp_path: Path) -> None:
    before = _indexes(target)
    result = runner.invoke(app, ["apply", target.dsn, str(report), "--history", str(tmp_path / "h.sqlite")])
    assert result.exit_code == 0, result.output
    assert "nothing done" in result.output
    assert _indexes(target) == before
    assert not (tmp_path / "h.sqlite").exists()


def test_apply_is_recorded_measured_and_idempotent(target: Database, report: Path, tmp_path: Path) -> None:
    history = SqliteHistory(tmp_path / "h.sqlite")
    results = apply(target.dsn, _plan(report), history, ApplyOptions(runs=3))
    assert [r.status for r in results] == ["applied", "applied"]
    assert all(_indexes(target).values()) and len(_indexes(target)) == 2
    actions = history.list()
    assert [a.status for a in actions] == ["applied", "applied"]
    events = next(a for a in actions if "events" in a.sql)
    measured = events.json("measured")
    assert measured["statements_measured"] == 1 and measured["index_used"]
    assert measured["weighted_after_ms"] < measured["weighted_before_ms"]
    assert events.json("estimate")["kind"] == "planner" and events.target.endswith(f"/{target.name}")

    again = apply(target.dsn, _plan(report), history, ApplyOptions(runs=3))  # a second run does nothing
    assert [r.status for r in again] == ["already applied", "already applied"]
    assert len(history.list()) == 2

    undone = revert(target.dsn, events.id, history)
    assert undone.kind == "revert" and undone.status == "applied" and undone.reverts == events.id
    assert history.get(events.id).status == "reverted"  # type: ignore[union-attr]
    assert len(_indexes(target)) == 1
    with pytest.raises(ApplyError, match="only applied actions"):
        revert(target.dsn, events.id, history)


def test_terminated_build_leaves_nothing_invalid_after_rerun(target: Database, report: Path, tmp_path: Path) -> None:
    history = SqliteHistory(tmp_path / "h.sqlite")
    plan = [s for s in _plan(report) if "events" in PG.sql(s.op)]
    failure: list[BaseException] = []

    def run() -> None:
        try:
            apply(target.dsn, plan, history, ApplyOptions(RetryPolicy(lock_timeout_ms=60_000), measure=False))
        except BaseException as exc:
            failure.append(exc)

    # A transaction holding an old snapshot makes the concurrent build wait before it can be marked valid.
    with psycopg.connect(target.dsn, autocommit=True) as blocker:
        blocker.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        blocker.execute("SELECT count(*) FROM other")
        worker = threading.Thread(target=run)
        worker.start()
        ((pid,),) = wait_for(target, BUILD_WAITING, failure=failure)
        target.execute("SELECT pg_terminate_backend(%s)", (pid,))
        worker.join(30)
        blocker.execute("ROLLBACK")
    assert failure and isinstance(failure[0], ApplyError) and "connection lost" in str(failure[0])
    assert False in _indexes(target).values()  # the interrupted build left an INVALID index
    assert history.list()[-1].status == "failed"

    results = apply(target.dsn, plan, history, ApplyOptions(measure=False))
    assert [r.status for r in results] == ["applied"]
    indexes = _indexes(target)
    assert indexes and all(indexes.values())  # no INVALID index left


def test_lock_timeout_is_retried_with_backoff(target: Database, report: Path, tmp_path: Path) -> None:
    history = SqliteHistory(tmp_path / "h.sqlite")
    plan = [s for s in _plan(report) if "events" in PG.sql(s.op)]
    lines: list[str] = []
    with psycopg.connect(target.dsn, autocommit=True) as blocker:
        blocker.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        blocker.execute("SELECT count(*) FROM other")
        timer = threading.Timer(1.5, lambda: blocker.execute("ROLLBACK"))
        timer.start()
        try:
            results = apply(target.dsn, plan, history, ApplyOptions(
                RetryPolicy(lock_timeout_ms=300, retries=6, backoff_s=0.3), measure=False), log=lines.append)
        finally:
            timer.join()
    assert results[0].status == "applied" and results[0].attempts > 1
    assert any("lock timeout" in line for line in lines)
    assert any("INVALID leftover" in line for line in lines)  # each failed attempt's index was dropped
    assert all(_indexes(target).values())


def test_concurrent_writer_keeps_writing(target: Database, report: Path, tmp_path: Path) -> None:
    (start,) = target.execute("SELECT count(*) FROM events")[0]
    stop = threading.Event()
    written, errors = [0], []

    def writer() -> None:
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            while not stop.is_set():
                try:
                    conn.execute("INSERT INTO events (account_id, kind, created_at, payload) "
                                 "VALUES (42, 'buy', now(), 'w')")
                    written[0] += 1
                except psycopg.Error as exc:
                    errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.2)
        results = apply(target.dsn, _plan(report), SqliteHistory(tmp_path / "h.sqlite"), ApplyOptions(runs=2))
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join()
    assert [r.status for r in results] == ["applied", "applied"]
    assert errors == [] and written[0] > 0
    assert target.execute("SELECT count(*) FROM events")[0][0] == start + written[0]
    assert target.execute("SELECT count(*) FROM events WHERE account_id = 42 AND kind = 'buy' AND payload = 'w'"
                          )[0][0] >= written[0]
    assert all(_indexes(target).values())


def test_two_appliers_never_run_at_once(target: Database, report: Path, tmp_path: Path) -> None:
    with psycopg.connect(target.dsn, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        with pytest.raises(ApplyError, match="holds the lock"):
            apply(target.dsn, _plan(report), SqliteHistory(tmp_path / "h.sqlite"))
    assert len(_indexes(target)) == 0


def test_history_in_the_target_and_cli(target: Database, report: Path) -> None:
    result = runner.invoke(app, ["apply", target.dsn, str(report), "--yes", "--history-in-db", "--no-measure"])
    assert result.exit_code == 0, result.output
    assert result.output.count("applied: missing_index:") == 2
    listed = runner.invoke(app, ["history", "--dsn", target.dsn, "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"status": "applied"' in listed.output
    with psycopg.connect(target.dsn) as conn:
        (first,) = [a.id for a in PostgresHistory(conn, create=False).list() if a.status == "applied"][:1]
    undone = runner.invoke(app, ["revert", str(first), "--dsn", target.dsn, "--history-in-db", "--yes"])
    assert undone.exit_code == 0, undone.output
    assert "reverted action" in undone.output
    assert len(_indexes(target)) == 1


def test_bad_report_is_a_clear_error(target: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["apply", target.dsn, str(bad), "--yes"])
    assert result.exit_code == 2 and "not a JSON report" in result.output
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["revert", "999", "--dsn", target.dsn, "--history", str(tmp_path / "h.sqlite")])
    assert missing.exit_code == 2 and "no action 999" in missing.output


def test_a_regression_is_reverted_and_recorded(target: Database, report: Path, tmp_path: Path) -> None:
    # Any slowdown counts as a regression here, so the real index build exercises the revert path.
    history = SqliteHistory(tmp_path / "h.sqlite")
    plan = [s for s in _plan(report) if "events" in PG.sql(s.op)]
    strict = ApplyOptions(runs=2, regression_tolerance=-1.0, regression_min_ms=float("-inf"))
    (result,) = apply(target.dsn, plan, history, strict)
    assert result.status == "regressed, reverted"
    assert _indexes(target) == {}  # the rollback ran
    (action,) = history.list()
    assert action.status == "regressed, reverted" and action.json("measured")["statements_measured"] == 1
