"""The workload index advisor on real data: what it recommends, what it refuses, and why."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from dbadvisor.advisor.advise import AdvisorOptions
from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.model.findings import Report
from tests.conftest import Database, recs
from tests.golden_advisor import KNAPSACK

pytestmark = pytest.mark.hypopg  # the index advisor's what-if costing

SCHEMA = """
CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL UNIQUE, region text NOT NULL);
INSERT INTO customers SELECT g, 'c' || g || '@x.io', (ARRAY['eu', 'us', 'apac'])[1 + g % 3]
FROM generate_series(1, 2000) g;
CREATE TABLE orders (
    id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, region text NOT NULL,
    created_at timestamptz NOT NULL, total numeric(10, 2) NOT NULL, doc jsonb NOT NULL);
INSERT INTO orders
SELECT g, 1 + g % 2000, CASE WHEN g % 200 = 0 THEN 'failed' WHEN g % 7 = 0 THEN 'pending' ELSE 'done' END,
       (ARRAY['eu', 'us', 'apac'])[1 + g % 3], now() - g * interval '1 minute', g % 500,
       jsonb_build_object('channel', (ARRAY['web', 'app', 'api'])[1 + g % 3], 'n', g)
FROM generate_series(1, 300000) g;
CREATE INDEX orders_region_created_at_idx ON orders (region, created_at);
ANALYZE;
"""


@pytest.fixture(scope="module")
def shop(db: Database) -> Database:
    db.execute(SCHEMA)
    return db


def advise(db: Database, tmp_path: Path, sql: str, **advisor: object) -> Report:
    path = tmp_path / "workload.sql"
    path.write_text(sql)
    return analyze(db.dsn, AnalyzeOptions(only=("missing_index",), workload=(path,),
                                          advisor=AdvisorOptions(**advisor)))  # type: ignore[arg-type]


def test_composite_equality_then_sort(shop: Database, tmp_path: Path) -> None:
    report = advise(shop, tmp_path, """
        -- weight: 100
        SELECT id, total FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 10;
    """)
    (f,) = recs(report).values()
    assert f.columns == ("customer_id", "created_at")
    assert "(\"customer_id\", \"created_at\" DESC)" in (f.sql or "")
    assert f.sql is not None and f.sql.startswith("CREATE INDEX CONCURRENTLY IF NOT EXISTS")
    assert f.rollback_sql is not None and f.rollback_sql.startswith("DROP INDEX CONCURRENTLY IF EXISTS")
    assert f.estimate is not None and f.estimate.kind == "planner"
    (q,) = f.evidence["queries"]
    assert q["cost_after"] < q["cost_before"] / 10
    assert f.evidence["size_bytes"] > 0 and f.evidence["what_if_calls"] > 0


def test_partial_index_for_rare_status(shop: Database, tmp_path: Path) -> None:
    report = advise(shop, tmp_path, """
        SELECT id, customer_id FROM orders WHERE status = 'failed' ORDER BY created_at LIMIT 100;
    """)
    (f,) = recs(report).values()
    assert f.evidence["predicate"] == "\"status\" = 'failed'"
    assert "WHERE \"status\" = 'failed'" in (f.sql or "")


def test_gin_only_where_a_sample_shows_the_containment_is_selective(shop: Database, tmp_path: Path) -> None:
    # One order in three is from the API: a GIN index for that would only be read instead of the table.
    common = advise(shop, tmp_path, """SELECT id FROM orders WHERE doc @> '{"channel": "api"}' LIMIT 20;""")
    assert recs(common) == {}
    assert any("in 33% or more of a sample" in s.reason for s in common.skipped), common.skipped


def test_gin_for_jsonb_containment_is_heuristic(shop: Database, tmp_path: Path) -> None:
    report = advise(shop, tmp_path, """SELECT count(*) FROM orders WHERE doc @> '{"n": 4242}';""")
    (f,) = recs(report).values()
    assert "USING gin (\"doc\" jsonb_path_ops)" in (f.sql or "")
    assert f.estimate is not None and f.estimate.kind == "heuristic"
    shop.execute("CREATE INDEX orders_doc_gin ON orders USING gin (doc)")
    try:  # an existing GIN index on the column serves @> already: nothing to recommend
        assert recs(advise(shop, tmp_path, """SELECT count(*) FROM orders WHERE doc @> '{"n": 4242}';""")) == {}
    finally:
        shop.execute("DROP INDEX orders_doc_gin")


def test_no_recommendation_when_unique_or_wider_index_serves(shop: Database, tmp_path: Path) -> None:
    report = advise(shop, tmp_path, """
        SELECT id FROM customers WHERE email = 'c5@x.io';
        SELECT count(*) FROM orders WHERE region = 'apac';  -- the prefix of (region, created_at)
        SELECT id FROM orders WHERE id = 7;
    """)
    assert recs(report) == {}


def test_unparseable_statement_is_skipped_with_reason(shop: Database, tmp_path: Path) -> None:
    report = advise(shop, tmp_path, """
        SELEC broken FROM;
        SELECT id, total FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 10;
    """)
    reasons = [s.reason for s in report.skipped if s.check == "missing_index"]
    assert len(reasons) == 1 and "SELEC broken" in reasons[0]
    assert len(recs(report)) == 1  # the rest went on


def test_budget_limits_the_set(shop: Database, tmp_path: Path) -> None:
    sql = """
        SELECT id, total FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 10;
        SELECT id FROM orders WHERE status = 'failed' ORDER BY created_at LIMIT 100;
    """
    assert len(recs(advise(shop, tmp_path, sql))) == 2
    assert recs(advise(shop, tmp_path, sql, budget_bytes=1)) == {}


def test_parameterized_statements_from_pg_stat_statements(shop: Database) -> None:
    with psycopg.connect(shop.dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        for i in range(30):
            conn.execute("SELECT id, total FROM orders WHERE customer_id = %s ORDER BY created_at DESC LIMIT 10",
                         (i,))
    report = analyze(shop.dsn, AnalyzeOptions(only=("missing_index",)))
    found = recs(report)
    assert any(f.columns[:1] == ("customer_id",) for f in found.values())
    f = next(f for f in found.values() if f.columns[:1] == ("customer_id",))
    assert f.evidence["queries"][0]["parameters"] in {"generic", "representative", "generic_plan"}
    assert "$1" in f.evidence["queries"][0]["query"]


def test_expression_index_for_lower(shop: Database, tmp_path: Path) -> None:
    report = advise(shop, tmp_path, "SELECT id FROM customers WHERE lower(email) = 'c5@x.io';")
    (f,) = recs(report).values()
    assert f.columns == ("lower(email)",)
    assert "(lower(email))" in (f.sql or "")
    shop.execute((f.sql or "").replace("CONCURRENTLY ", ""))  # the DDL is valid on the real server


def test_like_with_percent_is_costed_not_skipped(shop: Database, tmp_path: Path) -> None:
    report = advise(shop, tmp_path, "SELECT id FROM orders WHERE customer_id = 7 AND status LIKE '%ail%';")
    assert not [s for s in report.skipped if s.check == "missing_index"]
    assert any(f.columns[:1] == ("customer_id",) for f in recs(report).values())


def test_join_column_on_the_probed_side(shop: Database, tmp_path: Path) -> None:
    # The filter is on customers; the index that pays is on the other side of the join.
    report = advise(shop, tmp_path, """
        -- weight: 50
        SELECT o.id, o.total FROM customers c JOIN orders o ON c.id = o.customer_id WHERE c.email = 'c5@x.io';
    """)
    assert any(f.table == "public.orders" and f.columns[:1] == ("customer_id",) for f in recs(report).values())


def test_index_relevance_keys_the_what_if_cache(shop: Database) -> None:
    from dbadvisor.advisor.candidates import Candidate
    from dbadvisor.advisor.usage import analyze as usage_of
    from dbadvisor.model.ddl import IndexColumn

    snapshot = shop.analyze(only=("missing_primary_key",)).snapshot
    usage = usage_of("SELECT id FROM orders WHERE status = 'failed'", snapshot)
    on = Candidate("public", "orders", (IndexColumn("status"),))
    off = Candidate("public", "orders", (IndexColumn("region"),))
    covering = Candidate("public", "orders", (IndexColumn("region"),), include=("id", "status"))
    assert on.relevant_to(usage) and covering.relevant_to(usage)  # searched lead key; full index-only scan
    assert not off.relevant_to(usage)  # a plan cannot use an index on columns it does not search or read
    assert not Candidate("public", "orders", (IndexColumn("region"),), include=("status",)).relevant_to(usage)
    assert not Candidate("public", "customers", (IndexColumn("id"),)).relevant_to(usage)


def test_small_indexes_are_traded_for_one_worth_more(shop: Database, tmp_path: Path) -> None:
    # Per byte the three lookups on small tables pay best, so a plain greedy takes them first and then
    # the range index on the big table, worth more than all three, no longer fits the budget.
    shop.execute(KNAPSACK + "ANALYZE knap_big, knap_1, knap_2, knap_3;")
    with psycopg.connect(shop.dsn) as conn:
        big, small = (conn.execute("SELECT hypopg_relation_size(indexrelid) FROM hypopg_create_index(%s)",
                                   (f"CREATE INDEX ON {t} (k)",)).fetchone()[0]  # type: ignore[index]
                      for t in ("knap_big", "knap_1"))
    sql = "SELECT count(*) FROM knap_big WHERE k BETWEEN 1 AND 1000;\n" + "".join(
        f"SELECT * FROM knap_{i} WHERE k = 7;\n" for i in (1, 2, 3))
    # Room for the big index and one small one; restarts off, so only the trade can find it.
    found = recs(advise(shop, tmp_path, sql, budget_bytes=big + small + 1000, restarts=0, weight="cost"))
    assert {f.table for f in found.values()} >= {"public.knap_big"}
    assert len(found) == 2
