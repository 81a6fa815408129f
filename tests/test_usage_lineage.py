"""What a statement asks of each table, through sqlglot's scopes: a column named by the alias of a
derived table, a CTE or a UNION stands for the columns of the tables inside it, and a correlated
subquery's columns belong to the enclosing query's tables. Pure logic on a recorded catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbadvisor.advisor.usage import analyze
from dbadvisor.model.catalog import Snapshot
from dbadvisor.sources import snapshot as snapshots

ORDERS, CUSTOMERS = ("public", "orders"), ("public", "customers")


@pytest.fixture(scope="module")
def catalog() -> Snapshot:
    return snapshots.load(Path(__file__).parent / "fixtures" / "golden" / "snapshot.json").snapshot


def test_a_join_through_a_union_all_alias_reaches_every_branch(catalog: Snapshot) -> None:
    usage = analyze("""
        SELECT c.region, x.total FROM customers c
        JOIN (SELECT customer_id, total FROM orders WHERE status = 'done'
              UNION ALL SELECT o.customer_id, o.total FROM orders o WHERE o.status = 'failed') x
          ON x.customer_id = c.id""", catalog)
    assert "customer_id" in usage.tables[ORDERS].join and "id" in usage.tables[CUSTOMERS].join
    assert "total" in usage.tables[ORDERS].read


def test_a_cte_column_under_another_name(catalog: Snapshot) -> None:
    usage = analyze("""
        WITH recent AS (SELECT customer_id AS cid, total FROM orders WHERE created_at > now() - interval '1 day')
        SELECT c.email, r.total FROM customers c JOIN recent r ON r.cid = c.id""", catalog)
    assert usage.tables[ORDERS].join == ["customer_id"]
    assert "created_at" in usage.tables[ORDERS].range


def test_a_self_join_inside_exists_is_a_join(catalog: Snapshot) -> None:
    usage = analyze("""
        SELECT o1.id FROM orders o1
        WHERE EXISTS (SELECT 1 FROM orders o2 WHERE o2.customer_id = o1.customer_id AND o2.id <> o1.id)
          AND NOT EXISTS (SELECT 1 FROM orders o3 WHERE o3.customer_id = o1.customer_id AND o3.status = 'failed')""",
                    catalog)
    orders = usage.tables[ORDERS]
    assert "customer_id" in orders.join and "status" in orders.equality and orders.constants["status"] == "failed"


def test_a_correlated_column_belongs_to_the_enclosing_query(catalog: Snapshot) -> None:
    usage = analyze("""
        SELECT c.id FROM customers c
        WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND total > 100)""", catalog)
    assert usage.tables[ORDERS].join == ["customer_id"] and usage.tables[CUSTOMERS].join == ["id"]
    assert "total" in usage.tables[ORDERS].range  # unqualified, and only orders has it


def test_plain_statements_read_as_before(catalog: Snapshot) -> None:
    usage = analyze("SELECT id, total FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 10", catalog)
    orders = usage.tables[ORDERS]
    assert orders.equality == ["customer_id"] and orders.order == [("created_at", True)] and usage.has_limit
