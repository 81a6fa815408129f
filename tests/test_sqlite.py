"""SQLite files of realistic volume, analysed for real: the file stays byte-identical with no journal left
beside it, the catalog reads expression and partial keys, the hygiene and SQLite checks find what is
planted (and not the traps), and the advisor's recommendations are built and timed on a private copy,
including the ``json_extract`` index that Debian's ``sqlite3 .expert`` does not offer."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.demo import sqlite as demo
from dbadvisor.dialects.sqlite.catalog import collect
from dbadvisor.dialects.sqlite.connection import open_read_only, path_of
from dbadvisor.errors import UsageError
from dbadvisor.model.findings import Finding, Report

ROWS = 300_000
WORKLOAD = "".join(f"-- weight: {w}\n{sql};\n" for w, sql in demo.WORKLOAD)


def _build(path: Path) -> None:
    demo.build(path, messages=ROWS)


@pytest.fixture(scope="module")
def app_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "app.db"
    _build(path)
    return path


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("w") / "bot.sql"
    path.write_text(WORKLOAD)
    return path


@pytest.fixture(scope="module")
def report(app_db: Path, workload: Path) -> Report:
    return analyze(f"sqlite:///{app_db}", AnalyzeOptions(workload=(workload,)))


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _by_id(report: Report) -> dict[str, Finding]:
    return {f.id: f for f in report.findings}


def test_the_file_is_never_written(app_db: Path, workload: Path, tmp_path: Path) -> None:
    before = _digest(app_db)
    analyze(str(app_db), AnalyzeOptions(workload=(workload,)))  # the plain-path form too
    assert _digest(app_db) == before
    assert sorted(p.name for p in app_db.parent.iterdir()) == ["app.db"]  # no -journal, -wal, -shm
    wal = tmp_path / "wal.sqlite"
    shutil.copy(app_db, wal)
    with sqlite3.connect(wal) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    before = _digest(wal)
    report = analyze(f"sqlite:///{wal}", AnalyzeOptions(only=("sqlite_journal_mode", "redundant_index")))
    assert "sqlite_journal_mode:wal.sqlite" not in _by_id(report)  # WAL already
    assert _digest(wal) == before and sorted(p.name for p in tmp_path.iterdir()) == ["wal.sqlite"]


def test_a_target_that_is_not_a_sqlite_file_is_one_clear_line(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("hello")
    for bad, message in (("sqlite:///relative.db", "absolute"), (str(tmp_path / "missing.db"), "no SQLite file"),
                         (str(text), "not a SQLite database")):
        with pytest.raises(UsageError, match=message):
            path_of(bad)


def test_the_catalog_reads_keys_flags_and_foreign_keys(app_db: Path) -> None:
    conn = open_read_only(app_db)
    snap = collect(conn, app_db).snapshot
    conn.close()
    assert snap.database.dialect == "sqlite" and snap.table(("main", "messages"))
    messages = snap.table(("main", "messages"))
    assert messages is not None and messages.rows == ROWS and messages.total_bytes > messages.heap_bytes > 0
    partial = next(i for i in snap.indexes if i.name == "messages_trades_idx")
    assert partial.predicate == "role = 'trade'" and partial.key_columns == ("created_at",)
    assert snap.table(("main", "holdings")).reloptions == {"strict": "true"}  # type: ignore[union-attr]
    assert snap.table(("main", "stances")).reloptions == {"without_rowid": "true"}  # type: ignore[union-attr]
    fks = {(c.table, c.ref_table) for c in snap.constraints if c.type.value == "foreign_key"}
    assert fks == {("messages", "bots"), ("holdings", "bots")}
    assert snap.foreign_key_violations == {"main.holdings": 20}


def test_hygiene_and_sqlite_checks_find_what_is_planted(report: Report) -> None:
    found = _by_id(report)
    assert "redundant_index:main.messages_bot_idx" in found
    assert "sqlite_rowid_alias:main.holdings" in found  # INT PRIMARY KEY: not the rowid
    assert not any(f.startswith("sqlite_rowid_alias:main.") and f != "sqlite_rowid_alias:main.holdings" for f in found)
    assert "sqlite_journal_mode:app.db" in found and "sqlite_statistics:app.db" in found
    fk = found["sqlite_foreign_keys:app.db"]
    assert fk.evidence["violations"] == {"main.holdings": 20} and fk.severity.value == "high"
    assert "unindexed_foreign_key:main.holdings.holdings_fk0" in found
    assert all(f.table is None or f.table.startswith("main.") for f in report.findings)
    assert not any(f.startswith(("partition_by_time", "table_bloat", "missing_primary_key")) for f in found)


def test_the_advisor_measures_its_recommendations_on_a_copy(report: Report) -> None:
    recs = {f.index: f for f in report.findings if f.check == "missing_index"}
    composite = recs["main.messages_chat_id_created_at_desc_idx"]
    json_index = recs["main.messages_json_extract_meta_kind_idx"]
    assert any(i and i.startswith("main.memories_bot_id") for i in recs)  # (bot_id, kind), or partial on kind
    for f in (composite, json_index):
        assert f.estimate is not None and f.estimate.kind == "measured"
        assert f.estimate.figures["after_ms"] * 5 < f.estimate.figures["before_ms"]
        assert f.sql is not None and "CONCURRENTLY" not in f.sql
    assert json_index.sql == ('CREATE INDEX IF NOT EXISTS "main"."messages_json_extract_meta_kind_idx" ON "messages" '
                              "(json_extract(meta, '$.kind'));")
    # an index that already serves a statement is not proposed again
    assert not any(i and i.startswith("main.messages_bot_id") for i in recs)
    assert report.advisor["unit"] == "ms" and report.advisor["builds"] >= 3
    upkeep = composite.evidence["bystanders"]  # the workload's INSERT, timed with and without the index
    assert [q["query"][:20] for q in upkeep] == ["INSERT INTO messages"] and upkeep[0]["cost_after"] > 0


def test_sqlite3_expert_offers_nothing_for_the_json_filter(app_db: Path, report: Report, tmp_path: Path) -> None:
    if shutil.which("sqlite3") is None:
        pytest.skip("Debian's sqlite3 command-line shell is not installed")
    copy = tmp_path / "expert.db"
    shutil.copy(app_db, copy)
    out = subprocess.run(["sqlite3", str(copy)], input=".expert\nSELECT count(*) FROM messages WHERE "
                         "json_extract(meta, '$.kind') = 'trade';\n", capture_output=True, text=True, check=True)
    assert "(no new indexes)" in out.stdout
    assert any(f.index == "main.messages_json_extract_meta_kind_idx" for f in report.findings)


def test_migrations_run_up_and_down_on_a_copy(app_db: Path, report: Report, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dbadvisor.cli import app
    from dbadvisor.report import json as json_report

    saved = tmp_path / "report.json"
    saved.write_text(json_report.render(report))
    result = CliRunner().invoke(app, ["migrations", str(saved), "--format", "sql", "--out", str(tmp_path / "sql")])
    assert result.exit_code == 0, result.output
    copy = tmp_path / "copy.db"
    shutil.copy(app_db, copy)

    def indexes() -> set[str]:
        with closing(sqlite3.connect(copy)) as conn:
            return {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'index' "
                                               "AND sql IS NOT NULL")}

    before = indexes()
    for name in ("up.sql", "down.sql"):
        conn = sqlite3.connect(copy, isolation_level=None)
        conn.executescript((tmp_path / "sql" / name).read_text())
        conn.close()
        if name == "up.sql":
            after = indexes()
            assert "messages_json_extract_meta_kind_idx" in after and "messages_bot_idx" not in after
            with closing(sqlite3.connect(copy)) as conn:
                assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert indexes() == before


def test_apply_then_revert_on_the_file_itself(app_db: Path, report: Report, tmp_path: Path) -> None:
    from dbadvisor.apply.history import SqliteHistory
    from dbadvisor.apply.sqlite import apply, revert
    from dbadvisor.migrations import plan_of
    from dbadvisor.report import json as json_report
    from dbadvisor.sources import saved_report

    target = tmp_path / "target.db"
    shutil.copy(app_db, target)
    saved = tmp_path / "report.json"
    saved.write_text(json_report.render(report))
    plan = plan_of(saved_report.load(saved).actionable(("missing_index", "redundant_index")), "sqlite")
    history = SqliteHistory(tmp_path / "h.sqlite")
    results = apply(target, list(plan.steps), history)
    assert {r.status for r in results} == {"applied"}
    again = apply(target, list(plan.steps), history)
    assert {r.status for r in again} == {"already applied"}  # read from the file, by name
    with closing(sqlite3.connect(target)) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")}
    assert "messages_json_extract_meta_kind_idx" in names and "messages_bot_idx" not in names
    dropped = next(r for r in results if r.step.finding.id == "redundant_index:main.messages_bot_idx")
    back = revert(target, dropped.action_id or 0, history)
    assert back.status == "applied"
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'messages_bot_idx'").fetchone() == (
            "CREATE INDEX messages_bot_idx ON messages (bot_id)",)
    other = tmp_path / "other.db"
    shutil.copy(target, other)
    with pytest.raises(Exception, match="nothing done"):  # the history names the file by path and inode
        revert(other, results[0].action_id or 0, history)


def test_postgres_readiness_loads_replays_and_times_writers(tmp_path: Path) -> None:
    from dbadvisor import workload as workloads
    from dbadvisor.verify.readiness import measure

    small = tmp_path / "small.db"
    demo.build(small, messages=20_000)
    snapshot = analyze(f"sqlite:///{small}", AnalyzeOptions(only=("redundant_index",))).snapshot
    sql = demo.workload_file(tmp_path / "w.sql")
    found = measure(small, snapshot, workloads.from_paths((sql,)), write_seconds=0.3)
    assert found.tables == 5 and found.rows == 20_000 + 10_000 + 200 + 20_000  # stances is empty
    timed = [s for s in found.statements if "postgres_ms" in s]
    assert len(timed) == len(demo.WORKLOAD) - 2 and all(s["sqlite_ms"] > 0 for s in timed)  # no json, no INSERT
    kinds = {(i["kind"], i.get("table")) for i in found.incompatibilities}
    assert ("sql", None) in kinds  # json_extract on a text column
    assert ("foreign_key", "main.holdings") in kinds  # the orphans: no constraint
    for engine in ("sqlite", "postgres"):
        assert [w["writers"] for w in found.writes[engine]] == [1, 4]
        assert all(w["tx_per_s"] > 0 for w in found.writes[engine])
    assert any(f["id"].startswith("redundant_index:public.messages_bot_idx") for f in found.postgres_findings)


def test_a_sqlalchemy_echo_log_is_a_workload(app_db: Path) -> None:
    from dbadvisor import workload as workloads

    log = Path(__file__).parent / "fixtures" / "sqlalchemy_echo.log"
    found = workloads.from_paths((log,))
    queries = {s.query: s.calls for s in found.statements}
    assert queries["SELECT id, role, body FROM messages WHERE chat_id = 42 ORDER BY created_at DESC LIMIT 20"] == 3
    assert "SELECT * FROM memories WHERE bot_id = 7 AND kind = 'stance'" in queries
    assert "SELECT bots.id, bots.name FROM bots WHERE bots.owner = 'O''Brien'" in queries  # named, multi-line
    assert "INSERT INTO holdings (id, bot_id, qty) VALUES (1, 2, 1.5)" in queries  # executemany: its first row
    assert not any(q.startswith(("BEGIN", "COMMIT", "ROLLBACK")) for q in queries)
    report = analyze(f"sqlite:///{app_db}", AnalyzeOptions(only=("missing_index",), workload=(log,)))
    assert any(f.index == "main.messages_json_extract_meta_kind_idx" for f in report.findings)


def test_verify_measures_a_saved_report_on_a_private_copy(app_db: Path, report: Report, tmp_path: Path) -> None:
    from dbadvisor import commands
    from dbadvisor.report import json as json_report
    from dbadvisor.verify.run import VerifyOptions

    saved = tmp_path / "report.json"
    saved.write_text(json_report.render(report))
    before = _digest(app_db)
    result = commands.verify(f"sqlite:///{app_db}", "", saved, VerifyOptions(runs=2))
    assert result.verified >= 3 and result.demoted == 0
    json_index = _by_id(result.report)["missing_index:main.messages_json_extract_meta_kind_idx"]
    assert json_index.estimate is not None and json_index.estimate.figures["pays_off"]
    assert json_index.evidence["verification"]["verdict"] == "confirmed"
    assert _digest(app_db) == before
    with pytest.raises(UsageError, match="--report"):
        commands.verify(f"sqlite:///{app_db}", "", None, VerifyOptions(runs=1))


def test_a_prefix_like_that_its_index_cannot_serve(tmp_path: Path) -> None:
    path = tmp_path / "like.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript("CREATE TABLE bots (id INTEGER PRIMARY KEY, name TEXT, code TEXT);"
                           "CREATE INDEX bots_name_idx ON bots (name);"
                           "CREATE INDEX bots_code_idx ON bots (code COLLATE NOCASE);"
                           "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20000) "
                           "INSERT INTO bots SELECT i, 'bot' || i, 'c' || i FROM s;")
    sql = tmp_path / "w.sql"
    sql.write_text("SELECT * FROM bots WHERE name LIKE 'bot12%';\nSELECT * FROM bots WHERE code LIKE 'c12%';\n"
                   "SELECT * FROM bots WHERE name LIKE '%12';\n")
    report = analyze(f"sqlite:///{path}", AnalyzeOptions(only=("sqlite_like_collation",), workload=(sql,)))
    (finding,) = report.findings  # the NOCASE index serves its LIKE; a leading % needs no index
    assert finding.id == "sqlite_like_collation:main.bots.name"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(finding.sql or "")
        plan = conn.execute("EXPLAIN QUERY PLAN SELECT * FROM bots WHERE name LIKE 'bot12%'").fetchall()
    assert "SEARCH bots USING INDEX bots_name_nocase_idx" in str(plan)
