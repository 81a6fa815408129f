"""Every check's fix is an operation that round-trips: through a saved report, apply (recorded), a second
apply that finds it done, revert, and the SQL migration files run by psql, on a real server. The
sequence, RLS and extension fixes were strings before; now they reach migrations and apply."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dbadvisor.apply.history import SqliteHistory
from dbadvisor.apply.run import ApplyOptions, apply, revert
from dbadvisor.dialects.postgres.cluster import find_bindir
from dbadvisor.migrations import plan_of
from dbadvisor.migrations.sql import write
from dbadvisor.report import json as json_report
from dbadvisor.sources import saved_report
from tests.conftest import Database

SCHEMA = """
CREATE TABLE t (id serial PRIMARY KEY, v int);
CREATE TABLE refs (t_id int REFERENCES t (id));
CREATE INDEX refs_t_id_idx ON refs (t_id);
SELECT setval('t_id_seq', 2000000000);
CREATE FUNCTION app_uid() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';
CREATE TABLE docs (id int PRIMARY KEY, owner int);
CREATE INDEX docs_owner_idx ON docs (owner);
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON docs USING (owner = app_uid());
CREATE TABLE quiet (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
"""
CHECKS = ("sequence_exhaustion", "rls_per_row_function", "autovacuum_settings", "pg_stat_statements_missing")


@pytest.fixture
def target(fresh_db: Database) -> Database:
    fresh_db.execute("DROP EXTENSION IF EXISTS pg_stat_statements")
    fresh_db.execute(SCHEMA)
    return fresh_db


def _state(db: Database) -> dict[str, object]:
    return {
        "t.id": db.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                           "WHERE attrelid = 't'::regclass AND attname = 'id'")[0][0],
        "refs.t_id": db.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                                "WHERE attrelid = 'refs'::regclass AND attname = 't_id'")[0][0],
        "seq": db.execute("SELECT data_type::text FROM pg_sequences WHERE sequencename = 't_id_seq'")[0][0],
        "policy": db.execute("SELECT qual FROM pg_policies WHERE policyname = 'own'")[0][0],
        "quiet": db.execute("SELECT reloptions FROM pg_class WHERE relname = 'quiet'")[0][0],
        "pgss": bool(db.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")),
    }


def _report(db: Database, tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json_report.render(db.analyze(only=CHECKS)))
    return path


def test_fixes_apply_are_found_done_and_revert(target: Database, tmp_path: Path) -> None:
    before = _state(target)
    steps = list(plan_of(saved_report.load(_report(target, tmp_path)).actionable()).steps)
    assert {s.finding.check for s in steps} == set(CHECKS)
    history = SqliteHistory(tmp_path / "h.sqlite")
    results = apply(target.dsn, steps, history, ApplyOptions(measure=False))
    assert [r.status for r in results] == ["applied"] * len(steps)
    after = _state(target)
    assert after["t.id"] == after["refs.t_id"] == "bigint" and after["seq"] == "bigint"
    assert "SELECT app_uid()" in str(after["policy"]) and after["pgss"]
    assert after["quiet"] == ["autovacuum_enabled=true"]
    again = apply(target.dsn, steps, history, ApplyOptions(measure=False))
    assert {r.status for r in again} == {"already applied"}
    for r in reversed(results):
        assert r.action_id is not None
        revert(target.dsn, r.action_id, history)
    assert _state(target) == before


def test_sql_migrations_run_up_and_down(target: Database, tmp_path: Path) -> None:
    before = _state(target)
    plan = plan_of(saved_report.load(_report(target, tmp_path)).actionable())
    up, down = write(plan, tmp_path / "mig", "test", "report.json")

    def psql(path: Path) -> None:
        done = subprocess.run([str(find_bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target.dsn,
                               "-f", str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

    psql(up)
    assert _state(target)["seq"] == "bigint"
    psql(down)
    assert _state(target) == before
