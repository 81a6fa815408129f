"""Drizzle schemas through drizzle-kit export (npm), compared with their migrations: only the planted
drift (a column renamed, a NOT NULL dropped) is found, not the spellings (serial keys, varchar lengths,
defaultNow() and now(), index names, "no action" referential actions)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbadvisor import commands
from dbadvisor.cli import app
from dbadvisor.sources.drizzle import PACKAGE
from dbadvisor.sources.node import node_modules

FIXTURES = Path(__file__).parent / "fixtures" / "drizzle"
pytestmark = pytest.mark.skipif(shutil.which("node") is None or node_modules(PACKAGE) is None,
                                reason="needs Node.js and drizzle-kit (make deps installs them)")


def test_drizzle_schema_against_its_migrations_finds_only_the_planted_drift() -> None:
    report = commands.drift(f"migrations:{FIXTURES / 'migrations'}", f"drizzle:{FIXTURES / 'schema.ts'}")
    found = {(f.evidence["kind"], f.table, f.columns) for f in report.findings}
    assert found == {
        ("missing_column", "public.users", ("name",)),
        ("extra_column", "public.users", ("password",)),
        ("nullability_mismatch", "public.posts", ("title",)),
    }, found


def test_a_broken_drizzle_schema_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "schema.ts"
    bad.write_text("import { nope } from 'drizzle-orm/pg-core';\nexport const t = nope(;\n")
    result = CliRunner().invoke(app, ["drift", f"drizzle:{bad}", f"migrations:{FIXTURES / 'migrations'}"])
    assert result.exit_code == 2 and "drizzle" in result.stderr and "Traceback" not in result.output
