"""Golden cost models for the advisor: a real HypoPG run recorded once, replayed by the tests without a
server, so the sets the greedy, widening, restart and trade paths choose are pinned.

Each path is a variant of options with an ablation (the same run with that path turned off, by its
option: ``max_width=1``, ``restarts=0``, ``trades=False``): the
recording holds both, and the fixture states that they choose differently, so each path is shown to
matter and its choice pinned. Re-record after a deliberate change of the search::

    .venv/bin/python -m tests.golden_advisor tests/fixtures/golden
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from dbadvisor.advisor.advise import AdvisorOptions, advise_with
from dbadvisor.advisor.costing import CostModel, RecordedModel, Recording, RecordingModel
from dbadvisor.advisor.whatif import WhatIf, prepare
from dbadvisor.dialects.postgres.catalog import Collected
from dbadvisor.model.workload import Workload
from dbadvisor.sources import snapshot as snapshots
from dbadvisor.workload import from_paths

# A big table whose range index is worth more than three small tables' lookups together, which per byte
# pay better: the greedy takes the small ones first and the big one no longer fits (test_advisor too).
KNAPSACK = """
CREATE TABLE knap_big (id int, k int, pad text);
INSERT INTO knap_big SELECT g, g % 100000, repeat('x', 40) FROM generate_series(1, 300000) g;
CREATE TABLE knap_1 (k int, pad text);
INSERT INTO knap_1 SELECT g, repeat('y', 40) FROM generate_series(1, 20000) g;
CREATE TABLE knap_2 AS TABLE knap_1;
CREATE TABLE knap_3 AS TABLE knap_1;
"""
SCHEMA = """
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE TABLE customers (id int PRIMARY KEY, region text NOT NULL, email text NOT NULL, segment int NOT NULL,
                        tier int NOT NULL);
INSERT INTO customers SELECT g, (ARRAY['eu', 'us', 'apac'])[1 + g % 3], 'c' || g || '@x.io', g % 100, g % 53
FROM generate_series(1, 20000) g;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, total numeric NOT NULL,
                     created_at timestamptz NOT NULL);
INSERT INTO orders SELECT g, 1 + g % 20000, CASE WHEN g % 300 = 0 THEN 'failed' ELSE 'done' END, g % 997,
       now() - g * interval '1 minute' FROM generate_series(1, 200000) g;
""" + KNAPSACK
WORKLOAD = """
-- weight: 50
SELECT id, total FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 10;
-- weight: 5
SELECT c.region, sum(o.total) FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE o.created_at > '2026-11-01' GROUP BY c.region;
-- weight: 20
SELECT id FROM orders WHERE status = 'failed' ORDER BY created_at DESC LIMIT 20;
-- weight: 10
SELECT id, region FROM customers WHERE email = 'c77@x.io';
-- weight: 40
SELECT id, email FROM customers WHERE segment = 7 AND tier = 3;
-- weight: 30
SELECT sum(total) FROM orders WHERE customer_id BETWEEN 1 AND 3000;
-- weight: 3
SELECT count(*) FROM knap_big WHERE k BETWEEN 1 AND 1000;
SELECT * FROM knap_1 WHERE k = 7;
SELECT * FROM knap_2 WHERE k = 7;
SELECT * FROM knap_3 WHERE k = 7;
"""
BUDGETS = tuple(mb * 1_000_000 for mb in range(1, 31))


def choose(model: CostModel, collected: Collected, workload: Workload, options: dict[str, Any],
           trades: bool = True) -> list[str]:
    opts = replace(AdvisorOptions(weight="cost", trades=trades), **options)
    advice = advise_with(model, collected.snapshot, collected.capabilities, workload, opts)
    return sorted(r.candidate.name for r in advice.recommendations)


def replay(folder: Path, options: dict[str, Any], trades: bool = True) -> list[str]:
    collected = snapshots.load(folder / "snapshot.json")
    recording = Recording.load(folder / "recording.json")
    model = RecordedModel(recording, lambda sql, params: prepare(sql, collected.snapshot, params))
    return choose(model, collected, from_paths([folder / "workload.sql"]), options, trades)


def variants(run: Any) -> dict[str, dict[str, Any]]:
    """The variants, each with the budget (from ``BUDGETS``) at which its path changes the choice."""
    out: dict[str, dict[str, Any]] = {}
    big = {"budget_bytes": 200_000_000}
    out["greedy"] = {"options": {**big, "max_width": 1, "restarts": 0}, "trades": False}
    out["widening"] = {"options": {**big, "max_width": 3, "restarts": 0},
                       "ablation": {"options": {**big, "max_width": 1, "restarts": 0}}}
    for budget in BUDGETS:
        on, off = {"budget_bytes": budget, "restarts": 0}, {"budget_bytes": budget, "restarts": 0}
        if "trades" not in out and run(on) != run(off, trades=False):
            out["trades"] = {"options": on, "ablation": {"options": off, "trades": False}}
        with_restarts, without = {"budget_bytes": budget, "restarts": 3}, {"budget_bytes": budget, "restarts": 0}
        if "restarts" not in out and run(with_restarts, trades=False) != run(without, trades=False):
            out["restarts"] = {"options": with_restarts, "trades": False,
                               "ablation": {"options": without, "trades": False}}
    return out


def record(folder: Path, dsn: str | None = None) -> dict[str, Any]:
    """Load the schema into ``dsn`` (an empty database; default: one on a private server), run every
    variant and ablation through a recording model, and write snapshot, workload, recording and the
    expected choices to ``folder``."""
    from dbadvisor.dialects.postgres.cluster import PrivateCluster

    if dsn is None:
        with PrivateCluster() as cluster:
            return record(folder, cluster.create_database("golden", ()))
    return _record(folder, dsn)


def _record(folder: Path, dsn: str) -> dict[str, Any]:
    from dbadvisor.dialects.postgres.catalog import collect

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workload.sql").write_text(WORKLOAD.lstrip())
    workload = from_paths([folder / "workload.sql"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute("VACUUM ANALYZE")  # visibility maps set: index-only scans are costed as such
    with psycopg.connect(dsn, autocommit=True) as conn:
        collected = collect(conn)
        snapshots.save(collected, folder / "snapshot.json")
        collected = snapshots.load(folder / "snapshot.json")  # what the replay will see
        recorder = RecordingModel(WhatIf(conn, collected.snapshot))
        recorder.close = lambda: None  # type: ignore[method-assign]  # one model for every run

        def run(options: dict[str, Any], trades: bool = True) -> list[str]:
            return choose(recorder, collected, workload, options, trades)

        found = variants(run)
        for spec in found.values():
            spec["chosen"] = run(spec["options"], spec.get("trades", True))
            if "ablation" in spec:
                spec["ablation"]["chosen"] = run(spec["ablation"]["options"], spec["ablation"].get("trades", True))
        recorder.recording.save(folder / "recording.json")
    (folder / "expected.json").write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    return found


if __name__ == "__main__":
    print(json.dumps(record(Path(sys.argv[1])), indent=1))
