"""rls_per_row_function: RLS policies that call a function once per row instead of once per query."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import Check
from dbadvisor.checks.policy_sql import parse, per_row_calls, render, wrap_calls
from dbadvisor.model.ddl import AlterPolicy
from dbadvisor.model.findings import Finding, Severity


class RlsPerRowFunction(Check):
    """RLS policy calls a function that does not depend on the row, without a sub-select: PostgreSQL
    calls it for every row it filters. Wrapped as ``(SELECT f())`` it becomes an InitPlan, run once.

    Bad::

        CREATE POLICY own ON chats USING (user_id = app_current_user_id());

    Good::

        CREATE POLICY own ON chats USING (user_id = (SELECT app_current_user_id()));
    """

    id = "rls_per_row_function"
    name = "RLS policy calls a function per row"
    groups = ("rls", "performance")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    options = {"large_table_rows": 100_000}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        for policy in snap.policies:
            new: dict[str, str] = {}
            calls: list[str] = []
            for clause, text in (("using", policy.using), ("with_check", policy.with_check)):
                tree = parse(text)
                if tree is None:
                    continue
                wrapped = wrap_calls(tree)
                if wrapped is None:
                    continue
                calls += [render(c) for c in per_row_calls(tree)]
                new[clause] = wrapped
            if not new:
                continue
            fix = AlterPolicy(policy.schema, policy.table, policy.name, new.get("using"), new.get("with_check"),
                              policy.using if "using" in new else None,
                              policy.with_check if "with_check" in new else None)
            table = snap.table(policy.table_key)
            rows = table.rows if table else 0
            yield self.finding(
                f"{policy.schema}.{policy.table}.{policy.name}",
                title=f"RLS policy {policy.name} on {policy.schema}.{policy.table} calls {calls[0]} per row",
                detail=(f"Policy {policy.name} calls {', '.join(calls)} for each of up to {rows:,} rows it filters; "
                        "wrapped in a sub-select the planner evaluates it once per query (an InitPlan)."),
                severity=Severity.HIGH if rows >= self.opts["large_table_rows"] else Severity.MEDIUM if rows else
                Severity.LOW,
                table=f"{policy.schema}.{policy.table}",
                evidence={"policy": policy.name, "command": policy.command, "using": policy.using,
                          "with_check": policy.with_check, "per_row_calls": calls, "rows": rows},
                fix=fix,
            )
