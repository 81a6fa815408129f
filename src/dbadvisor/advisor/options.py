"""The advisor's options: what ``--budget``, ``--max-indexes``, ``--weight`` and ``--set missing_index.NAME``
set, with the defaults ``dbadvisor checks`` lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AdvisorOptions:
    budget_bytes: int | None = None  # None: budget_fraction of the database size
    budget_fraction: float = 1.0
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
    trades: bool = True  # trade small indexes for one that no longer fits, at the budget's end

    def with_overrides(self, values: Mapping[str, Any]) -> AdvisorOptions:
        """These options with ``--set missing_index.NAME=VALUE`` applied (names as ``ADVISOR_OPTIONS``)."""
        return dataclasses.replace(self, **{k: v for k, v in values.items() if k in ADVISOR_OPTIONS})


# What ``--set missing_index.NAME=VALUE`` may change, with the defaults ``dbadvisor checks`` lists.
ADVISOR_OPTIONS: dict[str, Any] = {f.name: getattr(AdvisorOptions(), f.name) for f in dataclasses.fields(AdvisorOptions)
                                   if f.name != "budget_bytes"}
