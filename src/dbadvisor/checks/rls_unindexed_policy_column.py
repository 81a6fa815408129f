"""rls_unindexed_policy_column: columns an RLS policy filters on, with no index to filter with."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.checks.policy_sql import compared_columns, parse
from dbadvisor.model.ddl import CreateIndex, IndexColumn, index_name
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.model.indexing import serves_columns


class RlsUnindexedPolicyColumn(Check):
    """Column compared in an RLS policy has no index: the policy's filter is added to every query on the
    table, so without an index each of them scans it.

    Bad::

        CREATE POLICY own ON chats USING (user_id = (SELECT app_current_user_id()));  -- no index on user_id

    Good::

        CREATE INDEX CONCURRENTLY chats_user_id_idx ON chats (user_id);
    """

    id = "rls_unindexed_policy_column"
    name = "RLS policy column without index"
    groups = ("rls", "indexes")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    options = {"min_rows": 1_000, "large_table_rows": 100_000}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        seen: set[tuple[str, str, str]] = set()
        for policy in snap.policies:
            table = snap.table(policy.table_key)
            # Offline (a replayed migrations folder) every table is empty: the size gate would hide them all.
            small = self.ctx.capabilities.live_statistics and table is not None and table.rows < self.opts["min_rows"]
            if table is None or small:
                continue
            known = {c.name for c in snap.columns_of(table.key)}
            for text in (policy.using, policy.with_check):
                tree = parse(text)
                for column in compared_columns(tree) if tree is not None else []:
                    key = (policy.schema, policy.table, column)
                    if column not in known or key in seen:
                        continue
                    seen.add(key)
                    if any(serves_columns(i, [column]) for i in snap.indexes_of(table.key)):
                        continue
                    yield self.finding(
                        f"{table.qualname}.{column}",
                        title=f"RLS policy {policy.name} filters {table.qualname}.{column}, which has no index",
                        detail=(f"Policy {policy.name} compares {column} on every query against {table.qualname} "
                                f"({table.rows:,} rows); no index leads with {column}."),
                        severity=Severity.HIGH if table.rows >= self.opts["large_table_rows"] else Severity.MEDIUM,
                        table=table.qualname,
                        columns=(column,),
                        evidence={"policy": policy.name, "expression": text, "rows": table.rows},
                        fix=CreateIndex(table.schema, table.name, index_name(table.name, (column,)),
                                        (IndexColumn(column),)),
                    )
