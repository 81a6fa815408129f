"""Prisma schemas, read by Prisma's own parser (@prisma/prisma-schema-wasm under Node.js), turned into
the DDL Prisma's PostgreSQL connector creates, and compared with the database's migrations: only the
planted drift is found, none of the spelling traps (cuid(), @updatedAt, autoincrement and SERIAL,
DateTime and TIMESTAMP(3), enum and BigInt defaults, implicit unique index names, @@map, the implicit
many-to-many table, default referential actions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbadvisor import commands
from dbadvisor.cli import app
from dbadvisor.sources.node import node_modules
from dbadvisor.sources.prisma import PACKAGE, ddl

FIXTURES = Path(__file__).parent / "fixtures" / "prisma"
runner = CliRunner()
needs_node = pytest.mark.skipif(shutil.which("node") is None or node_modules(PACKAGE) is None,
                                reason="needs Node.js and @prisma/prisma-schema-wasm (make deps installs them)")


def test_ddl_from_a_recorded_datamodel() -> None:
    statements = ddl(json.loads((FIXTURES / "schema.dmmf.json").read_text()))
    text = "\n".join(statements)
    assert 'CREATE TYPE "Role" AS ENUM (\'USER\', \'ADMIN\')' in text
    assert '"id" text NOT NULL' in text and '"createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP' in text
    assert '"updatedAt" timestamp(3) NOT NULL,' in text  # @updatedAt: set by the client, no default
    assert 'CREATE TABLE "public"."posts" ("id" serial NOT NULL' in text and '"views" bigint NOT NULL DEFAULT 0' in text
    assert 'CREATE TABLE "public"."_TagToUser" ("A" integer NOT NULL REFERENCES "public"."Tag"' in text
    assert text.endswith('REFERENCES "public"."User" ("id") ON DELETE RESTRICT ON UPDATE CASCADE')


@needs_node
def test_prisma_schema_against_its_migrations_finds_only_the_planted_drift() -> None:
    report = commands.drift(f"migrations:{FIXTURES / 'migrations'}", f"prisma:{FIXTURES / 'schema.prisma'}")
    found = {(f.evidence["kind"], f.table, f.columns) for f in report.findings}
    assert found == {
        ("missing_column", "public.User", ("passwordHash",)),
        ("extra_column", "public.User", ("bio",)),
        ("type_mismatch", "public.posts", ("title",)),
        ("missing_index", "public.User", ("name",)),
    }, found


@needs_node
def test_an_invalid_prisma_schema_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "schema.prisma"
    bad.write_text('datasource db {\n  provider = "postgresql"\n}\n\nmodel A {\n  id Int @id\n  b Nope\n}\n')
    result = runner.invoke(app, ["drift", f"prisma:{bad}", f"migrations:{FIXTURES / 'migrations'}"])
    assert result.exit_code == 2 and "the schema is not valid" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
