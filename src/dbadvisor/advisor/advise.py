"""The workload index advisor: choose the index set that minimises the weighted cost of the whole
workload under a storage budget, costed by the planner through HypoPG.

The phases, each its own module:

1. ``inputs``: each statement as the cases it is planned in (its values, or several when they decide
   the plan), with its baseline cost and weight;
2. ``pool``: the candidates worth costing, from what each statement asks of each table;
3. ``costing``: the cost model the search asks (HypoPG in ``whatif``, or a recorded one);
4. ``search``: a lazy greedy by net benefit per byte that widens chosen indexes, with restarts;
5. ``trades``: small indexes traded for one that no longer fits;
6. ``results``: the recommendations with the statements they help and those they must not harm.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from dbadvisor.advisor.candidates import Candidate, lead_taken
from dbadvisor.advisor.costing import CostModel
from dbadvisor.advisor.inputs import JsonKeys, planned, weigh
from dbadvisor.advisor.options import ADVISOR_OPTIONS, AdvisorOptions
from dbadvisor.advisor.pool import candidate_pool, costable
from dbadvisor.advisor.results import Advice, QueryCost, Recommendation, final_costs, made_redundant
from dbadvisor.advisor.search import Search, written_rows
from dbadvisor.advisor.whatif import WhatIf
from dbadvisor.dialects.postgres.sampling import json_keys
from dbadvisor.model.capabilities import Capabilities
from dbadvisor.model.catalog import Snapshot, TableKey
from dbadvisor.model.workload import Workload

__all__ = ["ADVISOR_OPTIONS", "Advice", "AdvisorOptions", "QueryCost", "Recommendation", "advise", "advise_with"]

MAX_BYSTANDERS = 10  # other statements on a recommendation's table kept for verify to measure
Progress = Callable[[str, int, int], None]


def advise(conn: psycopg.Connection[Any], snapshot: Snapshot, capabilities: Capabilities, workload: Workload,
           options: AdvisorOptions | None = None, progress: Progress | None = None) -> Advice:
    """The advice for ``workload`` on the live database behind ``conn`` (HypoPG what-if costing, JSON
    keys sampled from the columns when a statement's key was normalized away)."""
    sampled: dict[tuple[TableKey, str], list[tuple[str, float, float, str | None]]] = {}

    def keys(table: TableKey, column: str) -> list[tuple[str, float, float, str | None]]:
        if (table, column) not in sampled:
            sampled[(table, column)] = json_keys(conn, snapshot, table, column)
        return sampled[(table, column)]

    return advise_with(WhatIf(conn, snapshot), snapshot, capabilities, workload, options, progress, keys)


def advise_with(model: CostModel, snapshot: Snapshot, capabilities: Capabilities, workload: Workload,
                options: AdvisorOptions | None = None, progress: Progress | None = None,
                keys: JsonKeys | None = None) -> Advice:
    """The advice, costed by ``model``: the phases of the module docstring in order."""
    opts = options or AdvisorOptions()
    started = time.monotonic()
    queries, skipped = planned(model, snapshot, workload, keys, progress)
    readers, use_time = weigh(queries, opts.weight)
    trigram = capabilities.has("pg_trgm") or "pg_trgm" in capabilities.available_extensions
    pool, pages = candidate_pool(readers, snapshot, opts, trigram)

    budget = opts.budget_bytes if opts.budget_bytes is not None else int(snapshot.database.size_bytes
                                                                         * opts.budget_fraction)
    by_sid = {q.sid: q for q in readers}
    simulable = costable(pool, model, skipped)
    # Write overhead is modelled in planner cost units per written row; in time mode it is converted at
    # the workload's own ms-per-cost-unit rate so that it weighs against time saved.
    rate = (sum(q.statement.mean_ms / q.base for q in readers) / len(readers)) if use_time and readers else 1.0
    floor = opts.min_share * sum(q.weight * q.base for q in readers)
    search = Search(model, snapshot, simulable, by_sid, written_rows(queries), budget, opts, rate, floor, progress,
                    pages=pages)
    chosen = search.best(opts.restarts)

    final = final_costs(model, readers, chosen)
    unused = [c for c in chosen if not any(c in f.used for f in final)]
    if unused:  # superseded by a later, better choice: drop them and cost once more
        chosen = [c for c in chosen if c not in unused]
        final = final_costs(model, readers, chosen)
    recs = []
    for c in chosen:
        helped = [f for f in final if c in f.used]
        others = sorted((f for f, q in zip(final, readers, strict=True) if c.table_key in q.usage.tables
                         and f not in helped), key=lambda f: -f.weight * f.before)
        recs.append(Recommendation(c, model.size(c), helped, made_redundant(c, snapshot.indexes_of(c.table_key)),
                                   bystanders=others[:MAX_BYSTANDERS]))
    for c, sids in pool.items():
        if not c.simulable:  # GIN: HypoPG cannot cost it; the statements that need its operator are named
            rec = Recommendation(c, 0, [QueryCost(by_sid[s].statement, by_sid[s].weight, by_sid[s].base,
                                                  by_sid[s].base, by_sid[s].binding) for s in sorted(sids)
                                        if c.columns[0].column in by_sid[s].usage.tables[c.table_key].containment
                                        + by_sid[s].usage.tables[c.table_key].contains_text],
                                 heuristic=True)
            if rec.queries:
                recs.append(rec)
    model.close()
    recs.sort(key=lambda r: (r.heuristic, -r.benefit))
    used = search.used(chosen)
    return Advice(
        recommendations=recs,
        queries=final,
        workload_before=sum(f.weight * f.before for f in final),
        workload_after=sum(f.weight * f.after for f in final),
        budget_bytes=budget,
        what_if_calls=model.calls,
        candidates=len(pool),
        skipped=skipped,
        weight="time" if use_time else "cost",
        figures={
            "statements": len(workload.statements),
            "texts": sum(st.texts for st in workload.statements),
            "planned_cases": len(queries),
            "candidates": len(pool),
            "what_if_calls": model.calls,
            "seconds": round(time.monotonic() - started, 2),
            "budget_bytes": budget,
            "budget_used_bytes": used,
            "did_not_fit": [{"index": f"{c.schema}.{c.name}", "size_bytes": model.size(c)}
                            for c in _did_not_fit(search, chosen, budget - used)[:5]],
            "weight": "time" if use_time else "cost",
        },
    )


def _did_not_fit(search: Search, chosen: list[Candidate], free: int) -> list[Candidate]:
    """Candidates that paid on their own but do not fit beside the chosen set: the budget bound the advice."""
    return sorted((c for c, gain in search.alone.items() if gain > 0 and c not in chosen
                   and not lead_taken(c, chosen) and search.whatif.size(c) > free), key=lambda c: -search.alone[c])
