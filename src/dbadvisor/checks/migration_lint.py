"""migration_lint: statements in a migrations folder that take heavy locks or rewrite tables, from
squawk's rules (the field's migration linter, run on the very files replayed), weighed by the table's
live size when a live database is given beside the folder.

"""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.model.catalog import LintViolation
from dbadvisor.model.findings import Finding, Severity

# Rules whose statement locks or rewrites a table: they matter in proportion to its size.
LOCKING = frozenset({
    "require-concurrent-index-creation", "require-concurrent-index-deletion", "changing-column-type",
    "adding-required-field", "adding-not-nullable-field", "constraint-missing-not-valid",
    "adding-foreign-key-constraint", "adding-field-with-default", "disallowed-unique-constraint",
    "adding-serial-primary-key-field", "ban-alter-domain-with-add-constraint", "require-lock-timeout",
    "renaming-column", "renaming-table", "ban-drop-column", "ban-drop-table", "ban-truncate-cascade",
})
DANGEROUS = frozenset({"ban-drop-database", "ban-drop-table", "ban-truncate-cascade", "ban-drop-column"})


class MigrationLint(Check):
    """Migration statements that block the application (non-concurrent index builds, table rewrites,
    constraints validated under a lock, no lock_timeout), as squawk finds them in the replayed folder.

    Bad::

        CREATE INDEX posts_created_at_idx ON posts (created_at);

    Good::

        CREATE INDEX CONCURRENTLY IF NOT EXISTS posts_created_at_idx ON posts (created_at);
    """

    id = "migration_lint"
    name = "Migration lint"
    groups = ("migrations", "locks")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    options = {"large_table_bytes": 100 << 20}

    def run(self) -> Iterator[Finding]:
        for v in self.ctx.snapshot.lint:
            yield self._finding(v)

    def _finding(self, v: LintViolation) -> Finding:
        size = self.ctx.snapshot.live_sizes.get(v.table or "")
        if v.rule in DANGEROUS or (v.rule in LOCKING and size is not None and size >= self.opts["large_table_bytes"]):
            severity = Severity.HIGH
        elif v.rule in LOCKING:
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        where = f" on {v.table}" + (f" ({size:,} bytes live)" if size is not None else "") if v.table else ""
        return self.finding(
            f"{v.migration}:{v.line}:{v.rule}",
            title=f"{v.migration} line {v.line}: {v.rule}{where}",
            detail=f"{v.migration}, line {v.line}{where}: {v.message}" + (f" {v.help}" if v.help else ""),
            severity=severity,
            table=v.table,
            evidence={"migration": v.migration, "line": v.line, "rule": v.rule, "level": v.level,
                      "live_bytes": size, "origin": v.migration},
        )
