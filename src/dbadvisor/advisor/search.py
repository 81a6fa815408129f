"""The advisor's search: a lazy greedy (CELF) by net benefit per byte, which widens chosen indexes a key at a
time and is restarted from the strongest single indexes; the knapsack's end is left to ``trades``.

Costs come from a ``CostModel`` (HypoPG on a live server, or a recorded one in the golden tests), keyed
by the statement and the candidates relevant to it, so only changed configurations reach the planner.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from dbadvisor.advisor.candidates import Candidate, covering, fixed_columns, lead_taken
from dbadvisor.advisor.costing import CostModel
from dbadvisor.advisor.inputs import Query
from dbadvisor.advisor.options import AdvisorOptions
from dbadvisor.advisor.trades import exchange, swap, take
from dbadvisor.model.catalog import Snapshot, TableKey
from dbadvisor.model.ddl import IndexColumn

BIG_TABLE_SHARE = 0.10  # a table with this share of the data gets its wider candidates costed early ...
BLOCK_SIZE = 8192
EARLY_WIDE_SHARE = 0.25  # ... those that take at most this share of the budget


@dataclass
class Search:
    """Greedy selection by net benefit per byte, restarted from a few seeds (the candidates with the
    largest benefit alone): plain ratio-greedy can spend a budget on small indexes and miss the one large
    index that pays most, the classic knapsack trap. The best of the runs wins; the what-if cache makes
    the restarts cheap."""

    whatif: CostModel
    snapshot: Snapshot
    pool: dict[Candidate, set[int]]
    queries: dict[int, Query]
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
        return per_byte(net, delta)

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
                heapq.heappush(heap, (-per_byte(net, self.whatif.size(c)), next(order), -1, c))
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
                 for col in sorted(read - keys - fixed_columns(c.where))]
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

    def used(self, chosen: list[Candidate]) -> int:
        return sum(self.whatif.size(c) for c in chosen)

    def worth_alone(self, c: Candidate) -> float:
        """What a chosen index was worth on its own (its one-key prefix's gain: widenings are not costed
        alone)."""
        return self.alone.get(c.prefix, 0.0)

    def worth_alone_per_byte(self, c: Candidate) -> float:
        return per_byte(self.worth_alone(c), self.whatif.size(c))

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
            if lead_taken(s, first):
                continue
            evicted = take(self, first, self.worth_alone_per_byte, self.whatif.size(s) - free)
            if not evicted or sum(map(self.worth_alone, evicted)) >= self.alone[s]:
                continue
            rest = [c for c in first if c not in evicted]
            if self.gain(s, rest)[0] > self.objective(rest) - base:
                seeds.append(s)
        runs += [self.run((seed,)) for seed in seeds]
        chosen = min(runs, key=self.objective)
        # Each trade lowers the objective and each fill only adds what pays, so this ends.
        while self.opts.trades and (traded := exchange(self, swap(self, chosen))) != chosen:
            chosen = self.run(tuple(traded))  # fill what the trades left free
        return chosen


def per_byte(value: float, nbytes: int) -> float:
    """``value`` per byte of an index, which takes at least one page."""
    return value / max(nbytes, BLOCK_SIZE)


def written_rows(queries: list[Query]) -> dict[TableKey, int]:
    """Rows the workload's own INSERT/UPDATE/DELETE statements write per table, in the same window as
    the read statements' weights: each new index must be maintained for every one of them."""
    out: dict[TableKey, int] = {}
    for q in queries:
        if q.usage.kind in ("insert", "update", "delete"):
            target = next(iter(q.usage.tables))
            out[target] = out.get(target, 0) + max(q.statement.rows, q.statement.calls)
    return out
