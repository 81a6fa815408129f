"""Trades on the whole chosen set, after the greedy: small indexes for one that no longer fits (the
knapsack's end, ``swap``), and one chosen index for a stronger one on its table (``exchange``).
Functions of the search's state (``search.Search``), kept apart because they reason about the whole
set, not one step."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from dbadvisor.advisor.candidates import Candidate, lead_taken

if TYPE_CHECKING:
    from dbadvisor.advisor.search import Search


def swap(search: Search, chosen: list[Candidate]) -> list[Candidate]:
    """Trade small indexes for one that no longer fits. The greedy takes the best benefit per byte, so
    near a full budget a few tiny indexes, each worth little, can shut out one that is worth more than
    all of them (the knapsack's last item). The indexes to evict are those worth least alone; a trade
    is kept only when the whole workload gains. Gains alone do not bound gains together (an index on
    each side of a join can be worth ten times more than the two alone), so every trade that fits is
    planned rather than pruned by them."""
    chosen = list(chosen)
    tried: set[Candidate] = set()
    while True:
        base = search.objective(chosen)
        free = search.budget - search.used(chosen)
        for s in sorted(search.alone, key=lambda c: -search.alone[c]):
            if (s in tried or s in chosen or search.alone[s] <= max(search.floor, 0.0) or search.whatif.size(s) <= free
                    or lead_taken(s, chosen)):
                continue
            evicted = evict(search, chosen, search.whatif.size(s) - free)
            if evicted is None:
                continue
            tried.add(s)
            trial = [*(c for c in chosen if c not in evicted), s]
            if search.objective(trial) < base:
                chosen = trial
                break
        else:
            return chosen


def take(search: Search, chosen: list[Candidate], key: Callable[[Candidate], float],
         need: int) -> list[Candidate] | None:
    """The first of ``chosen`` in ``key`` order until they free ``need`` bytes; None when all cannot."""
    picked: list[Candidate] = []
    freed = 0
    for c in sorted(chosen, key=key):
        if freed >= need:
            break
        picked.append(c)
        freed += search.whatif.size(c)
    return picked if freed >= need else None


def evict(search: Search, chosen: list[Candidate], need: int) -> list[Candidate] | None:
    """Indexes to drop to free ``need`` bytes, worth as little alone as can be found: the cheaper of
    taking them by that worth per byte and by that worth, each pruned of what the others already free."""
    best: list[Candidate] | None = None
    for key in (search.worth_alone_per_byte, search.worth_alone):
        picked = take(search, chosen, key, need)
        if picked is None:
            return None
        freed = search.used(picked)
        for c in sorted(picked, key=lambda c: -search.worth_alone(c)):
            if freed - search.whatif.size(c) >= need:
                picked.remove(c)
                freed -= search.whatif.size(c)
        if best is None or sum(map(search.worth_alone, picked)) < sum(map(search.worth_alone, best)):
            best = picked
    return best


EXCHANGE_CANDIDATES = 3  # per chosen index: the strongest others on its table, by gain alone, tried in its place


def exchange(search: Search, chosen: list[Candidate]) -> list[Candidate]:
    """Replace one chosen index by another on the same table when the whole workload gains. The greedy
    takes what pays best per byte first and widens it a key at a time, so it can settle on a shape that
    serves a page by filtering in the index ((created_at, channel_id) for ``WHERE channel_id = $1 ORDER
    BY created_at DESC LIMIT 50``) where another leads with the equality key and stops after the page;
    once chosen, the better one adds little beside it and is never taken. Each exchange lowers the
    objective, so this ends."""
    chosen = list(chosen)
    improved = True
    while improved:
        improved = False
        base = search.objective(chosen)
        for c in list(chosen):
            free = search.budget - search.used(chosen) + search.whatif.size(c)
            rivals = sorted((s for s in search.alone if s.table_key == c.table_key and s not in chosen
                             and search.alone[s] > 0 and search.whatif.size(s) <= free),
                            key=lambda s: -search.alone[s])[:EXCHANGE_CANDIDATES]
            for s in rivals:
                trial = [s if x is c else x for x in chosen]
                if search.objective(trial) < base:
                    chosen, improved = trial, True
                    break
            if improved:
                break
    return chosen
