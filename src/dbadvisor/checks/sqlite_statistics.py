"""sqlite_statistics: a SQLite file whose planner has no statistics (ANALYZE never ran)."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import SQLITE, Check
from dbadvisor.model.ddl import AnalyzeTables
from dbadvisor.model.findings import Finding, Severity


class SqliteStatistics(Check):
    """No planner statistics: without ``sqlite_stat1`` SQLite guesses every index's selectivity (ten rows a
    key), so it can pick a poor index for a join or a filter on a skewed column.

    Bad::

        SELECT count(*) FROM sqlite_stat1;  -- no such table

    Good::

        ANALYZE;  -- and PRAGMA optimize on closing long-lived connections
    """

    id = "sqlite_statistics"
    name = "SQLite statistics missing"
    groups = ("performance", "statistics")
    dialects = frozenset({SQLITE})
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.MEDIUM)
    options = {"min_rows": 1000}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        if snap.setting("analyzed") != "off":
            return
        big = sorted((t for t in snap.tables if t.rows >= self.opts["min_rows"] and snap.indexes_of(t.key)),
                     key=lambda t: -t.rows)
        if not big:
            return
        yield self.finding(
            snap.database.name,
            title=f"ANALYZE has never run on {snap.database.name}",
            detail=(f"{len(big)} indexed table(s) of {self.opts['min_rows']:,} rows or more "
                    f"({', '.join(t.qualname for t in big[:5])}{'…' if len(big) > 5 else ''}) have no sqlite_stat1 "
                    "rows: the planner assumes every index narrows a lookup to about ten rows and may choose "
                    "badly. Run ANALYZE once, and PRAGMA optimize when long-lived connections close."),
            severity=Severity.MEDIUM if any(t.rows >= 100_000 for t in big) else Severity.LOW,
            evidence={"tables": [{"table": t.qualname, "rows": t.rows} for t in big]},
            fix=AnalyzeTables("main"),
        )
