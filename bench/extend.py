"""Extend (Schlosser, Kossmann, Boissier, ICDE 2019), written from the paper, as a like-for-like baseline.

The reference figures in shared/bench were measured on another machine's costs; running Extend here,
through the same what-if layer (same statements, same statistics, same cache and call counting) as
dbadvisor's advisor, separates what the selection does from what the environment does.

Extend grows one configuration step by step. Each step either adds a single-attribute index or appends
one attribute to an index already chosen (replacing it), and takes the step with the largest cost
reduction per additional byte that fits the budget; it stops when no step lowers the workload cost by
more than 0.3 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from dbadvisor.advisor.candidates import Candidate
from dbadvisor.advisor.costing import Prepared
from dbadvisor.advisor.usage import StatementUsage, analyze
from dbadvisor.advisor.whatif import WhatIf
from dbadvisor.model.catalog import Snapshot, TableKey
from dbadvisor.model.ddl import IndexColumn
from dbadvisor.model.workload import Workload

MIN_IMPROVEMENT = 1.003


@dataclass
class ExtendResult:
    indexes: list[Candidate]
    cost_before: float
    cost_after: float
    what_if_calls: int


def _attributes(usage: StatementUsage) -> dict[TableKey, set[str]]:
    """Indexable attributes: columns a statement filters, joins, sorts or groups on."""
    return {key: {*u.equality, *u.range, *u.join, *(c for c, _ in u.order), *u.group}
            for key, u in usage.tables.items()}


def extend(conn: psycopg.Connection[object], snapshot: Snapshot, workload: Workload, budget: int,
           max_width: int = 2) -> ExtendResult:
    whatif = WhatIf(conn, snapshot)
    statements: list[tuple[int, Prepared, StatementUsage]] = []
    for sid, st in enumerate(workload.statements):
        statements.append((sid, whatif.prepare(st.query), analyze(st.query, snapshot)))
    together: set[tuple[TableKey, frozenset[str]]] = set()
    singles: set[Candidate] = set()
    for _, _, usage in statements:
        for key, attrs in _attributes(usage).items():
            together.add((key, frozenset(attrs)))
            singles |= {Candidate(key[0], key[1], (IndexColumn(a),)) for a in attrs}

    def cost(config: list[Candidate]) -> float:
        return sum(whatif.plan(sid, p, u, config).cost for sid, p, u in statements)

    def size(c: Candidate) -> int:
        return whatif.size(c)

    config: list[Candidate] = []
    current = before = cost(config)
    while True:
        used = sum(size(c) for c in config)
        best: tuple[float, list[Candidate], float] | None = None
        moves: list[tuple[list[Candidate], int]] = []
        for c in sorted(singles - set(config), key=lambda c: c.name):
            if used + size(c) <= budget:
                moves.append(([*config, c], size(c)))
        seen: set[Candidate] = set()
        for i, index in enumerate(config):
            if len(index.columns) >= max_width:
                continue
            keys = frozenset(col.column for col in index.columns if col.column)
            for table_key, together_attrs in together:
                if table_key != index.table_key or not keys <= together_attrs:
                    continue
                for a in sorted(together_attrs - keys):
                    wider = Candidate(index.schema, index.table, (*index.columns, IndexColumn(a)))
                    if wider in config or wider in seen:
                        continue
                    seen.add(wider)
                    delta = size(wider) - size(index)
                    if used + delta <= budget and delta > 0:
                        moves.append(([*config[:i], *config[i + 1:], wider], delta))
        for candidate_config, delta in moves:
            new = cost(candidate_config)
            if new * MIN_IMPROVEMENT >= current:
                continue
            ratio = (current - new) / delta
            if best is None or ratio > best[0]:
                best = (ratio, candidate_config, new)
        if best is None:
            break
        _, config, current = best
    result = ExtendResult(config, before, current, whatif.calls)
    whatif.close()
    return result
