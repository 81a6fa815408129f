"""dbadvisor drift: a database against its migrations and its SQLAlchemy models, with planted
mismatches and the equivalent-spelling traps (varchar/String, timestamptz/DateTime(timezone=True),
serial/identity/autoincrement, a UNIQUE constraint's implicit index, index names, client-side defaults,
quoted CamelCase, bookkeeping tables) that must not read as drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbadvisor import commands
from dbadvisor.cli import app
from tests.conftest import Database

runner = CliRunner()
SCHEMA = """
CREATE TABLE "Account" (id serial PRIMARY KEY, email varchar(255) NOT NULL UNIQUE, "passwordHash" text NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now(), status text NOT NULL DEFAULT 'active',
                        score integer);
CREATE INDEX account_created_idx ON "Account" (created_at);
CREATE TABLE session (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                      account_id int NOT NULL REFERENCES "Account" (id), token text);
CREATE TABLE audit (id int PRIMARY KEY);
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
"""
MODELS = '''
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, mapped_column


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "Account"
    id = mapped_column(Integer, primary_key=True)
    email = mapped_column(String(255), nullable=False, unique=True)
    password = mapped_column(Text, nullable=False)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, default=datetime.now)
    status = mapped_column(Text, nullable=False, server_default="active")
    score = mapped_column(BigInteger)
    __table_args__ = (Index("ix_account_created", "created_at"),)


class Session(Base):
    __tablename__ = "session"
    id = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    account_id = mapped_column(ForeignKey("Account.id"), nullable=True)
    token = mapped_column(Text)


class Extra(Base):
    __tablename__ = "extra"
    id = mapped_column(Integer, primary_key=True)
'''


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("drift")
    (root / "migrations").mkdir()
    (root / "migrations" / "0001_init.sql").write_text(SCHEMA)
    (root / "models.py").write_text(MODELS)
    return root


def test_a_database_and_its_own_migrations_do_not_drift(db: Database, folder: Path) -> None:
    db.execute(SCHEMA)
    report = commands.drift(db.dsn, f"migrations:{folder / 'migrations'}")
    assert report.findings == ()


def test_models_against_migrations_find_only_what_was_planted(folder: Path) -> None:
    report = commands.drift(f"migrations:{folder / 'migrations'}", f"sqlalchemy:{folder / 'models.py'}:Base")
    found = {(f.evidence["kind"], f.table, f.columns[:1]) for f in report.findings}
    assert found == {
        ("missing_column", "public.Account", ("passwordHash",)),
        ("extra_column", "public.Account", ("password",)),
        ("type_mismatch", "public.Account", ("score",)),
        ("nullability_mismatch", "public.session", ("account_id",)),
        ("missing_table", "public.audit", ("id",)),
        ("extra_table", "public.extra", ("id",)),
    }, found
    score = next(f for f in report.findings if f.evidence["kind"] == "type_mismatch")
    assert score.evidence["a"] == "integer" and score.evidence["b"] == "bigint"
    assert all(f.check == "schema_drift" and f.id.startswith("schema_drift:") for f in report.findings)


def test_drift_cli_json_and_exit_codes(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "drift.json"
    result = runner.invoke(app, ["drift", f"migrations:{folder / 'migrations'}",
                                 f"sqlalchemy:{folder / 'models.py'}", "-f", "json", "-o", str(out),
                                 "--fail-on", "high"])
    assert result.exit_code == 1, result.output  # a missing table is high
    doc = json.loads(out.read_text())
    assert doc["summary"]["checks_run"] == ["schema_drift"] and len(doc["findings"]) == 6
    bad = runner.invoke(app, ["drift", f"sqlalchemy:{tmp_path / 'nope.py'}", f"migrations:{folder / 'migrations'}"])
    assert bad.exit_code == 2 and "no such file" in bad.stderr
    drizzle = runner.invoke(app, ["drift", "drizzle:schema.ts", f"migrations:{folder / 'migrations'}"])
    assert drizzle.exit_code == 2 and "no such file" in drizzle.stderr
