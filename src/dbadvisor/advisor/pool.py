"""The candidate pool: the indexes worth costing, each with the statements it may help."""

from __future__ import annotations

from dbadvisor.advisor.candidates import Candidate, generate, served_by_existing, sort_limit
from dbadvisor.advisor.costing import CandidateRefused, CostModel
from dbadvisor.advisor.inputs import CHECK, Query
from dbadvisor.advisor.options import AdvisorOptions
from dbadvisor.advisor.search import BLOCK_SIZE
from dbadvisor.model.catalog import Snapshot
from dbadvisor.model.findings import Skipped


def candidate_pool(readers: list[Query], snapshot: Snapshot, opts: AdvisorOptions,
                   trigram: bool) -> tuple[dict[Candidate, set[int]], set[Candidate]]:
    """(candidate -> statement ids it may help, the equality-then-sort composites of paged statements)."""
    pool: dict[Candidate, set[int]] = {}
    pages: set[Candidate] = set()  # costed from the start (see ``candidates.sort_limit``)
    for q in readers:
        for table_usage in q.usage.tables.values():
            table = snapshot.table(table_usage.key)
            if table is not None and table.heap_bytes <= BLOCK_SIZE:
                continue  # one page is read whole as cheaply as any index lookup: no candidate is worth it
            for c in generate(table_usage, snapshot, opts.max_width, trigram):
                if served_by_existing(c, snapshot.indexes_of(c.table_key)) is None:
                    pool.setdefault(c, set()).add(q.sid)
            page = sort_limit(table_usage, q.usage.has_limit, opts.max_width)
            if page is not None and page in pool:
                pages.add(page)
    # A candidate also serves other statements on its table that filter, join or sort on its lead column.
    # Narrower than Candidate.relevant_to on purpose: statements that only read its columns or test the
    # lead otherwise rarely gain, and costing them too took 10% more what-if calls on TPC-H, same picks.
    for c, sids in pool.items():
        lead = c.columns[0].column
        for q in readers:
            u = q.usage.tables.get(c.table_key)
            if u and lead and lead in (*u.equality, *u.join, *u.range, *(o for o, _ in u.order), *u.group):
                sids.add(q.sid)
    return pool, pages


def costable(pool: dict[Candidate, set[int]], model: CostModel,
             skipped: list[Skipped]) -> dict[Candidate, set[int]]:
    """The candidates the cost model can simulate (B-tree; sized once here): one it refuses is dropped
    with the reason, not fatal."""
    out = {}
    for c, sids in pool.items():
        if c.simulable:
            try:
                model.size(c)
            except CandidateRefused as exc:
                skipped.append(Skipped(CHECK, f"candidate {c.name} not costed: {exc}"))
                continue
            out[c] = sids
    return out
