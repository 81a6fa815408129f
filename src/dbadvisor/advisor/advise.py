"""The workload index advisor: choose the index set that minimises the weighted cost of the whole
workload under a storage budget, costed by the planner through HypoPG.

Every candidate is first costed alone (those no plan uses are dropped); then a lazy greedy (CELF) adds
the best net benefit per byte, widening chosen indexes a column at a time (the wider index replaces
its prefix), restarted from the strongest single indexes; last, small indexes that shut out a more
valuable one near the budget's end are traded for it. Costs come from the what-if cache, keyed by the
statement and the candidates relevant to it, so only changed configurations reach the planner.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from dbadvisor.advisor.candidates import Candidate, covering, generate, served_by_existing, sort_limit
from dbadvisor.advisor.inputs import cases
from dbadvisor.advisor.usage import NotUserWorkload, StatementUsage, UnsupportedStatement, analyze
from dbadvisor.advisor.whatif import Prepared, WhatIf
from dbadvisor.dialects.postgres.sampling import json_keys
from dbadvisor.model.capabilities import Capabilities
from dbadvisor.model.catalog import Index, Snapshot, TableKey
from dbadvisor.model.ddl import IndexColumn
from dbadvisor.model.findings import Skipped
from dbadvisor.model.indexing import usable
from dbadvisor.model.workload import Statement, Workload

CHECK = "missing_index"
BIG_TABLE_SHARE = 0.10  # a table with this share of the data gets its wider candidates costed early ...
BLOCK_SIZE = 8192
EARLY_WIDE_SHARE = 0.25  # ... those that take at most this share of the budget
MAX_BYSTANDERS = 10  # other statements on a recommendation's table kept for verify to measure


@dataclass(frozen=True)
class AdvisorOptions:
    budget_bytes: int | None = None  # None: budget_fraction of the database size
    budget_fraction: float = 0.5
    max_indexes: int | None = None
    max_width: int = 3
    weight: str = "time"  # time (total execution time) | cost (calls x planner cost)
    write_cost_per_row: float = 1.0  # planner cost units to maintain one index entry per written row
    # Floors, off by default: a fixed share of the workload drops the cheap indexes that together make the
    # difference, and a hot small lookup beside one heavy report (its gain is a small share of the whole);
    # the write upkeep and the budget bound the set instead, and severity reflects each index's share.
    min_improvement: float = 0.0  # ignore steps that save less than this share of a statement's cost
    min_share: float = 0.0  # an index must save this share of the workload's weighted cost to be worth it
    restarts: int = 3  # greedy restarts seeded with the most beneficial single indexes

    def with_overrides(self, values: Mapping[str, Any]) -> AdvisorOptions:
        """These options with ``--set missing_index.NAME=VALUE`` applied (names as ``ADVISOR_OPTIONS``)."""
        return dataclasses.replace(self, **{k: v for k, v in values.items() if k in ADVISOR_OPTIONS})


# What ``--set missing_index.NAME=VALUE`` may change, with the defaults ``dbadvisor checks`` lists.
ADVISOR_OPTIONS: dict[str, Any] = {f.name: getattr(AdvisorOptions(), f.name) for f in dataclasses.fields(AdvisorOptions)
                                   if f.name != "budget_bytes"}


@dataclass
class QueryCost:
    statement: Statement
    weight: float
    before: float
    after: float
    binding: str
    used: frozenset[Candidate] = frozenset()  # recommended indexes the final plan uses
    bound: str | None = None  # the text as planned, parameters bound, when values were bound


@dataclass
class Recommendation:
    candidate: Candidate
    size_bytes: int
    queries: list[QueryCost] = field(default_factory=list)
    makes_redundant: list[str] = field(default_factory=list)  # existing indexes this one covers
    # The other statements on its table (those it does not help), with their costs under the chosen set:
    # ``verify`` measures them too, and one the planner already expects to get slower is named.
    bystanders: list[QueryCost] = field(default_factory=list)
    heuristic: bool = False  # GIN: HypoPG cannot cost it

    @property
    def benefit(self) -> float:
        return sum(q.weight * (q.before - q.after) for q in self.queries)


@dataclass
class Advice:
    recommendations: list[Recommendation]
    queries: list[QueryCost]
    workload_before: float
    workload_after: float
    budget_bytes: int
    what_if_calls: int
    candidates: int
    skipped: list[Skipped]
    weight: str
    figures: dict[str, Any] = field(default_factory=dict)  # the run in numbers, for the report's summary


@dataclass
class _Query:
    sid: int
    statement: Statement
    usage: StatementUsage
    prepared: Prepared
    base: float = 0.0
    weight: float = 0.0
    share: float = 1.0  # of the statement's weight: a statement planned in several cases (see ``inputs``)
    values: str = ""  # where the case's values came from, when it has values

    @property
    def binding(self) -> str:
        return self.values or self.prepared.binding

    @property
    def tables(self) -> set[TableKey]:
        return set(self.usage.tables)


def advise(
    conn: psycopg.Connection[Any],
    snapshot: Snapshot,
    capabilities: Capabilities,
    workload: Workload,
    options: AdvisorOptions | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Advice:
    opts = options or AdvisorOptions()
    started = time.monotonic()
    whatif = WhatIf(conn, snapshot)
    skipped = list(workload.skipped)
    queries: list[_Query] = []
    numbers = itertools.count()
    sampled: dict[tuple[TableKey, str], list[tuple[str, float]]] = {}

    def keys(table: TableKey, column: str) -> list[tuple[str, float]]:
        if (table, column) not in sampled:
            sampled[(table, column)] = json_keys(conn, snapshot, table, column)
        return sampled[(table, column)]

    for n, st in enumerate(workload.statements):
        try:
            usage = analyze(st.query, snapshot)
            shape_usage = analyze(st.shape, snapshot) if st.shape else usage
            for case in cases(st, shape_usage, snapshot, keys):
                case_usage = usage if case.text == st.query else analyze(case.text, snapshot)
                q = _Query(next(numbers), st, case_usage, whatif.prepare(case.text, case.params), share=case.share,
                           values=case.values)
                if case_usage.kind != "insert":
                    q.base = whatif.plan(q.sid, q.prepared, q.usage, ()).cost
                queries.append(q)
        except NotUserWorkload:
            pass  # catalog queries (monitoring tools, dbadvisor itself): not the application's
        except UnsupportedStatement as exc:
            skipped.append(Skipped(CHECK, f"statement skipped ({st.source}): {exc}: {_short(st.query)}"))
        if progress:
            progress("baseline", n + 1, len(workload.statements))
    readers = [q for q in queries if q.usage.kind != "insert" and q.base > 0]
    use_time = opts.weight == "time" and all(q.statement.total_ms > 0 for q in readers)
    for q in readers:
        explicit = q.statement.weight if q.statement.weight is not None else q.statement.calls
        q.weight = q.share * ((q.statement.total_ms / q.base) if use_time else float(explicit))

    trigram = capabilities.has("pg_trgm") or "pg_trgm" in capabilities.available_extensions
    pool: dict[Candidate, set[int]] = {}
    pages: set[Candidate] = set()  # equality-then-sort composites of paged statements: costed from the start
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

    budget = opts.budget_bytes if opts.budget_bytes is not None else int(snapshot.database.size_bytes
                                                                         * opts.budget_fraction)
    by_sid = {q.sid: q for q in readers}
    simulable = {}
    for c, sids in pool.items():
        if c.simulable:
            try:
                whatif.size(c)  # creates it once: a candidate HypoPG refuses is dropped, not fatal
            except psycopg.Error as exc:
                skipped.append(Skipped(CHECK, f"candidate {c.name} not costed: {str(exc).strip().splitlines()[0]}"))
                continue
            simulable[c] = sids
    # Write overhead is modelled in planner cost units per written row; in time mode it is converted at
    # the workload's own ms-per-cost-unit rate so that it weighs against time saved.
    rate = (sum(q.statement.mean_ms / q.base for q in readers) / len(readers)) if use_time and readers else 1.0
    floor = opts.min_share * sum(q.weight * q.base for q in readers)
    writes = _written_rows(queries)
    search = _Search(whatif, snapshot, simulable, by_sid, writes, budget, opts, rate, floor, progress, pages=pages)
    chosen = search.best(opts.restarts)

    final = _final_costs(whatif, readers, chosen)
    unused = [c for c in chosen if not any(c in f.used for f in final)]
    if unused:  # superseded by a later, better choice: drop them and cost once more
        chosen = [c for c in chosen if c not in unused]
        final = _final_costs(whatif, readers, chosen)
    recs = []
    for c in chosen:
        helped = [f for f in final if c in f.used]
        others = sorted((f for f, q in zip(final, readers, strict=True) if c.table_key in q.usage.tables
                         and f not in helped), key=lambda f: -f.weight * f.before)
        recs.append(Recommendation(c, whatif.size(c), helped, _made_redundant(c, snapshot.indexes_of(c.table_key)),
                                   bystanders=others[:MAX_BYSTANDERS]))
    for c, sids in pool.items():
        if not c.simulable:
            rec = Recommendation(c, 0, [QueryCost(by_sid[s].statement, by_sid[s].weight, by_sid[s].base,
                                                  by_sid[s].base, by_sid[s].binding) for s in sorted(sids)
                                        if c.columns[0].column in by_sid[s].usage.tables[c.table_key].containment
                                        + by_sid[s].usage.tables[c.table_key].contains_text],
                                 heuristic=True)
            if rec.queries:
                recs.append(rec)
    whatif.close()
    recs.sort(key=lambda r: (r.heuristic, -r.benefit))
    used = search.used(chosen)
    # Candidates that paid on their own but did not fit beside the chosen set: the budget bound the advice.
    left = sorted((c for c, gain in search.alone.items() if gain > 0 and c not in chosen and not _lead_taken(c, chosen)
                   and whatif.size(c) > budget - used), key=lambda c: -search.alone[c])
    figures = {
        "statements": len(workload.statements),
        "texts": sum(st.texts for st in workload.statements),
        "planned_cases": len(queries),
        "candidates": len(pool),
        "what_if_calls": whatif.calls,
        "seconds": round(time.monotonic() - started, 2),
        "budget_bytes": budget,
        "budget_used_bytes": used,
        "did_not_fit": [{"index": f"{c.schema}.{c.name}", "size_bytes": whatif.size(c)} for c in left[:5]],
        "weight": "time" if use_time else "cost",
    }
    return Advice(
        recommendations=recs,
        queries=final,
        workload_before=sum(f.weight * f.before for f in final),
        workload_after=sum(f.weight * f.after for f in final),
        budget_bytes=budget,
        what_if_calls=whatif.calls,
        candidates=len(pool),
        skipped=skipped,
        weight="time" if use_time else "cost",
        figures=figures,
    )


@dataclass
class _Search:
    """Greedy selection by net benefit per byte, restarted from a few seeds (the candidates with the
    largest benefit alone): plain ratio-greedy can spend a budget on small indexes and miss the one large
    index that pays most, the classic knapsack trap. The best of the runs wins; the what-if cache makes
    the restarts cheap."""

    whatif: WhatIf
    snapshot: Snapshot
    pool: dict[Candidate, set[int]]
    queries: dict[int, _Query]
    writes: dict[TableKey, int]
    budget: int
    opts: AdvisorOptions
    rate: float
    floor: float
    progress: Callable[[str, int, int], None] | None = None
    alone: dict[Candidate, float] = field(default_factory=dict)  # net gain of each candidate on its own
    deferred: list[Candidate] = field(default_factory=list)  # wide ones whose prefix does not pay alone
    by_table: dict[TableKey, set[int]] = field(default_factory=dict)
    big: set[TableKey] = field(default_factory=set)  # tables holding at least BIG_TABLE_SHARE of the data
    pages: set[Candidate] = field(default_factory=set)  # see ``candidates.sort_limit``

    def __post_init__(self) -> None:
        total = sum(t.total_bytes for t in self.snapshot.tables) or 1
        self.big = {t.key for t in self.snapshot.tables if t.total_bytes >= BIG_TABLE_SHARE * total}
        for q in self.queries.values():
            for key in q.tables:
                self.by_table.setdefault(key, set()).add(q.sid)

    def gain(self, c: Candidate, chosen: list[Candidate]) -> tuple[float, Candidate | None]:
        replaced = next((p for p in chosen if c.extends(p)), None)
        config = [p for p in chosen if p is not replaced]
        gain = 0.0
        # Adding an index can only lower a plan's cost, so the statements it is relevant to suffice;
        # replacing one changes every statement on the table that may have used the old one.
        sids = self.pool[c] if replaced is None else self.by_table[c.table_key]
        for sid in sids:
            q = self.queries[sid]
            now = self.whatif.plan(sid, q.prepared, q.usage, chosen).cost
            new = self.whatif.plan(sid, q.prepared, q.usage, [*config, c]).cost
            # A wider index that replaces a narrower one can make a statement dearer: that counts too.
            if now - new > self.opts.min_improvement * q.base or (replaced is not None and new > now):
                gain += q.weight * (now - new)
        if replaced is None:
            gain -= self.writes.get(c.table_key, 0) * self.opts.write_cost_per_row * self.rate
        return gain, replaced

    def score(self, c: Candidate, chosen: list[Candidate], used: int) -> float | None:
        """Net benefit per byte of adding ``c`` now, or None when it does not fit or does not pay."""
        replaced = next((p for p in chosen if c.extends(p)), None)
        delta = self.whatif.size(c) - (self.whatif.size(replaced) if replaced else 0)
        if used + delta > self.budget:
            return None
        net, _ = self.gain(c, chosen)
        if net <= self.floor or net <= 0:
            return None
        return _per_byte(net, delta)

    def cost_alone(self) -> None:
        """Cost candidates one by one, as Extend does its single-attribute indexes: one-key indexes
        (plain, expression, partial, GIN) first, then the wider candidates that compete from the start
        (``early``). Other wider ones are reached by widening their prefix once it is chosen
        (``extensions``), or, when the prefix does not pay alone, wait (``deferred``) for what the greedy
        leaves of the budget. Nothing larger than the budget is costed, and what no plan uses even alone
        is dropped for good."""
        order = sorted(self.pool, key=lambda c: (c.wide, c.name))
        for i, c in enumerate(order):
            if self.progress:
                self.progress("costing candidates", i + 1, len(order))
            if c.wide and not self.early(c):
                if self.alone.get(c.prefix, 0.0) <= 0:
                    self.deferred.append(c)
                continue  # else reached by widening its prefix when that is chosen
            if self.whatif.size(c) > self.budget:
                self.pool.pop(c)
                continue
            self.cost_one(c)

    def cost_one(self, c: Candidate) -> float:
        """``c``'s net gain on its own, recorded; a candidate that gains nothing even alone leaves the pool."""
        self.alone[c], _ = self.gain(c, [])
        if self.alone[c] <= 0:
            self.pool.pop(c)
        return self.alone[c]

    def early(self, c: Candidate) -> bool:
        """Whether a wider candidate competes from the start: on a table that holds much of the data, one
        that leaves room for others. There, widening one paying key at a time misses wide indexes whose
        first key alone pays little (covering scans of a fact table); elsewhere it is enough, and cheaper
        in what-if calls."""
        if c in self.pages:  # the shape a paged statement needs (see ``candidates.sort_limit``)
            return True
        return c.table_key in self.big and self.whatif.size(c) <= EARLY_WIDE_SHARE * self.budget

    def run(self, start: tuple[Candidate, ...] = ()) -> list[Candidate]:
        """Lazy greedy (CELF) from ``start``: a candidate's last score bounds its next one, since an
        index's marginal benefit only shrinks as others join the set; only the top of the queue is
        re-costed."""
        chosen: list[Candidate] = list(start)
        used = self.used(chosen)
        if not self.alone:  # first run: the candidates alone, the upper bounds for all later runs
            self.cost_alone()
        heap: list[tuple[float, int, int, Candidate]] = []
        order = itertools.count()
        for c, net in self.alone.items():
            if c not in chosen and net > 0:
                heapq.heappush(heap, (-_per_byte(net, self.whatif.size(c)), next(order), -1, c))
        version = 0
        while self.opts.max_indexes is None or len(chosen) < self.opts.max_indexes:
            if not heap:
                late = [c for c in self.deferred if c not in self.alone and used + self.whatif.size(c) <= self.budget]
                if not late:
                    break
                for c in late:  # what the one-key indexes left of the budget: wider ones may use it
                    if self.cost_one(c) > 0:
                        heapq.heappush(heap, (-float("inf"), next(order), -1, c))
                continue
            _, _, seen, c = heapq.heappop(heap)
            if seen != version:
                fresh = self.score(c, chosen, used)
                if fresh is not None:
                    heapq.heappush(heap, (-fresh, next(order), version, c))
                continue
            replaced = next((p for p in chosen if c.extends(p)), None)
            used += self.whatif.size(c) - (self.whatif.size(replaced) if replaced else 0)
            if replaced is not None:
                chosen.remove(replaced)
            chosen.append(c)
            version += 1
            if self.progress:
                self.progress("selecting", len(chosen), len(chosen) + len(heap))
            for ext in self.extensions(c, chosen):
                if ext not in chosen:
                    heapq.heappush(heap, (-float("inf"), next(order), -1, ext))
        return chosen

    def extensions(self, c: Candidate, chosen: list[Candidate]) -> list[Candidate]:
        """A chosen index widened by one more key its statements read (as Extend does with the columns
        they filter on; read-only columns as keys serve index-only scans), or made covering (INCLUDE the
        other columns they read): the next step may replace it when that pays for the extra bytes."""
        if c.method != "btree" or len(c.columns) >= self.opts.max_width:
            return []
        keys = {col.column for col in c.columns}
        read: set[str] = set()
        star = False
        descending: set[str] = set()  # keep the ORDER BY direction the statements ask for
        for sid in self.pool[c]:
            q = self.queries[sid]
            usage = q.usage.tables.get(c.table_key)
            # Only the statements whose plans use it (cached plans): their columns are the ones worth adding.
            if usage is not None and c in self.whatif.plan(sid, q.prepared, q.usage, chosen).used:
                read |= usage.read
                star |= usage.star
                descending |= {col for col, desc in usage.order if desc}
        wider = [Candidate(c.schema, c.table, (*c.columns, IndexColumn(col, descending=col in descending)),
                           tuple(i for i in c.include if i != col), c.where)
                 for col in sorted(read - keys)]
        if not star and (cover := covering(c, read, self.snapshot)) is not None:
            wider.append(cover)
        for ext in wider:
            if ext not in self.pool:
                added = {col.column for col in ext.columns} | set(ext.include)
                self.pool[ext] = {sid for sid in self.by_table[c.table_key]
                                  if added & self.queries[sid].usage.tables[c.table_key].read}
                self.pool[ext] |= self.pool[c]
        return wider

    def objective(self, chosen: list[Candidate]) -> float:
        """Weighted cost of the workload with ``chosen``, their upkeep under the workload's writes included."""
        reads = sum(q.weight * self.whatif.plan(q.sid, q.prepared, q.usage, chosen).cost
                    for q in self.queries.values())
        upkeep = sum(self.writes.get(c.table_key, 0) for c in chosen) * self.opts.write_cost_per_row * self.rate
        return reads + upkeep

    def swap(self, chosen: list[Candidate]) -> list[Candidate]:
        """Trade small indexes for one that no longer fits. The greedy takes the best benefit per byte, so
        near a full budget a few tiny indexes, each worth little, can shut out one that is worth more than
        all of them (the knapsack's last item). The indexes to evict are those worth least alone; a trade
        is kept only when the whole workload gains. Gains alone do not bound gains together (an index on
        each side of a join can be worth ten times more than the two alone), so every trade that fits is
        planned rather than pruned by them."""
        chosen = list(chosen)
        tried: set[Candidate] = set()
        while True:
            base = self.objective(chosen)
            free = self.budget - self.used(chosen)
            for s in sorted(self.alone, key=lambda c: -self.alone[c]):
                if (s in tried or s in chosen or self.alone[s] <= max(self.floor, 0.0) or self.whatif.size(s) <= free
                        or _lead_taken(s, chosen)):
                    continue
                evicted = self._evict(chosen, self.whatif.size(s) - free)
                if evicted is None:
                    continue
                tried.add(s)
                trial = [*(c for c in chosen if c not in evicted), s]
                if self.objective(trial) < base:
                    chosen = trial
                    break
            else:
                return chosen

    def used(self, chosen: list[Candidate]) -> int:
        return sum(self.whatif.size(c) for c in chosen)

    def worth_alone(self, c: Candidate) -> float:
        """What a chosen index was worth on its own (its one-key prefix's gain: widenings are not costed
        alone)."""
        return self.alone.get(c.prefix, 0.0)

    def worth_alone_per_byte(self, c: Candidate) -> float:
        return _per_byte(self.worth_alone(c), self.whatif.size(c))

    def _take(self, chosen: list[Candidate], key: Callable[[Candidate], float], need: int) -> list[Candidate] | None:
        """The first of ``chosen`` in ``key`` order until they free ``need`` bytes; None when all cannot."""
        picked: list[Candidate] = []
        freed = 0
        for c in sorted(chosen, key=key):
            if freed >= need:
                break
            picked.append(c)
            freed += self.whatif.size(c)
        return picked if freed >= need else None

    def _evict(self, chosen: list[Candidate], need: int) -> list[Candidate] | None:
        """Indexes to drop to free ``need`` bytes, worth as little alone as can be found: the cheaper of
        taking them by that worth per byte and by that worth, each pruned of what the others already free."""
        best: list[Candidate] | None = None
        for key in (self.worth_alone_per_byte, self.worth_alone):
            picked = self._take(chosen, key, need)
            if picked is None:
                return None
            freed = self.used(picked)
            for c in sorted(picked, key=lambda c: -self.worth_alone(c)):
                if freed - self.whatif.size(c) >= need:
                    picked.remove(c)
                    freed -= self.whatif.size(c)
            if best is None or sum(map(self.worth_alone, picked)) < sum(map(self.worth_alone, best)):
                best = picked
        return best

    def best(self, restarts: int = 3) -> list[Candidate]:
        """The greedy run, then runs seeded with the strongest indexes it left out, where one can pay:
        a seed that fits beside the greedy set was passed over on its merits, so only one that must
        evict indexes (the least paying per byte) is tried, and only when it gains more in their place
        than they were worth. The check costs a few plans; a run costs many."""
        runs = [self.run()]
        first = runs[0]
        base = self.objective(first)
        free = self.budget - self.used(first)
        seeds: list[Candidate] = []
        for s in sorted(self.alone, key=lambda c: -self.alone[c])[: 3 * restarts]:
            if len(seeds) == restarts or self.alone[s] <= 0:
                break
            if _lead_taken(s, first):
                continue
            evicted = self._take(first, self.worth_alone_per_byte, self.whatif.size(s) - free)
            if not evicted or sum(map(self.worth_alone, evicted)) >= self.alone[s]:
                continue
            rest = [c for c in first if c not in evicted]
            if self.gain(s, rest)[0] > self.objective(rest) - base:
                seeds.append(s)
        runs += [self.run((seed,)) for seed in seeds]
        chosen = min(runs, key=self.objective)
        # Each trade lowers the objective and each fill only adds what pays, so this ends.
        while (traded := self.swap(chosen)) != chosen:
            chosen = self.run(tuple(traded))  # fill what the trades left free
        return chosen


def _per_byte(value: float, nbytes: int) -> float:
    """``value`` per byte of an index, which takes at least one page."""
    return value / max(nbytes, BLOCK_SIZE)


def _lead_taken(c: Candidate, chosen: list[Candidate]) -> bool:
    """Whether an index with the same leading key is chosen already, widened or not."""
    return any(c.table_key == p.table_key and c.columns[0] == p.columns[0] for p in chosen)


def _final_costs(whatif: WhatIf, readers: list[_Query], chosen: list[Candidate]) -> list[QueryCost]:
    out = []
    for q in readers:
        plan = whatif.plan(q.sid, q.prepared, q.usage, chosen)
        bound = q.prepared.text if q.prepared.binding in ("literal", "representative") or q.values else None
        out.append(QueryCost(q.statement, q.weight, q.base, plan.cost, q.binding, plan.used, bound))
    return out


def _written_rows(queries: list[_Query]) -> dict[TableKey, int]:
    """Rows the workload's own INSERT/UPDATE/DELETE statements write per table, in the same window as
    the read statements' weights: each new index must be maintained for every one of them."""
    out: dict[TableKey, int] = {}
    for q in queries:
        if q.usage.kind in ("insert", "update", "delete"):
            target = next(iter(q.usage.tables))
            out[target] = out.get(target, 0) + max(q.statement.rows, q.statement.calls)
    return out


def _made_redundant(c: Candidate, existing: tuple[Index, ...]) -> list[str]:
    """Existing non-unique indexes whose keys are a leading prefix of the recommendation."""
    out = []
    labels = [col.label for col in c.columns]
    for index in existing:
        if not usable(index) or index.is_unique or index.method != c.method or index.predicate != c.where:
            continue
        keys = [k.column or k.expression for k in index.keys]
        if len(keys) < len(labels) and labels[: len(keys)] == keys and not index.include:
            out.append(index.qualname)
    return out


def _short(query: str, n: int = 160) -> str:
    text = " ".join(query.split())
    return text if len(text) <= n else text[: n - 1] + "…"
