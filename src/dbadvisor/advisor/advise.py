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
from dbadvisor.advisor.inputs import CHECK, JsonKeys, planned, weigh
from dbadvisor.advisor.options import ADVISOR_OPTIONS, AdvisorOptions
from dbadvisor.advisor.pool import candidate_pool, costable
from dbadvisor.advisor.results import Advice, QueryCost, Recommendation, final_costs, made_redundant
from dbadvisor.advisor.search import Search, written_rows
from dbadvisor.advisor.whatif import WhatIf
from dbadvisor.dialects.postgres.sampling import containment_share, json_keys
from dbadvisor.model.capabilities import Capabilities
from dbadvisor.model.catalog import Snapshot, TableKey
from dbadvisor.model.findings import Skipped
from dbadvisor.model.workload import Workload

__all__ = ["ADVISOR_OPTIONS", "Advice", "AdvisorOptions", "QueryCost", "Recommendation", "advise", "advise_with"]

MAX_BYSTANDERS = 10  # other statements on a recommendation's table kept for verify to measure
GIN_MAX_SHARE = 0.05  # a containment most rows match (this share or more of a sample) is left to a scan
Progress = Callable[[str, int, int], None]
Containment = Callable[[TableKey, str, str], float | None]  # (table, column, JSON value) -> share of rows


def advise(conn: psycopg.Connection[Any], snapshot: Snapshot, capabilities: Capabilities, workload: Workload,
           options: AdvisorOptions | None = None, progress: Progress | None = None) -> Advice:
    """The advice for ``workload`` on the live database behind ``conn`` (HypoPG what-if costing, JSON
    keys sampled from the columns when a statement's key was normalized away)."""
    sampled: dict[tuple[TableKey, str], list[tuple[str, float, float, str | None]]] = {}

    def keys(table: TableKey, column: str) -> list[tuple[str, float, float, str | None]]:
        if (table, column) not in sampled:
            sampled[(table, column)] = json_keys(conn, snapshot, table, column)
        return sampled[(table, column)]

    def contains(table: TableKey, column: str, value: str) -> float | None:
        return containment_share(conn, snapshot, table, column, value)

    return advise_with(WhatIf(conn, snapshot), snapshot, capabilities, workload, options, progress, keys, contains)


def advise_with(model: CostModel, snapshot: Snapshot, capabilities: Capabilities, workload: Workload,
                options: AdvisorOptions | None = None, progress: Progress | None = None,
                keys: JsonKeys | None = None, contains: Containment | None = None) -> Advice:
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
            needing = [q for q in (by_sid[s] for s in sorted(sids)) if c.columns[0].column in
                       (*q.usage.tables[c.table_key].containment, *q.usage.tables[c.table_key].contains_text)]
            if not needing:
                continue
            why = _gin_not_worth(c, [q.usage.tables[c.table_key].contained.get(c.columns[0].column or "")
                                     for q in needing], contains)
            if why is not None:
                skipped.append(Skipped(CHECK, f"candidate {c.name} not proposed: {why}"))
                continue
            recs.append(Recommendation(c, 0, [QueryCost(q.statement, q.weight, q.base, q.base, q.binding)
                                              for q in needing], heuristic=True))
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


def _gin_not_worth(c: Candidate, values: list[str | None], contains: Containment | None) -> str | None:
    """Why a GIN index for ``@>`` would not pay, from a sample of the column: every statement it is for
    looks for a value at least ``GIN_MAX_SHARE`` of the rows contain, which a scan finds about as fast
    (with a LIMIT, faster). None when it may pay, or when a value is unknown ($n)."""
    column = c.columns[0].column
    if contains is None or column is None or c.columns[0].opclass == "gin_trgm_ops" or not values:
        return None
    shares = []
    for value in values:
        share = contains(c.table_key, column, value) if value is not None else None
        if share is None:
            return None
        shares.append(share)
    if min(shares) >= GIN_MAX_SHARE:
        return (f"the values its statements look for are in {min(shares):.0%} or more of a sample of "
                f"{c.schema}.{c.table}.{column}'s rows: a scan finds them about as fast")
    return None


def _did_not_fit(search: Search, chosen: list[Candidate], free: int) -> list[Candidate]:
    """Candidates that paid on their own but do not fit beside the chosen set: the budget bound the advice."""
    return sorted((c for c, gain in search.alone.items() if gain > 0 and c not in chosen
                   and not lead_taken(c, chosen) and search.whatif.size(c) > free), key=lambda c: -search.alone[c])
