"""What the advisor hands on: each recommendation with the statements it helps and those it must not
harm, every statement's cost before and after the chosen set, and the run in figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dbadvisor.advisor.candidates import Candidate
from dbadvisor.advisor.costing import CostModel
from dbadvisor.advisor.inputs import Query
from dbadvisor.model.catalog import Index
from dbadvisor.model.findings import Skipped
from dbadvisor.model.indexing import is_prefix, shape_of, usable
from dbadvisor.model.workload import Statement


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


def final_costs(model: CostModel, readers: list[Query], chosen: list[Candidate]) -> list[QueryCost]:
    out = []
    for q in readers:
        plan = model.plan(q.sid, q.prepared, q.usage, chosen)
        bound = q.prepared.text if q.prepared.binding in ("literal", "representative") or q.values else None
        out.append(QueryCost(q.statement, q.weight, q.base, plan.cost, q.binding, plan.used, bound))
    return out


def made_redundant(c: Candidate, existing: tuple[Index, ...]) -> list[str]:
    """Existing non-unique indexes the recommendation serves every lookup of (the shared prefix rule)."""
    return [i.qualname for i in existing if usable(i) and not i.is_unique and is_prefix(shape_of(i), c.shape, True)]
