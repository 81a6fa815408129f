"""Statements as pg_stat_statements normalizes them (every constant a $n) are planned, not skipped:
typed literals (interval $2, date $1), Prisma's spacing ($2=$3, IN ($1,$2)), JSON keys, ANY, LIMIT and
OFFSET. A property-based test normalizes generated statements the way pg_stat_statements does and plans
each one on a real server; and one bad token in a .sql file costs only its own statement."""

from __future__ import annotations

import re

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbadvisor.advisor.usage import analyze as usage_of
from dbadvisor.advisor.whatif import WhatIf
from dbadvisor.dialects.postgres.catalog import collect
from dbadvisor.dialects.postgres.connection import connect
from dbadvisor.model.catalog import Snapshot
from dbadvisor.workload import split_sql
from dbadvisor.workload.normalize import plannable
from tests.conftest import Database


@pytest.mark.parametrize("normalized,planned", [
    ("SELECT * FROM t WHERE a = $1 AND $2=$3", "SELECT * FROM t WHERE a = $1 AND $2 =$3"),
    ("SELECT * FROM t WHERE id IN ($1,$2)", "SELECT * FROM t WHERE id IN ($1 ,$2 )"),
    ("SELECT * FROM t WHERE a = $1 AND b = $2", "SELECT * FROM t WHERE a = $1 AND b = $2"),
    ("SELECT * FROM t WHERE ts > now() - interval $1", "SELECT * FROM t WHERE ts > now() - $1::interval"),
    ("SELECT * FROM t WHERE d >= DATE $1", "SELECT * FROM t WHERE d >= $1::date"),
    ("SELECT * FROM t WHERE ts < timestamp with time zone $1",
     "SELECT * FROM t WHERE ts < $1::timestamp with time zone"),
    ("SELECT * FROM t WHERE note = 'interval $1' AND \"$2\" = 1",
     "SELECT * FROM t WHERE note = 'interval $1' AND \"$2\" = 1"),
])
def test_normalized_forms_become_plannable(normalized: str, planned: str) -> None:
    assert plannable(normalized) == planned
    sqlglot.parse_one(plannable(normalized), read="postgres")  # sqlglot reads it now


def test_one_bad_token_costs_only_its_own_statement() -> None:
    text = "SELECT 1 FROM a;\nSELECT `broken` FROM b;\n-- weight: 3\nSELECT 2 FROM c WHERE x = 'a;b';\n"
    statements = list(split_sql(text, "w.sql"))
    assert [s.query for s in statements] == ["SELECT 1 FROM a", "SELECT `broken` FROM b",
                                             "SELECT 2 FROM c WHERE x = 'a;b'"]
    assert statements[2].weight == 3


SCHEMA = """
CREATE TABLE events (id int PRIMARY KEY, account_id int NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL,
                     payload jsonb NOT NULL, amount numeric NOT NULL);
INSERT INTO events SELECT g, g % 500, (ARRAY['click', 'view', 'buy'])[1 + g % 3], now() - g * interval '1 minute',
                          jsonb_build_object('k', g % 7), g % 1000 FROM generate_series(1, 20000) g;
ANALYZE events;
"""
PREDICATES = [
    "created_at > now() - interval '{n} days'", "created_at >= date '2024-01-0{d}'", "kind = '{w}'",
    "account_id IN ({n},{d})", "payload->>'k' = '{d}'", "amount > {n}.5", "id = ANY('{{{d},{n}}}')", "1=1",
    "created_at < timestamp with time zone '2024-01-0{d} 00:00+00'", "account_id={n}",
]
TAILS = ["", " ORDER BY created_at DESC LIMIT {n}", " LIMIT {n} OFFSET {d}"]
_CONSTANT = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def pg_stat_statements_form(sql: str) -> str:
    """What pg_stat_statements keeps of ``sql``: each constant replaced by $1, $2, ... in order."""
    counter = iter(range(1, 100))
    return _CONSTANT.sub(lambda _: f"${next(counter)}", sql)


@pytest.fixture(scope="module")
def planner(db: Database):  # type: ignore[no-untyped-def]
    db.execute(SCHEMA)
    with connect(db.dsn) as conn:
        snapshot = collect(conn).snapshot
        yield WhatIf(conn, snapshot), snapshot


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(preds=st.lists(st.sampled_from(PREDICATES), min_size=1, max_size=3), tail=st.sampled_from(TAILS),
       n=st.integers(1, 9), d=st.integers(1, 9), w=st.sampled_from(["click", "buy", "x y"]))
def test_every_normalized_statement_is_planned(planner: tuple[WhatIf, Snapshot], preds: list[str], tail: str,
                                               n: int, d: int, w: str) -> None:
    whatif, snapshot = planner
    sql = ("SELECT id, kind FROM events WHERE " + " AND ".join(preds) + tail).format(n=n, d=d, w=w)
    text = plannable(pg_stat_statements_form(sql))
    prepared = whatif.prepare(text)
    plan = whatif.plan(hash(text), prepared, usage_of(text, snapshot), ())
    assert plan.cost > 0, text
