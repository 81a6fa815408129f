"""Sources: a snapshot file stands in for the live database (same findings, no credentials), offline
sources skip what needs a live server or live statistics, with the reason, and bad files are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbadvisor.analysis import analyze
from dbadvisor.cli import app
from dbadvisor.sources.snapshot import SnapshotSource
from tests.conftest import Database

SCHEMA = """
CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, account_id int REFERENCES accounts, note text);
INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 2000) g;
INSERT INTO orders SELECT g, 1 + g % 2000, md5(g::text) FROM generate_series(1, 20000) g;
CREATE INDEX orders_note_idx ON orders (note);
CREATE INDEX orders_note_twin ON orders (note);
CREATE TABLE loose (v int);
ANALYZE;
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def target(db: Database) -> Database:
    db.execute(SCHEMA)
    return db


@pytest.fixture(scope="module")
def snapshot_file(target: Database, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snap") / "snap.json"
    result = runner.invoke(app, ["snapshot", target.dsn, "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_a_snapshot_gives_the_live_findings(target: Database, snapshot_file: Path) -> None:
    live = {f.id for f in target.analyze().findings if f.check != "missing_index"}
    offline = analyze(SnapshotSource(snapshot_file))
    assert {f.id for f in offline.findings} == live
    assert "unindexed_foreign_key:public.orders.orders_account_id_fkey" in live
    assert any(s.check == "missing_index" and "offline" in s.reason for s in offline.skipped)
    doc = json.loads(snapshot_file.read_text())
    assert doc["format"] == "dbadvisor-snapshot" and doc["version"] == 1
    assert target.dsn not in snapshot_file.read_text()
    assert doc["snapshot"]["settings"]["primary_conninfo"]["value"] in ("", "***")  # never a replica's password


def test_analyze_snapshot_from_the_cli(snapshot_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["analyze", "--snapshot", str(snapshot_file), "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["database"]["dialect"] == "postgresql"
    both = runner.invoke(app, ["analyze", "host=x", "--snapshot", str(snapshot_file)])
    assert both.exit_code == 2 and "give one of a DSN, --snapshot FILE or --migrations DIR" in both.stderr


def test_without_live_statistics_counter_checks_are_skipped(snapshot_file: Path, tmp_path: Path) -> None:
    doc = json.loads(snapshot_file.read_text())
    doc["capabilities"] |= {"live_statistics": False, "source": "a migrations folder replayed into a shadow database"}
    path = tmp_path / "shadow.json"
    path.write_text(json.dumps(doc))
    report = analyze(SnapshotSource(path))
    reasons = {s.check: s.reason for s in report.skipped}
    for check in ("unused_index", "seq_scan_heavy_table", "low_cache_hit_ratio", "table_bloat", "index_bloat"):
        assert "no live statistics" in reasons[check], reasons
    assert any(f.check == "duplicate_index" for f in report.findings)  # schema checks still run


@pytest.mark.parametrize("edit", [
    lambda d: d["snapshot"]["tables"][0].update(sneaky=1),
    lambda d: d["snapshot"]["tables"][0].update(rows_estimate="many"),
    lambda d: d.update(version=99),
    lambda d: d.update(format="other"),
])
def test_a_broken_snapshot_is_one_line(snapshot_file: Path, tmp_path: Path, edit: object) -> None:
    doc = json.loads(snapshot_file.read_text())
    edit(doc)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    result = runner.invoke(app, ["analyze", "--snapshot", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "snapshot" in result.stderr and len(result.stderr.strip().splitlines()) <= 2


def test_a_baseline_leaves_out_what_was_accepted(target: Database, snapshot_file: Path, tmp_path: Path) -> None:
    first = tmp_path / "baseline.json"
    runner.invoke(app, ["analyze", "--snapshot", str(snapshot_file), "-f", "json", "-o", str(first)])
    accepted = json.loads(first.read_text())["findings"]
    assert accepted
    again = tmp_path / "again.json"
    result = runner.invoke(app, ["analyze", "--snapshot", str(snapshot_file), "--baseline", str(first),
                                 "-f", "json", "-o", str(again), "--fail-on", "low"])
    assert result.exit_code == 0, result.output  # nothing new: CI passes
    doc = json.loads(again.read_text())
    assert doc["findings"] == [] and doc["summary"]["baselined"] == len(accepted)
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps({"ids": [accepted[0]["id"]]}))
    partial = runner.invoke(app, ["analyze", "--snapshot", str(snapshot_file), "--baseline", str(ids),
                                  "-f", "json", "-o", str(again)])
    assert partial.exit_code == 0 and len(json.loads(again.read_text())["findings"]) == len(accepted) - 1
    bad = runner.invoke(app, ["analyze", "--snapshot", str(snapshot_file), "--baseline", str(snapshot_file)])
    assert bad.exit_code == 2 and "--baseline" in bad.stderr
