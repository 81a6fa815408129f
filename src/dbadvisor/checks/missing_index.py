"""missing_index: the indexes the workload index advisor recommends, with planner-costed evidence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dbadvisor.advisor.advise import ADVISOR_OPTIONS, Advice, QueryCost, Recommendation
from dbadvisor.checks.base import POSTGRES, SQLITE, Check, CheckSkipped
from dbadvisor.model.capabilities import HYPOPG, LIVE_CONNECTION
from dbadvisor.model.findings import Estimate, Finding, Severity

MAX_QUERIES = 10
SLOWER = 0.01  # a bystander whose planned cost rises by more than this share is named


def _statement(q: QueryCost) -> dict[str, Any]:
    """One statement's line in the evidence (``queries`` and ``bystanders``)."""
    return {
        "query": q.statement.query.strip(),
        "bound_query": q.bound,
        "source": q.statement.source,
        "calls": q.statement.calls,
        "total_ms": round(q.statement.total_ms, 2),
        "cost_before": round(q.before, 2),
        "cost_after": round(q.after, 2),
        "parameters": q.binding,
    }


class MissingIndex(Check):
    """Index the workload needs: chosen for the whole workload under a storage budget, each costed by
    the planner with and without it (HypoPG). GIN indexes, which HypoPG cannot simulate, are reported
    with a heuristic label.

    Bad::

        SELECT * FROM messages WHERE chat_id = $1 ORDER BY created_at DESC LIMIT 50;  -- Seq Scan + Sort

    Good::

        CREATE INDEX CONCURRENTLY messages_chat_id_created_at_desc_idx ON messages (chat_id, created_at DESC);
    """

    id = "missing_index"
    name = "Missing index (workload advisor)"
    groups = ("indexes", "performance", "workload")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    needs = frozenset({HYPOPG, LIVE_CONNECTION})
    dialects = frozenset({POSTGRES, SQLITE})
    needs_on = {SQLITE: frozenset()}  # a SQLite file's candidates are built and timed on a private copy
    # The advisor's own options are this check's too (``--set missing_index.min_share=0``); the byte budget
    # has its flag, ``--budget``, with units.
    options = {"high_share": 0.10, "medium_share": 0.01, **ADVISOR_OPTIONS}

    def run(self) -> Iterator[Finding]:
        advice = self.ctx.advice
        if advice is None:
            raise CheckSkipped(self.ctx.advice_unavailable or "no workload to advise on")
        for rec in advice.recommendations:
            yield self._finding(rec, advice)

    def _finding(self, rec: Recommendation, advice: Advice) -> Finding:
        c = rec.candidate
        table = f"{c.schema}.{c.table}"
        share = rec.benefit / advice.workload_before if advice.workload_before else 0.0
        if rec.heuristic:
            severity = Severity.LOW
        elif share >= self.opts["high_share"]:
            severity = Severity.HIGH
        elif share >= self.opts["medium_share"]:
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        queries = [_statement(q) for q in sorted(rec.queries, key=lambda q: -q.weight * (q.before - q.after))
                   [:MAX_QUERIES]]
        bystanders = [_statement(q) for q in rec.bystanders]
        slower = [q for q in rec.bystanders if q.after > q.before * (1 + SLOWER)]
        if rec.heuristic:
            detail = (f"{len(rec.queries)} statement(s) filter {table}.{c.columns[0].label} with an operator only a "
                      f"GIN index serves ({c.columns[0].opclass}). HypoPG cannot simulate GIN, so no planner "
                      "estimate is given: verify with a real build on a scratch database.")
            estimate = Estimate("heuristic", {"confidence": "low", "statements": len(rec.queries)})
        elif advice.figures.get("unit") == "ms":  # measured, not planned (SQLite)
            before = sum(q.weight * q.before for q in rec.queries)
            after = sum(q.weight * q.after for q in rec.queries)
            detail = (f"Chosen for the whole workload. Built and timed on a private copy of the file: the "
                      f"{len(rec.queries)} statement(s) it helps go from {before:,.2f} ms to {after:,.2f} ms, weighted "
                      f"by calls (median of runs, EXPLAIN QUERY PLAN uses it); {share:.1%} of the workload's measured "
                      f"time. Measured size {rec.size_bytes:,} bytes.")
            if rec.makes_redundant:
                detail += f" Makes {', '.join(rec.makes_redundant)} redundant."
            estimate = Estimate("measured", {
                "before_ms": round(before, 3), "after_ms": round(after, 3),
                "workload_time_reduction_pct": round(100 * share, 2), "size_bytes": rec.size_bytes,
                "where": "private copy", "weight": advice.weight})
        else:
            before = sum(q.weight * q.before for q in rec.queries)
            after = sum(q.weight * q.after for q in rec.queries)
            detail = (f"Chosen for the whole workload (budget {advice.budget_bytes:,} bytes). Helps "
                      f"{len(rec.queries)} statement(s): their weighted planner cost goes from {before:,.0f} to "
                      f"{after:,.0f} with the recommended set; {share:.1%} of the workload's weighted cost. "
                      f"Estimated size {rec.size_bytes:,} bytes.")
            if rec.makes_redundant:
                detail += f" Makes {', '.join(rec.makes_redundant)} redundant."
            if slower:
                detail += (f" The planner expects {len(slower)} other statement(s) on {table} to get dearer with "
                           "the recommended set (weighed in the choice; see evidence.bystanders).")
            estimate = Estimate("planner", {
                "cost_before": round(before, 2), "cost_after": round(after, 2),
                "workload_cost_reduction_pct": round(100 * share, 2), "size_bytes": rec.size_bytes,
                "weight": advice.weight,
            })
        return self.finding(
            f"{c.schema}.{c.name}",
            title=f"Create index {c.name} on {table} ({', '.join(c.labels)})",
            detail=detail,
            severity=severity,
            table=table,
            columns=tuple(col.label for col in c.columns),
            index=f"{c.schema}.{c.name}",
            evidence={
                "definition": self.ctx.dialect.sql(c.operation()),
                "method": c.method,
                "include": list(c.include),
                "predicate": c.where,
                "size_bytes": rec.size_bytes if not rec.heuristic else None,
                "queries": queries,
                "bystanders": bystanders,
                "makes_redundant": rec.makes_redundant,
                "workload_cost_before": round(advice.workload_before, 2),
                "workload_cost_after": round(advice.workload_after, 2),
                "what_if_calls": advice.what_if_calls,
            },
            fix=c.operation(),
            estimate=estimate,
        )
