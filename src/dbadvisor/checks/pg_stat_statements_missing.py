"""pg_stat_statements_missing: the workload statistics every query-level analysis needs are absent."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.model.capabilities import PG_STAT_STATEMENTS
from dbadvisor.model.ddl import AlterSystemSet, Batch, CreateExtension, Operation
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
        steps: list[Operation] = []
        if preload is not None and PG_STAT_STATEMENTS not in preload:
            steps.append(AlterSystemSet("shared_preload_libraries", ",".join([*preload, PG_STAT_STATEMENTS]),
                                        ",".join(preload) or None, reload=False, restart=True))
        if PG_STAT_STATEMENTS not in caps.installed_extensions:
            steps.append(CreateExtension(PG_STAT_STATEMENTS))
        restart = " After ALTER SYSTEM, restart the server for the preload to take effect." if any(
            isinstance(s, AlterSystemSet) for s in steps) else ""
        yield self.finding(
            "database",
            title="pg_stat_statements is not available",
            detail=f"{reason}. Query-level analysis (the workload index advisor among it) needs it.{restart}",
            evidence={
                "preload_libraries": list(preload) if preload is not None else None,
                "installed": PG_STAT_STATEMENTS in caps.installed_extensions,
                "available": PG_STAT_STATEMENTS in caps.available_extensions,
            },
            fix=Batch(tuple(steps)) if len(steps) > 1 else steps[0] if steps else None,
        )
