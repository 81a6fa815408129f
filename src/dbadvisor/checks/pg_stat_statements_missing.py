"""pg_stat_statements_missing: the workload statistics every query-level analysis needs are absent."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.dialects.postgres import DIALECT
from dbadvisor.model.capabilities import PG_STAT_STATEMENTS
from dbadvisor.model.findings import Finding, Severity


class PgStatStatementsMissing(Check):
    """pg_stat_statements is not preloaded or not installed: without it nobody can tell which queries
    cost the most, and the workload advisor has nothing to work from.

    Bad::

        shared_preload_libraries = ''

    Good::

        shared_preload_libraries = 'pg_stat_statements'   -- then restart, and:
        CREATE EXTENSION pg_stat_statements;
    """

    id = "pg_stat_statements_missing"
    name = "pg_stat_statements missing"
    groups = ("setup",)
    severity = Severity.MEDIUM
    severity_range = (Severity.MEDIUM, Severity.MEDIUM)

    def run(self) -> Iterator[Finding]:
        caps = self.ctx.capabilities
        reason = caps.missing(PG_STAT_STATEMENTS)
        if reason is None:
            return
        preload = caps.preload_libraries
        steps: list[str] = []
        rollback: list[str] = []
        if preload is not None and PG_STAT_STATEMENTS not in preload:
            new = ",".join([*preload, PG_STAT_STATEMENTS])
            steps.append(f"ALTER SYSTEM SET shared_preload_libraries = {DIALECT.literal(new)};  "
                         "-- then restart the server")
            rollback.append(f"ALTER SYSTEM SET shared_preload_libraries = {DIALECT.literal(','.join(preload))};")
        if PG_STAT_STATEMENTS not in caps.installed_extensions:
            steps.append("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;")
            rollback.insert(0, "DROP EXTENSION IF EXISTS pg_stat_statements;")
        yield self.finding(
            "database",
            title="pg_stat_statements is not available",
            detail=f"{reason}. Query-level analysis (the workload index advisor among it) needs it.",
            evidence={
                "preload_libraries": list(preload) if preload is not None else None,
                "installed": PG_STAT_STATEMENTS in caps.installed_extensions,
                "available": PG_STAT_STATEMENTS in caps.available_extensions,
            },
            sql="\n".join(steps) or None,
            rollback_sql="\n".join(rollback) or None,
        )
