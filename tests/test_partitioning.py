"""Tables that grow without bound, on a real server with months of rows: which tables to partition and
which to expire (and which not), the interval from growth, the pre-flight refusal, the generated
migrations run up and down, the online conversion and its revert, retention that removes exactly what is
older than the horizon (archived, checksummed), and ``dbadvisor maintain``."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from typer.testing import CliRunner

from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.apply.history import SqliteHistory
from dbadvisor.apply.maintain import maintain
from dbadvisor.apply.run import ApplyOptions, apply, revert
from dbadvisor.cli import app
from dbadvisor.dialects.postgres.cluster import SUPERUSER
from dbadvisor.dialects.postgres.dsn import sqlalchemy_url
from dbadvisor.dialects.postgres.maintenance import MaintainOptions
from dbadvisor.migrations import Step, plan_of
from dbadvisor.model.ddl import SetRetention
from dbadvisor.model.findings import Finding, Report, Severity
from dbadvisor.model.timeseries import choose_interval
from dbadvisor.report import json as json_report
from dbadvisor.sources import saved_report
from tests.conftest import Database

SCHEMA = """
CREATE TABLE accounts (id bigint PRIMARY KEY, name text);
INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 100) g;
-- a log: 300k rows over 120 days, read while fresh, already expired by a nightly DELETE
CREATE TABLE app_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                         account_id bigint NOT NULL REFERENCES accounts (id),
                         created_at timestamptz NOT NULL DEFAULT now(), kind text NOT NULL, payload jsonb);
INSERT INTO app_events (account_id, created_at, kind, payload)
SELECT 1 + g % 100, now() - interval '120 days' + g * interval '120 days' / 300000, 'k' || g % 7, '{"a": 1}'
FROM generate_series(1, 300000) g;
CREATE INDEX app_events_created_at_idx ON app_events (created_at);
CREATE INDEX app_events_account_id_idx ON app_events (account_id);
GRANT SELECT ON app_events TO PUBLIC;
-- fast growth: 75k wide rows a day for 8 days
CREATE TABLE metrics (id bigserial PRIMARY KEY, recorded_at timestamptz NOT NULL, host int NOT NULL, body text);
INSERT INTO metrics (recorded_at, host, body)
SELECT now() - interval '8 days' + g * interval '8 days' / 600000, g % 50, repeat(md5(g::text), 6)
FROM generate_series(1, 600000) g;
CREATE INDEX metrics_recorded_at_idx ON metrics (recorded_at);
-- referenced by a foreign key: cannot be partitioned without changing the other table
CREATE TABLE sessions (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, started_at timestamptz NOT NULL);
INSERT INTO sessions (started_at) SELECT now() - interval '60 days' + g * interval '60 days' / 300000
FROM generate_series(1, 300000) g;
CREATE TABLE session_hits (id bigint PRIMARY KEY, session_id bigint REFERENCES sessions (id));
-- traps: small; update-heavy; read across all history; keyed lookups only; already partitioned
CREATE TABLE small_log (id bigint PRIMARY KEY, at timestamptz NOT NULL);
INSERT INTO small_log SELECT g, now() - g * interval '1 hour' FROM generate_series(1, 5000) g;
CREATE TABLE orders (id bigint PRIMARY KEY, placed_at timestamptz NOT NULL, status text NOT NULL);
INSERT INTO orders SELECT g, now() - interval '200 days' + g * interval '200 days' / 200000, 'new'
FROM generate_series(1, 200000) g;
UPDATE orders SET status = 'paid';
UPDATE orders SET status = 'shipped';
CREATE TABLE ledger (id bigint PRIMARY KEY, booked_at timestamptz NOT NULL, account_id int NOT NULL, amount int);
INSERT INTO ledger SELECT g, now() - interval '400 days' + g * interval '400 days' / 300000, g % 100, g % 13
FROM generate_series(1, 300000) g;
CREATE TABLE lookups (id bigint PRIMARY KEY, seen_at timestamptz NOT NULL, v text);
INSERT INTO lookups SELECT g, now() - interval '300 days' + g * interval '300 days' / 300000, 'v'
FROM generate_series(1, 300000) g;
CREATE TABLE pevents (id bigint, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE pevents_old PARTITION OF pevents FOR VALUES FROM ('2000-01-01') TO ('2026-11-01');
CREATE TABLE pevents_new PARTITION OF pevents DEFAULT;
INSERT INTO pevents SELECT g, now() - g * interval '1 minute' FROM generate_series(1, 50000) g;
ANALYZE;
"""
WORKLOAD = """
-- weight: 100
SELECT * FROM app_events WHERE created_at > now() - interval '7 days' ORDER BY created_at DESC LIMIT 50;
-- weight: 20
SELECT kind, count(*) FROM app_events WHERE account_id = 5 AND created_at > now() - interval '30 days' GROUP BY kind;
-- weight: 1
DELETE FROM app_events WHERE created_at < now() - interval '90 days';
-- weight: 500
INSERT INTO app_events (account_id, kind, payload) VALUES (1, 'x', '{}');
-- weight: 50
SELECT host, count(*) FROM metrics WHERE recorded_at > now() - interval '1 day' GROUP BY host;
-- weight: 50
SELECT count(*) FROM sessions WHERE started_at >= $1;
-- weight: 50
SELECT * FROM small_log WHERE at > now() - interval '1 day';
-- weight: 50
SELECT * FROM orders WHERE placed_at > now() - interval '7 days';
-- weight: 50
SELECT sum(amount) FROM ledger WHERE account_id = 7;
-- weight: 50
SELECT * FROM lookups WHERE id = 42;
-- weight: 50
SELECT * FROM pevents WHERE at > now() - interval '1 day';
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def target(db: Database) -> Database:
    db.execute(SCHEMA)
    return db


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("w") / "workload.sql"
    path.write_text(WORKLOAD)
    return path


@pytest.fixture(scope="module")
def report(target: Database, workload: Path) -> Report:
    return analyze(target.dsn, AnalyzeOptions(only=("partition_by_time", "retention_policy"), workload=(workload,)))


def _by_id(report: Report) -> dict[str, Finding]:
    return {f.id: f for f in report.findings}


def _saved(target: Database, workload: Path, tmp_path: Path, only: str) -> tuple[Path, list[Step]]:
    path = target.report_file(tmp_path / "report.json", workload.read_text(),
                              only=("partition_by_time", "retention_policy"))
    steps = list(plan_of(saved_report.load(path).actionable((only,))).steps)
    assert steps, f"no step for {only}"
    return path, steps


def test_candidates_are_found_and_traps_are_not(report: Report) -> None:
    found = set(_by_id(report))
    assert {f for f in found if f.startswith("partition_by_time:")} == {
        "partition_by_time:public.app_events", "partition_by_time:public.metrics",
        "partition_by_time:public.sessions"}
    # retention: the log already expired, and what is read only while fresh (the orders are too, but they
    # change: records, not a log)
    assert {f for f in found if f.startswith("retention_policy:")} == {
        "retention_policy:public.app_events", "retention_policy:public.metrics", "retention_policy:public.pevents"}


def test_the_interval_follows_growth(report: Report, target: Database) -> None:
    events, metrics = (_by_id(report)[f"partition_by_time:public.{t}"] for t in ("app_events", "metrics"))
    assert events.evidence["interval"] == "1 month" and metrics.evidence["interval"] == "1 day"
    per_day = events.evidence["growth_per_day"]["rows"]
    assert 2300 < per_day < 2700  # 300,000 rows over 120 days
    memory = int(target.execute("SELECT pg_size_bytes(current_setting('shared_buffers'))")[0][0])
    assert choose_interval(metrics.evidence["growth_per_day"]["bytes"], 400, memory).interval == "1 day"
    assert events.columns == ("created_at",) and events.table == "public.app_events"
    assert events.evidence["preflight"]["new_primary_key"] == ["id", "created_at"]
    assert events.evidence["pruning_share"] == 1.0
    assert events.fix is not None and events.fix.kind == "partition_table"


def test_a_table_foreign_keys_point_to_is_refused_with_the_reason(report: Report) -> None:
    sessions = _by_id(report)["partition_by_time:public.sessions"]
    assert sessions.fix is None and sessions.sql is None
    assert any("public.session_hits" in r for r in sessions.evidence["refused"])
    assert "public.session_hits" in sessions.detail


def test_retention_evidence_counts_rows_past_the_horizon(report: Report, target: Database) -> None:
    finding = _by_id(report)["retention_policy:public.app_events"]
    assert finding.evidence["keep"] == "90 days" and finding.evidence["method"] == "delete"
    older = target.execute("SELECT count(*) FROM app_events "
                           "WHERE created_at::date < (now() - interval '90 days')::date")
    assert finding.evidence["rows_older"] == older[0][0]
    assert finding.fix is not None and finding.rollback_sql is not None


def _psql(target: Database, path: Path) -> None:
    subprocess.run([str(target.cluster.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target.dsn,
                    "-U", SUPERUSER, "-1", "-f", str(path)], check=True, capture_output=True)


def _shape(target: Database, table: str) -> tuple[str, int, int, list[Any]]:
    kind, = target.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", (table,))[0]
    rows = int(target.execute(f"SELECT count(*) FROM {table}")[0][0])
    parts = int(target.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", (table,))[0][0])
    indexes = sorted(r[0] for r in target.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
        (table,)))
    return str(kind), rows, parts, indexes


def test_sql_and_alembic_migrations_run_and_reverse(target: Database, workload: Path, tmp_path: Path) -> None:
    path, _ = _saved(target, workload, tmp_path, "partition_by_time:public.app_events")
    before = _shape(target, "app_events")
    out = tmp_path / "sql"
    result = runner.invoke(app, ["migrations", str(path), "--format", "sql", "--out", str(out),
                                 "--only", "partition_by_time:public.app_events"])
    assert result.exit_code == 0, result.output
    _psql(target, out / "up.sql")
    kind, rows, parts, indexes = _shape(target, "app_events")
    assert (kind, rows) == ("p", before[1]) and parts >= 5
    assert {"app_events_pkey", "app_events_created_at_idx", "app_events_account_id_idx"} <= set(indexes)
    target.execute("INSERT INTO app_events (account_id, kind) VALUES (1, 'after')")  # defaults and identity
    _psql(target, out / "down.sql")
    assert _shape(target, "app_events")[0] == "r" and _shape(target, "app_events")[1] == before[1] + 1
    target.execute("DELETE FROM app_events WHERE kind = 'after'")

    project = tmp_path / "alembic"
    cfg = Config(str(tmp_path / "alembic.ini"))
    cfg.set_main_option("script_location", str(project))
    command.init(cfg, str(project))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(target.dsn).replace("%", "%%"))
    result = runner.invoke(app, ["migrations", str(path), "--format", "alembic", "--out", str(project / "versions"),
                                 "--only", "partition_by_time:public.app_events"])
    assert result.exit_code == 0, result.output
    command.upgrade(cfg, "head")
    assert _shape(target, "app_events")[0] == "p"
    command.downgrade(cfg, "base")
    assert _shape(target, "app_events")[:2] == before[:2]


def test_online_conversion_then_revert(target: Database, workload: Path, tmp_path: Path) -> None:
    _, steps = _saved(target, workload, tmp_path, "partition_by_time:public.metrics")
    history = SqliteHistory(tmp_path / "h.sqlite")
    before = _shape(target, "metrics")
    (result,) = apply(target.dsn, steps, history, ApplyOptions(measure=False))
    assert result.status == "applied", result.error
    kind, rows, parts, indexes = _shape(target, "metrics")
    assert (kind, rows) == ("p", before[1]) and parts >= 10  # daily: 8 days of rows, 4 ahead, default
    assert {"metrics_pkey", "metrics_recorded_at_idx"} <= set(indexes)
    assert target.execute("SELECT to_regclass('metrics__dbadvisor_new'), to_regclass('metrics__dbadvisor_old')") \
        == [(None, None)]
    (new_id,) = target.execute("INSERT INTO metrics (recorded_at, host) VALUES (now(), 1) RETURNING id")[0]
    assert new_id > 600000  # the serial sequence went on
    action = history.get(result.action_id or 0)
    assert action is not None
    assert [p["phase"] for p in action.json("phases")] == ["prepared", "capturing", "backfilled", "swapped",
                                                            "cleaned up", "maintained by dbadvisor maintain"]
    assert target.execute("SELECT premake, \"interval\" FROM dbadvisor.partitioning WHERE table_name = 'metrics'") \
        == [(4, "1 day")]

    # maintain makes the partitions ahead again when one goes missing
    last = target.execute("SELECT max(c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                          "WHERE i.inhparent = 'metrics'::regclass AND c.relname <> 'metrics_default'")[0][0]
    target.execute(f"DROP TABLE {last}")
    (made,) = [m for m in maintain(target.dsn) if m.action == "partitions ahead"]
    assert made.error is None and made.figures["created"] == [last]

    back = revert(target.dsn, result.action_id or 0, history)
    assert back.status == "applied"
    assert _shape(target, "metrics")[:2] == ("r", before[1] + 1)
    assert target.execute("SELECT count(*) FROM dbadvisor.partitioning WHERE table_name = 'metrics'") == [(0,)]


def test_batched_retention_removes_exactly_what_is_older_and_archives_it(target: Database, tmp_path: Path) -> None:
    target.execute("CREATE TABLE audit_log AS SELECT g AS id, now() - g * interval '1 hour' AS at, md5(g::text) AS v "
                   "FROM generate_series(1, 20000) g; ALTER TABLE audit_log ADD PRIMARY KEY (id)")
    history = SqliteHistory(tmp_path / "h.sqlite")
    op = SetRetention("public", "audit_log", "at", "30 days", batch_rows=1000)
    step = Step(Finding("retention_policy:public.audit_log", "retention_policy", Severity.MEDIUM, "t",
                        "d", fix=op), op, op.reverse())
    total = target.execute("SELECT count(*) FROM audit_log")[0][0]
    dry = maintain(target.dsn, MaintainOptions(dry_run=True))
    assert dry == []  # no policy yet
    archive = tmp_path / "archive"
    (result,) = apply(target.dsn, [step], history, ApplyOptions(measure=False,
                                                                maintain=MaintainOptions(archive_dir=archive)))
    assert result.status == "applied", result.error
    assert result.measured is not None
    removed, horizon = result.measured["rows"], result.measured["horizon"]
    left = target.execute("SELECT count(*), min(at) >= %s::timestamptz FROM audit_log", (horizon,))[0]
    assert left[1] is True and removed + left[0] == total and removed > 19000
    assert result.measured["batches"] >= removed // 1000
    (file,) = [Path(a["file"]) for a in result.measured["archives"]]
    subprocess.run(["sha256sum", "-c", file.name + ".sha256"], cwd=file.parent, check=True, capture_output=True)
    with file.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "at", "v"] and len(rows) - 1 == removed
    newest = target.execute("SELECT max(x::timestamptz) < %s::timestamptz FROM unnest(%s::text[]) x",
                            (horizon, [r[1] for r in rows[1:]]))
    assert newest == [(True,)]  # every archived (removed) row was older than the horizon
    # a dry run of the policy now set counts nothing more to remove
    (again,) = maintain(target.dsn, MaintainOptions(dry_run=True), only=("public.audit_log",))
    assert again.figures["dry_run"] and again.figures["rows"] == 0


def test_partition_drops_remove_exactly_what_is_older(target: Database, tmp_path: Path) -> None:
    target.execute("""
        CREATE TABLE click_log (id bigint, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE click_log_default PARTITION OF click_log DEFAULT;
    """)
    for month in range(0, 7):
        target.execute(f"CREATE TABLE click_log_m{month} PARTITION OF click_log FOR VALUES FROM "
                       f"(date_trunc('month', now()) - interval '{month} months') TO "
                       f"(date_trunc('month', now()) - interval '{month - 1} months')")
    target.execute("INSERT INTO click_log SELECT g, now() - g * interval '10 minutes' FROM generate_series(1, 25000) g")
    total = target.execute("SELECT count(*) FROM click_log")[0][0]
    history = SqliteHistory(tmp_path / "h.sqlite")
    op = SetRetention("public", "click_log", "at", "45 days", "drop_partitions")
    step = Step(Finding("retention_policy:public.click_log", "retention_policy", Severity.MEDIUM, "t",
                        "d", fix=op), op, op.reverse())
    (result,) = apply(target.dsn, [step], history, ApplyOptions(measure=False))
    assert result.status == "applied", result.error
    measured = result.measured or {}
    assert measured["partitions"], measured  # whole months dropped, not deleted row by row
    left = target.execute("SELECT count(*), bool_and(at >= %s::timestamptz) FROM click_log", (measured["horizon"],))
    assert left[0][1] is True and measured["rows"] + left[0][0] == total
    reverted = revert(target.dsn, result.action_id or 0, history)  # removes the policy (rows stay gone)
    assert reverted.status == "applied"
    assert target.execute("SELECT count(*) FROM dbadvisor.retention WHERE table_name = 'click_log'") == [(0,)]


def test_the_report_carries_the_contract(report: Report) -> None:
    data = json.loads(json_report.render(report))
    for f in data["findings"]:
        assert f["id"] == f"{f['check']}:{f['table']}"
        assert f["columns"][0] in ("created_at", "recorded_at", "started_at", "at")
        if f["check"] == "retention_policy":
            assert f["evidence"]["keep"] in ("90 days", "2 days")
            assert f["fix"]["reverse_sql"]


def test_verify_measures_pruning_and_the_heap_retention_keeps(target: Database, report: Report) -> None:
    from dbadvisor.verify.run import VerifyOptions, verify

    scratch = target.cluster.create_database("scratch_partitioning", ())
    wanted = {"partition_by_time:public.app_events", "retention_policy:public.app_events"}
    subset = dataclasses.replace(report, findings=tuple(f for f in report.findings if f.id in wanted))
    result = verify(target.dsn, scratch, subset, VerifyOptions(runs=3))
    found = _by_id(result.report)
    part = found["partition_by_time:public.app_events"]
    assert part.estimate is not None and part.estimate.kind == "measured"
    reads = part.estimate.figures["partitions_read"]
    assert reads and max(reads) < part.estimate.figures["partitions"]  # the recent windows were pruned
    assert part.evidence["verification"]["verdict"] in ("confirmed", "demoted")
    kept = found["retention_policy:public.app_events"].evidence["verification"]
    assert kept["heap_bytes_after"] < kept["heap_bytes_before"] and kept["rows_removed"] > 0, kept
    assert _shape(target, "app_events")[0] == "r"  # the target is untouched


def test_maintain_from_the_command_line_counts_then_moves_rows_to_an_archive_table(target: Database) -> None:
    from dbadvisor.dialects.postgres import DIALECT

    target.execute("CREATE TABLE job_runs AS SELECT g AS id, now() - g * interval '1 hour' AS ran_at "
                   "FROM generate_series(1, 5000) g")
    for statement, _ in DIALECT.statements(SetRetention("public", "job_runs", "ran_at", "30 days", batch_rows=500)):
        target.execute(statement)
    older = target.execute("SELECT count(*) FROM job_runs WHERE ran_at < now() - interval '30 days'")[0][0]
    dry = runner.invoke(app, ["maintain", target.dsn, "--dry-run", "--only", "public.job_runs"])
    assert dry.exit_code == 0 and f"would remove {older:,} rows older than 30 days" in dry.output, dry.output
    assert target.execute("SELECT count(*) FROM job_runs")[0][0] == 5000  # a dry run changes nothing
    moved = runner.invoke(app, ["maintain", target.dsn, "--archive-table", "--only", "public.job_runs"])
    assert moved.exit_code == 0 and "moved to public.job_runs_archive" in moved.output, moved.output
    kept, archived = target.execute("SELECT (SELECT count(*) FROM job_runs), "
                                    "(SELECT count(*) FROM job_runs_archive)")[0]
    assert archived in (older, older + 1) and kept + archived == 5000  # (the horizon moved on by a few seconds)
    assert target.execute("SELECT max(ran_at) < (SELECT min(ran_at) FROM job_runs) FROM job_runs_archive") == [(True,)]
