"""sqlite_journal_mode: a SQLite file in rollback-journal mode, where a writer blocks every reader."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import SQLITE, Check
from dbadvisor.model.ddl import SetPragma
from dbadvisor.model.findings import Finding, Severity


class SqliteJournalMode(Check):
    """Rollback journal: while one connection writes, readers wait (and fail with "database is locked" once
    their busy timeout runs out). WAL lets readers go on during a write and commits faster; the mode is kept
    in the file. Each connection should also set ``busy_timeout`` (writers queue instead of failing) and, in
    WAL, ``synchronous = NORMAL``.

    Bad::

        PRAGMA journal_mode;  -- delete

    Good::

        PRAGMA journal_mode = WAL;  -- once; per connection: busy_timeout = 5000, synchronous = NORMAL
    """

    id = "sqlite_journal_mode"
    name = "SQLite journal mode"
    groups = ("concurrency", "configuration")
    dialects = frozenset({SQLITE})
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.MEDIUM)
    options = {"min_rows": 10_000}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        mode = (snap.setting("journal_mode") or "").lower()
        if mode == "wal" or mode not in ("delete", "truncate", "persist"):
            return
        rows = sum(t.rows for t in snap.tables)
        yield self.finding(
            snap.database.name,
            title=f"{snap.database.name} uses the {mode} journal: a write blocks every reader",
            detail=(f"journal_mode is {mode}: during each write transaction no other connection can read. Switch the "
                    "file to WAL (readers and one writer at a time go on together), and on every connection set "
                    "busy_timeout (e.g. 5000 ms, so a second writer waits instead of failing with 'database is "
                    "locked') and synchronous = NORMAL (durable at checkpoints in WAL, much faster commits). WAL "
                    "needs the file on a local disk, not a network share."),
            severity=Severity.MEDIUM if rows >= self.opts["min_rows"] else Severity.LOW,
            evidence={"journal_mode": mode, "rows": rows,
                      "per_connection": {"busy_timeout": 5000, "synchronous": "NORMAL", "foreign_keys": "ON"}},
            fix=SetPragma("journal_mode", "wal", mode),
        )
