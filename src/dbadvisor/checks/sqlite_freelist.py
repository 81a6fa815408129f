"""sqlite_freelist: a SQLite file with many free pages (deleted data never given back)."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import SQLITE, Check
from dbadvisor.model.ddl import SetPragma, VacuumTable
from dbadvisor.model.findings import Finding, Severity

AUTO_VACUUM = {"0": "none", "1": "full", "2": "incremental"}


class SqliteFreelist(Check):
    """Free pages: with ``auto_vacuum = none`` (the default) pages freed by DELETE stay in the file; the
    file does not shrink and its live pages are scattered, so scans read more.

    Bad::

        PRAGMA freelist_count;  -- 61,000 of 250,000 pages free

    Good::

        VACUUM;  -- once; PRAGMA auto_vacuum = incremental + VACUUM to keep it small
    """

    id = "sqlite_freelist"
    name = "SQLite free pages"
    groups = ("storage",)
    dialects = frozenset({SQLITE})
    severity = Severity.LOW
    severity_range = (Severity.LOW, Severity.MEDIUM)
    options = {"min_share": 0.1, "min_bytes": 1 << 20}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        try:
            free, pages, page = (int(snap.setting(n) or 0) for n in ("freelist_count", "page_count", "page_size"))
        except ValueError:
            return
        share = free / pages if pages else 0.0
        if share < self.opts["min_share"] or free * page < self.opts["min_bytes"]:
            return
        mode = AUTO_VACUUM.get(snap.setting("auto_vacuum") or "0", "none")
        fix = VacuumTable("main", "*") if mode != "none" else SetPragma("auto_vacuum", "incremental", mode)
        yield self.finding(
            snap.database.name,
            title=f"{share:.0%} of {snap.database.name} is free pages ({free * page:,} bytes)",
            detail=(f"{free:,} of {pages:,} pages ({free * page:,} bytes) are on the freelist; auto_vacuum is {mode}. "
                    "VACUUM rebuilds the file without them (it needs as much free disk as the file and locks it "
                    "for writes while it runs)" + (", and auto_vacuum = incremental lets PRAGMA incremental_vacuum "
                                                   "give pages back later." if mode == "none" else ".")),
            severity=Severity.MEDIUM if share >= 0.3 else Severity.LOW,
            evidence={"freelist_pages": free, "page_count": pages, "page_size": page, "free_bytes": free * page,
                      "auto_vacuum": mode},
            fix=fix,
        )
