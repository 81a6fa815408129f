"""Generated migrations on a real server: up.sql/down.sql through psql, Alembic revisions through
``alembic upgrade`` and ``downgrade``; names that need quoting survive every file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from psycopg import sql
from typer.testing import CliRunner

from dbadvisor.cli import app
from dbadvisor.dialects.postgres.cluster import SUPERUSER
from dbadvisor.dialects.postgres.dsn import sqlalchemy_url
from tests.conftest import Database

EVIL = 'a"; drop table x;--'
Q = EVIL.replace('"', '""')
SCHEMA = f"""
CREATE TABLE "{Q}" (id int PRIMARY KEY, "Owner Id" int NOT NULL, status text NOT NULL);
INSERT INTO "{Q}" SELECT g, g % 300, CASE WHEN g % 100 = 0 THEN 'a:b%' ELSE 'ok' END
FROM generate_series(1, 50000) g;
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
CREATE INDEX child_dup_a ON child (parent_id, id);
CREATE INDEX child_dup_b ON child (parent_id, id);
ANALYZE;
"""
WORKLOAD = f"""
SELECT id FROM "{Q}" WHERE "Owner Id" = 7;
SELECT id FROM "{Q}" WHERE status = 'a:b%' ORDER BY "Owner Id" LIMIT 5;
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def target(db: Database) -> Database:
    db.execute(SCHEMA)
    return db


@pytest.fixture
def report(target: Database, tmp_path: Path) -> Path:
    return target.report_file(tmp_path / "report.json", WORKLOAD, only=("missing_index", "duplicate_index"))


def _indexes(db: Database) -> set[str]:
    return {str(r[0]) for r in db.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND i.indisvalid "
        "AND c.relname <> 'alembic_version_pkc'")}


def _migrations(report: Path, out: Path, fmt: str, *extra: str) -> list[Path]:
    result = runner.invoke(app, ["migrations", str(report), "--format", fmt, "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return sorted(out.iterdir())


@pytest.mark.hypopg
def test_report_has_quoted_fixes(report: Path) -> None:
    findings = json.loads(report.read_text())["findings"]
    fixes = [f["fix"] for f in findings if f["fix"]]
    assert {f["op"] for f in fixes} == {"create_index", "drop_index"}
    assert any(f["table"] == EVIL for f in fixes)


@pytest.mark.hypopg
def test_sql_files_run_up_and_down_with_psql(target: Database, report: Path, tmp_path: Path) -> None:
    before = _indexes(target)
    up, down = (tmp_path / "sql" / "up.sql"), (tmp_path / "sql" / "down.sql")
    assert _migrations(report, tmp_path / "sql", "sql") == [down, up]
    text = up.read_text()
    assert text.index("\nCREATE INDEX CONCURRENTLY") < text.index("\nDROP INDEX CONCURRENTLY")  # dependency order
    assert '"a""; drop table x;--"' in text

    def psql(path: Path) -> None:
        bindir = target.cluster.bindir
        subprocess.run([str(bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target.dsn, "-U",
                        SUPERUSER, "-f", str(path)], check=True, capture_output=True)

    psql(up)
    after = _indexes(target)
    assert len(after - before) == 2 and len(before - after) == 1  # two built, one duplicate dropped
    assert target.execute(f'SELECT count(*) FROM "{Q}"')[0][0] == 50000  # the table is still a table
    psql(down)
    assert _indexes(target) == before


def _alembic_project(target: Database, tmp_path: Path) -> tuple[Config, Path]:
    """A fresh Alembic project (``alembic init``) pointed at the test database."""
    project = tmp_path / "alembic"
    cfg = Config(str(tmp_path / "alembic.ini"))
    cfg.set_main_option("script_location", str(project))
    command.init(cfg, str(project))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(target.dsn).replace("%", "%%"))
    return cfg, project


@pytest.mark.hypopg
def test_alembic_upgrade_then_downgrade(target: Database, report: Path, tmp_path: Path) -> None:
    before = _indexes(target)
    cfg, project = _alembic_project(target, tmp_path)
    files = _migrations(report, project / "versions", "alembic")
    assert len(files) == 3 and all(f.suffix == ".py" for f in files)
    for f in files:
        compile(f.read_text(), str(f), "exec")

    command.upgrade(cfg, "head")
    after = _indexes(target)
    assert len(after - before) == 2 and len(before - after) == 1
    command.downgrade(cfg, "base")
    assert _indexes(target) == before
    command.upgrade(cfg, "head")  # and again, as a deploy would after a rollback
    assert _indexes(target) == after
    command.downgrade(cfg, "base")


@pytest.mark.hypopg
def test_alembic_rebuilds_an_invalid_leftover(target: Database, report: Path, tmp_path: Path) -> None:
    cfg, project = _alembic_project(target, tmp_path)
    _migrations(report, project / "versions", "alembic", "--only", "missing_index")
    finding = next(f for f in json.loads(report.read_text())["findings"] if f["check"] == "missing_index")
    name = finding["fix"]["name"]
    # An interrupted concurrent build: the index exists but is INVALID (simulated by a failed unique build).
    target.execute("CREATE TABLE IF NOT EXISTS dupes (v int); INSERT INTO dupes VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        target.execute(sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY {} ON dupes (v)").format(sql.Identifier(name)))
    command.upgrade(cfg, "head")
    (valid,) = target.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                              "WHERE c.relname = %s", (name,))[0]
    assert valid
    command.downgrade(cfg, "base")
    target.execute("DROP TABLE dupes")


def test_no_fix_is_a_clear_error(target: Database, tmp_path: Path) -> None:
    empty = target.report_file(tmp_path / "empty.json", "SELECT 1;", only=("missing_primary_key",))
    result = runner.invoke(app, ["migrations", str(empty), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "no finding with a fix" in result.output


def test_the_same_statement_is_one_step() -> None:
    from dbadvisor.migrations import plan_of
    from dbadvisor.model.ddl import DropIndex
    from dbadvisor.model.findings import Finding, Severity

    drop = DropIndex("public", "idx_a")
    findings = [Finding(f"{check}:public.idx_a", check, Severity.LOW, "t", "d", fix=drop)
                for check in ("duplicate_index", "unused_index")]
    (step,) = plan_of(findings).steps
    assert step.also == ("unused_index:public.idx_a",) and "also fixes unused_index" in step.label


def test_a_drop_that_relies_on_a_dropped_index_is_held_back() -> None:
    from dbadvisor.migrations import plan_of
    from dbadvisor.migrations.sql import render
    from dbadvisor.model.ddl import DropIndex
    from dbadvisor.model.findings import Finding, Severity

    def drop(check: str, name: str, **evidence: object) -> Finding:
        if check == "unused_index":
            evidence.setdefault("stats_window_days", 30.0)
        return Finding(f"{check}:public.{name}", check, Severity.LOW, "t", "d", evidence=evidence,
                       fix=DropIndex("public", name))

    plan = plan_of([
        drop("redundant_index", "idx_a", covered_by="public.idx_ab"),  # (a) is served by (a, b) ...
        drop("unused_index", "idx_ab"),  # ... which is dropped: (a) must stay
        drop("duplicate_index", "idx_c2", duplicate_of="public.idx_c1"),  # both twins unused: one goes,
        drop("unused_index", "idx_c2"),
        drop("unused_index", "idx_c1"),  # the last copy stays
    ])
    assert [s.op.name for s in plan.steps] == ["idx_ab", "idx_c2"]  # type: ignore[attr-defined]
    held, last = plan.held
    assert held.finding.id == "redundant_index:public.idx_a" and "public.idx_ab" in held.reason
    assert last.finding.id == "unused_index:public.idx_c1" and "last copy" in last.reason
    assert "-- held back: redundant_index:public.idx_a" in render(plan, "0", "test")["up.sql"]
