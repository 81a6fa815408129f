"""The what-if layer plans pg_stat_statements texts with ``$n`` through EXPLAIN (GENERIC_PLAN) on
PostgreSQL 16 and newer. psycopg prepares a text it has seen five times; the server then wants the
``$n`` bound ("bind message supplies 0 parameters"), so every later call of a workload statement failed.
Runs on the 16-18 servers of ``make test-matrix`` (GENERIC_PLAN does not exist before 16)."""

from __future__ import annotations

import pytest

from dbadvisor.advisor.usage import analyze as usage_of
from dbadvisor.advisor.whatif import WhatIf
from dbadvisor.dialects.postgres.catalog import collect
from dbadvisor.dialects.postgres.connection import connect
from tests.conftest import Database


def test_generic_plans_survive_psycopgs_prepare_threshold(db: Database) -> None:
    db.execute("CREATE TABLE orders (id int PRIMARY KEY, customer int, total numeric);"
               "INSERT INTO orders SELECT g, g % 100, g FROM generate_series(1, 5000) g; ANALYZE orders")
    with connect(db.dsn) as conn:
        snapshot = collect(conn).snapshot
        if snapshot.database.server_version_num < 160000:
            pytest.skip("EXPLAIN (GENERIC_PLAN) exists from PostgreSQL 16 (make test-matrix runs 16-18)")
        whatif = WhatIf(conn, snapshot)
        sql = "SELECT id, total FROM orders WHERE customer = $1 ORDER BY id LIMIT $2"
        prepared = whatif.prepare(sql)
        assert prepared.binding == "generic_plan"
        usage = usage_of(sql, snapshot)
        costs = []
        for sid in range(12):  # each a new cache key: a real EXPLAIN every time, past psycopg's threshold of 5
            costs.append(whatif.plan(sid, prepared, usage, ()).cost)
        assert len(set(costs)) == 1 and costs[0] > 0 and whatif.calls == 12
