"""apply and revert against a hostile world, on real servers: a report that no longer matches the
database, a user's INVALID index that looks like a leftover, a same-named database on another server,
an apply stopped by SIGINT, and fixes that must run in a transaction on the write session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from dbadvisor.apply.history import SqliteHistory
from dbadvisor.apply.run import ApplyOptions, apply, revert
from dbadvisor.dialects.postgres import DIALECT as PG
from dbadvisor.dialects.postgres.cluster import PrivateCluster
from dbadvisor.dialects.postgres.online import ApplyError, StaleReport
from dbadvisor.migrations import Step, plan_of
from dbadvisor.model.ddl import CreateIndex, IndexColumn, ReindexIndex
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.report import json as json_report
from dbadvisor.sources import saved_report
from tests.conftest import Database, wait_for

SCHEMA = """
CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL, owner int NOT NULL, note text);
INSERT INTO items SELECT g, 'c' || (g % 5000), g % 97, md5(g::text) FROM generate_series(1, 20000) g;
CREATE INDEX items_owner_idx ON items (owner);
CREATE TABLE quiet (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false);
INSERT INTO quiet SELECT g, g FROM generate_series(1, 1000) g;
ANALYZE;
"""
WAITING = ("SELECT pid FROM pg_stat_activity WHERE application_name = 'dbadvisor' "
           "AND query LIKE '%{verb}%' AND wait_event_type = 'Lock'")


@pytest.fixture(scope="module")
def target(db: Database) -> Database:
    db.execute(SCHEMA)
    return db


def _step(op: CreateIndex | ReindexIndex, check: str = "missing_index") -> Step:
    finding = Finding(f"{check}:x", check, Severity.MEDIUM, "t", "d", sql=PG.sql(op), fix=op)
    return Step(finding, op, op.reverse())


def _saved(db: Database, tmp_path: Path, only: tuple[str, ...]) -> list[Step]:
    report = db.analyze(only=only)
    path = tmp_path / "report.json"
    path.write_text(json_report.render(report))
    return list(plan_of(saved_report.load(path).actionable()).steps)


def test_a_transactional_fix_runs_on_the_write_session(target: Database, tmp_path: Path) -> None:
    # The catalog read (for measuring) used to leave the write session READ ONLY: every ALTER TABLE failed.
    steps = [s for s in _saved(target, tmp_path, ("autovacuum_settings",)) if "quiet" in PG.sql(s.op)]
    assert steps and PG.transactional(steps[0].op)
    (result,) = apply(target.dsn, steps, SqliteHistory(tmp_path / "h.sqlite"), ApplyOptions(measure=True))
    assert result.status == "applied"
    assert target.execute("SELECT reloptions FROM pg_class WHERE relname = 'quiet'")[0][0] == [
        "autovacuum_enabled=true"]


def test_a_users_invalid_unique_index_is_never_dropped(target: Database, tmp_path: Path) -> None:
    with psycopg.connect(target.dsn, autocommit=True) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY items_code_key ON items (code)")
    try:
        (finding,) = target.findings("invalid_index")
        assert finding.fix is None and finding.evidence["duplicate_keys"] == 5000
        assert "cannot succeed" in finding.detail
        history = SqliteHistory(tmp_path / "h.sqlite")
        # A report from before the duplicates (or a forged one) asks for the rebuild: refused, nothing dropped.
        with pytest.raises(ApplyError, match="cannot be rebuilt: 5,000 key value"):
            apply(target.dsn, [_step(ReindexIndex("public", "items_code_key"), "invalid_index")], history,
                  ApplyOptions(measure=False))
        # A build whose name is the user's INVALID index is not "its own leftover".
        clash = CreateIndex("public", "items", "items_code_key", (IndexColumn("code"),), unique=True)
        with pytest.raises(StaleReport, match="did not create"):
            apply(target.dsn, [_step(clash)], history, ApplyOptions(measure=False))
        assert target.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_code_key'::regclass"
                              ) == [(False,)]
    finally:
        target.execute("DROP INDEX IF EXISTS items_code_key")


def test_a_stale_drop_is_refused(target: Database, tmp_path: Path) -> None:
    target.execute("CREATE INDEX items_note_idx ON items (note)")
    target.execute("CREATE INDEX items_note_dup ON items (note)")
    try:
        steps = [s for s in _saved(target, tmp_path, ("duplicate_index",)) if "items_note" in PG.sql(s.op)]
        assert len(steps) == 1
        dropped = PG.sql(steps[0].op)
        name = "items_note_dup" if "items_note_dup" in dropped else "items_note_idx"
        # The index of that name is re-created on other columns after the report was written.
        target.execute(f"DROP INDEX {name}; CREATE INDEX {name} ON items (owner, code)")
        with pytest.raises(StaleReport, match="no longer the index the report described"):
            apply(target.dsn, steps, SqliteHistory(tmp_path / "h.sqlite"), ApplyOptions(measure=False))
        assert target.execute(f"SELECT to_regclass('{name}') IS NOT NULL") == [(True,)]
    finally:
        target.execute("DROP INDEX IF EXISTS items_note_idx; DROP INDEX IF EXISTS items_note_dup")


def test_an_index_of_that_name_on_other_columns_is_not_already_applied(target: Database, tmp_path: Path) -> None:
    target.execute("CREATE INDEX items_code_idx ON items (note)")
    try:
        op = CreateIndex("public", "items", "items_code_idx", (IndexColumn("code"),))
        with pytest.raises(StaleReport, match="not the one the report proposes"):
            apply(target.dsn, [_step(op)], SqliteHistory(tmp_path / "h.sqlite"), ApplyOptions(measure=False))
    finally:
        target.execute("DROP INDEX items_code_idx")


def test_revert_refuses_a_namesake_on_another_server(target: Database, tmp_path: Path) -> None:
    history = SqliteHistory(tmp_path / "h.sqlite")
    op = CreateIndex("public", "items", "items_code_idx", (IndexColumn("code"),))
    (result,) = apply(target.dsn, [_step(op)], history, ApplyOptions(measure=False))
    assert result.status == "applied" and result.action_id is not None
    try:
        with PrivateCluster() as other:
            twin = other.create_database(target.name, extensions=())
            psycopg.connect(twin, autocommit=True).execute(SCHEMA + "CREATE INDEX items_code_idx ON items (code)")
            with pytest.raises(ApplyError, match="another server"):
                revert(twin, result.action_id, history)
            with psycopg.connect(twin) as conn:  # the namesake's index is untouched
                assert conn.execute("SELECT to_regclass('items_code_idx') IS NOT NULL").fetchone() == (True,)
        action = history.get(result.action_id)
        assert action is not None and action.status == "applied"
        assert json.loads(action.server or "{}")["system_identifier"]
        done = revert(target.dsn, result.action_id, history)  # on its own server it works
        assert done.status == "applied"
    finally:
        target.execute("DROP INDEX IF EXISTS items_code_idx")


def test_sigint_leaves_an_interrupted_row_that_the_rerun_completes(target: Database, tmp_path: Path) -> None:
    op = CreateIndex("public", "items", "items_code_idx", (IndexColumn("code"),))
    finding = Finding("missing_index:public.items_code_idx", "missing_index", Severity.MEDIUM, "t", "d",
                      table="public.items", sql=PG.sql(op), rollback_sql=PG.sql(op.reverse()), fix=op)
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"tool": {"name": "dbadvisor"}, "findings": [finding.to_dict(PG.fix_dict)]}))
    history = tmp_path / "h.sqlite"
    argv = [sys.executable, "-m", "dbadvisor", "apply", target.dsn, str(report), "--yes", "--no-measure",
            "--history", str(history), "--lock-timeout", "60000"]
    with psycopg.connect(target.dsn, autocommit=True) as blocker:
        blocker.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        blocker.execute("SELECT count(*) FROM quiet")  # an old snapshot: the concurrent build waits for it
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
        wait_for(target, WAITING.format(verb="CREATE INDEX CONCURRENTLY"), alive=lambda: proc.poll() is None)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        blocker.execute("ROLLBACK")
    assert proc.returncode != 0 and b"Traceback" not in err, err
    (action,) = SqliteHistory(history).list()
    assert action.status == "interrupted"
    try:
        rerun = subprocess.run(argv, capture_output=True, timeout=120, check=False)
        assert rerun.returncode == 0, rerun.stderr
        statuses = [a.status for a in SqliteHistory(history).list()]
        assert statuses[0] == "interrupted" and statuses[-1] == "applied", statuses
        assert target.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_code_idx'::regclass"
                              ) == [(True,)]
    finally:
        target.execute("DROP INDEX IF EXISTS items_code_idx")


def test_a_revert_killed_mid_statement_is_completed_by_a_rerun(target: Database, tmp_path: Path) -> None:
    history = SqliteHistory(tmp_path / "h.sqlite")
    op = CreateIndex("public", "items", "items_code_idx", (IndexColumn("code"),))
    (applied,) = apply(target.dsn, [_step(op)], history, ApplyOptions(measure=False))
    assert applied.action_id is not None
    failure: list[BaseException] = []
    try:
        with psycopg.connect(target.dsn, autocommit=True) as blocker:
            blocker.execute("BEGIN")
            blocker.execute("SELECT count(*) FROM items")  # holds a lock the concurrent drop must wait out

            def run() -> None:
                try:
                    revert(target.dsn, applied.action_id or 0, history)
                except BaseException as exc:
                    failure.append(exc)

            worker = threading.Thread(target=run)
            worker.start()
            rows = wait_for(target, WAITING.format(verb="DROP INDEX CONCURRENTLY"), failure=failure)
            target.execute("SELECT pg_terminate_backend(%s)", (rows[0][0],))
            worker.join(30)
            blocker.execute("ROLLBACK")
        assert failure and isinstance(failure[0], ApplyError) and "connection lost" in str(failure[0])
        action = history.get(applied.action_id)
        assert action is not None and action.status == "applied"  # not marked reverted: it was not
        assert history.list()[-1].status == "failed"
        done = revert(target.dsn, applied.action_id, history)
        assert done.status == "applied"
        assert target.execute("SELECT to_regclass('items_code_idx')") == [(None,)]
    finally:
        target.execute("DROP INDEX IF EXISTS items_code_idx")
