"""unindexed_foreign_key decides by what the planner can use: a partial index WHERE col IS NOT NULL
serves the foreign key's lookups (checked with the planner itself), one with another predicate does not."""

from __future__ import annotations

import psycopg

from dbadvisor.model.indexing import not_null_only
from tests.conftest import Database


def test_not_null_only_predicates() -> None:
    assert not_null_only("(parent_id IS NOT NULL)", {"parent_id"})
    assert not_null_only('(("userId" IS NOT NULL) AND (b IS NOT NULL))', {"userId", "b"})
    assert not not_null_only("(status = 'open'::text)", {"status"})
    assert not not_null_only("(other IS NOT NULL)", {"parent_id"})
    assert not not_null_only(None, {"parent_id"})


def test_a_partial_not_null_index_serves_the_foreign_key(fresh_db: Database) -> None:
    fresh_db.execute("""
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, other_id int REFERENCES parent,
                            status text);
        INSERT INTO parent SELECT generate_series(1, 1000);
        INSERT INTO child SELECT g, CASE WHEN g % 2 = 0 THEN 1 + g % 1000 END, 1 + g % 1000, 'open'
        FROM generate_series(1, 50000) g;
        CREATE INDEX child_parent_id_idx ON child (parent_id) WHERE parent_id IS NOT NULL;
        CREATE INDEX child_other_id_open_idx ON child (other_id) WHERE status = 'open';
        ANALYZE;
    """)
    found = {f.columns for f in fresh_db.findings("unindexed_foreign_key")}
    assert found == {("other_id",)}
    # The lookup the foreign key runs on a parent delete, as a generic plan: the partial index is used.
    with psycopg.connect(fresh_db.dsn, autocommit=True) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute("PREPARE fk(int) AS SELECT 1 FROM ONLY child x WHERE parent_id = $1 FOR KEY SHARE OF x")
        plan = "\n".join(str(r[0]) for r in conn.execute("EXPLAIN EXECUTE fk(7)"))
    assert "child_parent_id_idx" in plan, plan
