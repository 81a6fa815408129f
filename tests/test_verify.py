"""verify on real data: a scratch copy built from the target (schema + sampled rows), indexes built for
real and measured with EXPLAIN ANALYZE, the ones that do not pay off demoted, writes never run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbadvisor.cli import app
from dbadvisor.dialects.postgres import DIALECT as PG
from dbadvisor.dialects.postgres.explain import NotMeasurable, ensure_read_only
from dbadvisor.model.ddl import CreateIndex, IndexColumn
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.verify.run import VerifyOptions, verify
from tests.conftest import Database

pytestmark = pytest.mark.hypopg  # the index advisor's what-if costing

SCHEMA = """
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO accounts SELECT g, 'acct ' || g FROM generate_series(0, 4999) g;
CREATE TABLE events (id bigint PRIMARY KEY, account_id int NOT NULL REFERENCES accounts,
                     created_at timestamptz NOT NULL, payload text NOT NULL, doc jsonb NOT NULL);
INSERT INTO events SELECT g, g % 5000, now() - g * interval '1 second', md5(g::text),
                          jsonb_build_object('n', g, 'tag', (ARRAY['a', 'b', 'c'])[1 + g % 3])
FROM generate_series(1, 300000) g;
ANALYZE;
"""
WORKLOAD = """
-- weight: 100
SELECT id, payload FROM events WHERE account_id = 42 ORDER BY created_at DESC LIMIT 20;
-- weight: 10
SELECT count(*) FROM events WHERE doc @> '{"n": 4242}';
UPDATE events SET payload = 'x' WHERE account_id = 7;
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def target(db: Database) -> Database:
    db.execute(SCHEMA)
    return db


@pytest.fixture(scope="module")
def report(target: Database, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return target.report_file(tmp_path_factory.mktemp("verify") / "report.json", WORKLOAD)


def _scratch(target: Database, name: str) -> str:
    return target.cluster.create_database(name, extensions=())


def _by_columns(findings: tuple[Finding, ...] | list[Finding]) -> dict[tuple[str, ...], Finding]:
    return {f.columns: f for f in findings if f.check == "missing_index"}


def test_builds_scratch_and_measures(target: Database, report: Path) -> None:
    result = verify(target.dsn, _scratch(target, "scratch_measure"), report, VerifyOptions(runs=3, sample_rows=100_000))
    b = result.build
    assert b.built and b.tables == 2 and "public.events" in b.sampled and "public.accounts" not in b.sampled
    assert 50_000 < b.rows < 200_000  # accounts whole, events sampled down to about 100,000
    assert not b.problems

    found = _by_columns(result.report.findings)
    composite = found[("account_id", "created_at")]
    assert composite.estimate is not None and composite.estimate.kind == "measured"
    figures = composite.estimate.figures
    assert figures["pays_off"] and figures["index_used"] and figures["after_ms"] < figures["before_ms"]
    assert figures["index_size_bytes"] > 0 and figures["planner"]["kind"] == "planner"
    assert composite.evidence["verification"]["verdict"] == "confirmed"
    q, update = sorted(composite.evidence["verification"]["queries"], key=lambda q: "not_measured" in q)
    assert len(q["before"]["runs_ms"]) == 3 and q["after"]["buffers"] < q["before"]["buffers"]
    assert "write statements are never run" in update["not_measured"]

    gin = found[("doc",)]  # HypoPG cannot cost GIN: verify gives it real figures
    assert gin.estimate is not None and gin.estimate.kind == "measured" and gin.estimate.figures["pays_off"]
    assert result.verified == 2 and result.demoted == 0


def test_sample_that_breaks_a_foreign_key_is_noted_not_fatal(target: Database, report: Path) -> None:
    result = verify(target.dsn, _scratch(target, "scratch_tiny"), report, VerifyOptions(runs=1, sample_rows=2000))
    assert result.build.sampled.keys() == {"public.accounts", "public.events"}
    assert any("foreign key" in p for p in result.build.problems)
    assert any(s.check == "verify" and "foreign key" in s.reason for s in result.report.skipped)


def test_index_that_does_not_pay_off_is_demoted(target: Database, report: Path, tmp_path: Path) -> None:
    doc = json.loads(report.read_text())
    for f in doc["findings"]:  # a recommendation the statements cannot use
        if f["columns"] == ["account_id", "created_at"]:
            op = CreateIndex("public", "events", "events_payload_idx", (IndexColumn("payload"),))
            f["fix"], f["sql"], f["rollback_sql"] = PG.fix_dict(op), PG.sql(op), PG.sql(op.reverse())
            f["severity"] = "high"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    result = verify(target.dsn, _scratch(target, "scratch_demote"), edited, VerifyOptions(runs=2))
    f = next(f for f in result.report.findings if f.fix is not None and "payload" in PG.sql(f.fix))
    assert f.severity == Severity.LOW and "does not pay off" in f.detail
    assert f.estimate is not None and not f.estimate.figures["pays_off"] and not f.estimate.figures["index_used"]
    assert result.demoted == 1
    assert not target.execute("SELECT 1 FROM pg_class WHERE relname = 'events_payload_idx'")  # target untouched


def test_existing_scratch_copy_is_used_as_is(target: Database, report: Path) -> None:
    scratch = _scratch(target, "scratch_copy")
    with target.cluster.connect("scratch_copy") as conn:
        conn.execute(SCHEMA)
    result = verify(target.dsn, scratch, report, VerifyOptions(runs=2))
    assert not result.build.built and result.verified == 2


def test_write_statements_are_never_run() -> None:
    for sql in ("UPDATE events SET payload = 'x'", "DELETE FROM events",
                "WITH d AS (DELETE FROM events RETURNING id) SELECT count(*) FROM d",
                "SELECT * FROM events FOR UPDATE", "SELECT 1; DROP TABLE events"):
        with pytest.raises(NotMeasurable):
            ensure_read_only(sql)
    ensure_read_only("SELECT count(*) FROM events WHERE doc @> '{\"n\": 1}'")


def test_cli_writes_measured_report(target: Database, report: Path, tmp_path: Path) -> None:
    out = tmp_path / "verified.md"
    result = runner.invoke(app, ["verify", target.dsn, "--scratch-dsn", _scratch(target, "scratch_cli"),
                                 "--report", str(report), "--runs", "2", "-f", "markdown", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 measured, 0 demoted" in result.output
    assert "measured" in out.read_text()
    bad = runner.invoke(app, ["verify", target.dsn, "--scratch-dsn", "host=/nonexistent dbname=x"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    same = runner.invoke(app, ["verify", target.dsn, "--scratch-dsn", target.dsn, "--report", str(report)])
    assert same.exit_code == 2 and "target database itself" in same.output


def test_analyze_with_scratch_measures_gin_too(target: Database, tmp_path: Path) -> None:
    workload = tmp_path / "workload.sql"
    workload.write_text(WORKLOAD)
    result = runner.invoke(app, ["analyze", target.dsn, "--only", "missing_index", "--workload", str(workload),
                                 "--scratch-dsn", _scratch(target, "scratch_analyze"), "-f", "json"])
    assert result.exit_code in (0, 1), result.output
    findings = json.loads(result.stdout)["findings"]
    gin = next(f for f in findings if "gin" in (f["sql"] or "").lower())
    assert gin["estimate"]["kind"] == "measured"  # not "heuristic": HypoPG cannot cost it, a real build did
