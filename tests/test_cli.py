"""The CLI end to end against a real server: formats, exit codes, clear errors without tracebacks."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dbadvisor import __version__
from dbadvisor.cli import app
from dbadvisor.dialects.postgres.cluster import free_port
from tests.conftest import Database

runner = CliRunner()


@pytest.fixture(scope="module")
def seeded(db: Database) -> Database:
    db.execute("CREATE TABLE no_pk (a int, b text); INSERT INTO no_pk SELECT g, 'x' FROM generate_series(1, 100) g;"
               "CREATE TABLE with_pk (id int PRIMARY KEY); ANALYZE")
    return db


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.stdout


def test_checks_lists_every_check() -> None:
    result = runner.invoke(app, ["checks", "--json"])
    assert result.exit_code == 0
    ids = {c["id"] for c in json.loads(result.stdout)}
    assert "missing_primary_key" in ids


def test_analyze_json_contract(seeded: Database) -> None:
    result = runner.invoke(app, ["analyze", seeded.dsn, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["tool"] == {"name": "dbadvisor", "version": __version__}
    for key in ("dialect", "server_version", "name", "size_bytes", "stats_reset"):
        assert key in doc["database"]
    assert doc["database"]["dialect"] == "postgresql"
    finding = next(f for f in doc["findings"] if f["table"] == "public.no_pk")
    assert set(finding) == {"id", "check", "severity", "title", "detail", "table", "columns", "index",
                            "evidence", "sql", "rollback_sql", "estimate", "fix"}
    assert finding["check"] == "missing_primary_key" and finding["severity"] in {"low", "medium", "high"}
    assert finding["sql"].startswith('ALTER TABLE "public"."no_pk"')
    assert isinstance(doc["skipped"], list)
    assert not any(f["table"] == "public.with_pk" for f in doc["findings"])


@pytest.mark.parametrize("fmt,marker", [("markdown", "# Database optimization report"),
                                        ("html", "<!DOCTYPE html>"), ("text", "no_pk")])
def test_analyze_formats_to_file(seeded: Database, tmp_path, fmt: str, marker: str) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / f"report.{fmt}"
    result = runner.invoke(app, ["analyze", seeded.dsn, "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert marker in out.read_text()


def test_fail_on(seeded: Database) -> None:
    assert runner.invoke(app, ["analyze", seeded.dsn, "-f", "json", "--fail-on", "low"]).exit_code == 1
    assert runner.invoke(app, ["analyze", seeded.dsn, "-f", "json", "--fail-on", "critical"]).exit_code == 0


def test_only_and_skip(seeded: Database) -> None:
    result = runner.invoke(app, ["analyze", seeded.dsn, "-f", "json", "--skip", "missing_primary_key"])
    assert json.loads(result.stdout)["findings"] == []
    result = runner.invoke(app, ["analyze", seeded.dsn, "--only", "no_such_check"])
    assert result.exit_code == 2 and "unknown check id" in result.stderr


def test_bad_options_are_usage_errors(seeded: Database) -> None:
    result = runner.invoke(app, ["analyze", seeded.dsn, "--fail-on", "urgent"])
    assert result.exit_code == 2 and "unknown severity" in result.stderr
    result = runner.invoke(app, ["analyze", seeded.dsn, "--set", "missing_primary_key.nope=1"])
    assert result.exit_code == 2 and "has no option nope" in result.stderr


def test_refused_connection_is_clear() -> None:
    dsn = f"postgresql://bob:topsecret@127.0.0.1:{free_port()}/app?connect_timeout=3"
    result = runner.invoke(app, ["analyze", dsn])
    assert result.exit_code == 2
    assert "cannot connect to bob@127.0.0.1" in result.stderr
    assert "topsecret" not in result.output and "Traceback" not in result.output


def test_bad_dsn_is_clear() -> None:
    result = runner.invoke(app, ["analyze", "host=x password=topsecret bogus=1"])
    assert result.exit_code == 2
    assert "invalid DSN" in result.stderr
    assert "topsecret" not in result.output and "Traceback" not in result.output


def test_unknown_database_is_clear(seeded: Database) -> None:
    result = runner.invoke(app, ["analyze", seeded.dsn.replace(seeded.name, "does_not_exist")])
    assert result.exit_code == 2 and 'database "does_not_exist" does not exist' in result.stderr


def test_budget_and_workload_flags_are_checked() -> None:
    from dbadvisor.commands import parse_bytes

    assert parse_bytes("500MB") == 500_000_000 and parse_bytes("1.5GB") == 1_500_000_000
    assert parse_bytes("2GiB") == 2 * 1024**3 and parse_bytes("1234") == 1234
    result = runner.invoke(app, ["analyze", "host=/nonexistent", "--budget", "12XB"])
    assert result.exit_code == 2 and "cannot read '12XB' as a size" in result.stderr
    result = runner.invoke(app, ["analyze", "host=/nonexistent", "--workload", "/no/such/dir"])
    assert result.exit_code == 2 and "--workload path not found" in result.stderr


def test_every_advisor_option_is_listed_and_settable() -> None:
    """The advisor's options are missing_index's: listed by ``checks`` and type-checked by ``--set``."""
    listed = runner.invoke(app, ["checks"], env={"COLUMNS": "240"})
    assert listed.exit_code == 0 and "min_share=0.0" in listed.output and "trades=true" in listed.output
    from dbadvisor.checks.registry import validate_options
    from dbadvisor.errors import UsageError

    validate_options({"missing_index": {"min_share": 0, "max_width": 2, "trades": False, "max_indexes": 5}})
    for bad in ({"max_width": "wide"}, {"trades": 1}, {"min_share": True}):
        with pytest.raises(UsageError, match="expected a value like"):
            validate_options({"missing_index": bad})
