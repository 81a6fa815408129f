"""A Drizzle schema as a source: ``drizzle-kit export`` (npm) prints the DDL the schema means, and the
shadow database replays it. drizzle-kit is Drizzle's own tool, so the schema is read as Drizzle reads it
(TypeScript included); found as ``sources.node`` says, else a clear usage error."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dbadvisor.errors import UsageError
from dbadvisor.sources import Opened, Progress
from dbadvisor.sources.node import require, run
from dbadvisor.sources.shadow import built_schema, run_ddl

PACKAGE = "drizzle-kit"


def export(schema: Path) -> str:
    """The SQL ``drizzle-kit export`` prints for ``schema`` (PostgreSQL)."""
    if not schema.is_file():
        raise UsageError(f"drizzle:{schema}: no such file")
    _, modules = require(PACKAGE, "drizzle: reading a Drizzle schema")
    done = run([str(modules / ".bin" / "drizzle-kit"), "export", "--dialect=postgresql",
                f"--schema={schema.resolve()}"], modules, cwd=schema.resolve().parent)
    if done.returncode != 0 or not done.stdout.strip():
        first = next((line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()), "no SQL")
        raise UsageError(f"drizzle:{schema}: drizzle-kit export failed: {first}")
    return done.stdout


@dataclass(frozen=True)
class DrizzleSource:
    path: Path
    shadow_dsn: str | None = None

    @property
    def label(self) -> str:
        return f"Drizzle schema {self.path.name}"

    @contextlib.contextmanager
    def open(self, progress: Progress | None = None) -> Iterator[Opened]:
        script = export(self.path)
        yield Opened(built_schema(self.label, lambda dsn: run_ddl(dsn, [script], self.label), self.shadow_dsn,
                                  progress))
