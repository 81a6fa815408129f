"""The advisor's cost model: what a statement costs with a set of hypothetical indexes, and how large
an index would be. The search asks only this interface, so it runs the same on HypoPG (``whatif``) and
on a model recorded from a real run (the golden tests pin the search's choices without a server).

A plan is keyed by the statement and the candidates *relevant* to it (those whose columns it names):
an index on a column the statement never touches cannot change its plan, so it costs no EXPLAIN.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dbadvisor.advisor.candidates import Candidate
from dbadvisor.advisor.usage import StatementUsage
from dbadvisor.errors import DbAdvisorError
from dbadvisor.model.serialize import from_data, to_data


class CandidateRefused(DbAdvisorError):
    """The cost model cannot simulate this candidate (HypoPG refused it): it leaves the pool."""


class Unrecorded(DbAdvisorError):
    """A recorded model was asked for a plan it does not have: the search has changed since recording."""


@dataclass(frozen=True)
class Plan:
    cost: float
    used: frozenset[Candidate]  # hypothetical indexes the plan uses


@dataclass
class Prepared:
    """How to EXPLAIN one statement: a ready query text, or a prepared statement with N parameters."""

    text: str
    nparams: int = 0  # > 0: EXPLAIN EXECUTE a forced generic plan
    binding: str = "none"  # none | literal | representative | generic | generic_plan


class CostModel(Protocol):
    @property
    def calls(self) -> int:
        """Distinct plans asked of the planner."""
        ...

    def prepare(self, sql: str, params: tuple[str | None, ...] = ()) -> Prepared: ...

    def plan(self, sid: int, prepared: Prepared, usage: StatementUsage, config: Iterable[Candidate]) -> Plan: ...

    def size(self, c: Candidate) -> int: ...

    def close(self) -> None: ...


def relevant(config: Iterable[Candidate], usage: StatementUsage) -> frozenset[Candidate]:
    """The candidates of ``config`` that could change the statement's plan: the plan's cache key."""
    return frozenset(c for c in config if c.simulable and c.relevant_to(usage))


@dataclass
class Recording:
    """Every plan and size a run asked for, to replay (``RecordedModel``) and save as a fixture."""

    sizes: dict[Candidate, int] = field(default_factory=dict)
    plans: dict[tuple[int, frozenset[Candidate]], Plan] = field(default_factory=dict)
    refused: dict[Candidate, str] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        data = {
            "sizes": [[to_data(c), n] for c, n in self.sizes.items()],
            "refused": [[to_data(c), why] for c, why in self.refused.items()],
            "plans": [[sid, [to_data(c) for c in sorted(config, key=_order)], p.cost,
                       [to_data(c) for c in sorted(p.used, key=_order)]]
                      for (sid, config), p in sorted(self.plans.items(), key=lambda kv: (kv[0][0], _key(kv[0][1])))],
        }
        path.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> Recording:
        data = json.loads(path.read_text())

        def cand(d: Any) -> Candidate:
            return from_data(Candidate, d)

        return cls(
            sizes={cand(c): int(n) for c, n in data["sizes"]},
            plans={(int(sid), frozenset(map(cand, config))): Plan(float(cost), frozenset(map(cand, used)))
                   for sid, config, cost, used in data["plans"]},
            refused={cand(c): str(why) for c, why in data.get("refused", [])},
        )


def _order(c: Candidate) -> str:
    return c.name


def _key(config: frozenset[Candidate]) -> list[str]:
    return sorted(map(_order, config))


class RecordingModel:
    """A cost model that passes every question to ``inner`` and keeps the answers."""

    def __init__(self, inner: CostModel) -> None:
        self.inner = inner
        self.recording = Recording()

    @property
    def calls(self) -> int:
        return self.inner.calls

    def prepare(self, sql: str, params: tuple[str | None, ...] = ()) -> Prepared:
        return self.inner.prepare(sql, params)

    def plan(self, sid: int, prepared: Prepared, usage: StatementUsage, config: Iterable[Candidate]) -> Plan:
        config = relevant(config, usage)
        found = self.inner.plan(sid, prepared, usage, config)
        self.recording.plans[(sid, config)] = found
        return found

    def size(self, c: Candidate) -> int:
        try:
            self.recording.sizes[c] = self.inner.size(c)
        except CandidateRefused as exc:
            self.recording.refused[c] = str(exc)
            raise
        return self.recording.sizes[c]

    def close(self) -> None:
        self.inner.close()


class RecordedModel:
    """Replays a ``Recording``: the same answers, no server. A question it has no answer for raises
    ``Unrecorded``, so a test replaying it fails when the search asks something new."""

    def __init__(self, recording: Recording, prepare: Any) -> None:
        self.recording = recording
        self._prepare = prepare
        self.calls = 0
        self._seen: set[tuple[int, frozenset[Candidate]]] = set()

    def prepare(self, sql: str, params: tuple[str | None, ...] = ()) -> Prepared:
        prepared: Prepared = self._prepare(sql, params)
        return prepared

    def plan(self, sid: int, prepared: Prepared, usage: StatementUsage, config: Iterable[Candidate]) -> Plan:
        key = (sid, relevant(config, usage))
        if key not in self.recording.plans:
            raise Unrecorded(f"no recorded plan for statement {sid} with {_key(key[1])}")
        if key not in self._seen:
            self._seen.add(key)
            self.calls += 1
        return self.recording.plans[key]

    def size(self, c: Candidate) -> int:
        if c in self.recording.refused:
            raise CandidateRefused(self.recording.refused[c])
        if c not in self.recording.sizes:
            raise Unrecorded(f"no recorded size for {c.name}")
        return self.recording.sizes[c]

    def close(self) -> None:
        pass
