"""The advisor's choices pinned without a server: cost models recorded from a real HypoPG run
(tests/fixtures/golden, see tests/golden_advisor.py) replayed through the whole advisor. Each path
(greedy, widening, restarts, trades) has a variant whose ablation chooses otherwise, so a change to any
path shows here; a search that asks the planner something new fails with ``Unrecorded``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Database
from tests.golden_advisor import record, replay

FIXTURE = Path(__file__).parent / "fixtures" / "golden"
EXPECTED: dict[str, dict[str, Any]] = json.loads((FIXTURE / "expected.json").read_text())


def test_every_path_is_pinned() -> None:
    assert set(EXPECTED) == {"greedy", "widening", "restarts", "trades"}


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_replayed_choice(variant: str) -> None:
    spec = EXPECTED[variant]
    assert replay(FIXTURE, spec["options"], spec.get("trades", True)) == spec["chosen"]
    if "ablation" in spec:  # with the path turned off the choice differs: the path is what made it
        off = spec["ablation"]
        assert replay(FIXTURE, off["options"], off.get("trades", True)) == off["chosen"] != spec["chosen"]


@pytest.mark.hypopg
def test_a_recording_replays_as_the_live_run_chose(db: Database, tmp_path: Path) -> None:
    """Recorded on this server now, replayed: the same choices, so the recorded model is faithful."""
    found = record(tmp_path, db.dsn)
    for spec in found.values():
        assert replay(tmp_path, spec["options"], spec.get("trades", True)) == spec["chosen"]
