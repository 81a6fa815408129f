from __future__ import annotations

import pytest

from dbadvisor.checks.policy_sql import compared_columns, parse, wrap_calls
from tests.conftest import Database


@pytest.fixture(scope="module")
def rls(db: Database) -> Database:
    db.execute("""
        CREATE SCHEMA auth;
        CREATE FUNCTION auth.uid() RETURNS int LANGUAGE sql STABLE AS $$ SELECT 7 $$;
        CREATE TABLE docs (id int PRIMARY KEY, owner_id int, tenant_id int, title text);
        INSERT INTO docs SELECT g, g % 100, g % 10, 't' FROM generate_series(1, 5000) g;
        CREATE INDEX docs_tenant_idx ON docs (tenant_id);
        ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
        CREATE POLICY per_row ON docs FOR SELECT USING (owner_id = auth.uid());
        CREATE POLICY once ON docs FOR UPDATE USING (tenant_id = (SELECT auth.uid()))
            WITH CHECK (tenant_id = (SELECT auth.uid()));
        CREATE POLICY settings ON docs FOR DELETE
            USING (owner_id = current_setting('app.user_id')::int AND lower(title) = 't');
        ANALYZE;
    """)
    return db


def test_per_row_function(rls: Database) -> None:
    found = {f.id: f for f in rls.findings("rls_per_row_function")}
    assert set(found) == {"rls_per_row_function:public.docs.per_row", "rls_per_row_function:public.docs.settings"}
    f = found["rls_per_row_function:public.docs.per_row"]
    assert f.sql == 'ALTER POLICY "per_row" ON "public"."docs" USING (owner_id = (SELECT auth.uid()));'
    rls.execute(f.sql)
    assert "rls_per_row_function:public.docs.per_row" not in {x.id for x in rls.findings("rls_per_row_function")}
    rls.execute(f.rollback_sql or "")
    assert len(rls.findings("rls_per_row_function")) == 2
    settings = found["rls_per_row_function:public.docs.settings"]
    rls.execute(settings.sql or "")  # the rewritten expression is valid SQL


def test_unindexed_policy_column(rls: Database) -> None:
    found = {f.columns: f for f in rls.findings("rls_unindexed_policy_column")}
    assert set(found) == {("owner_id",)}  # tenant_id has an index; title is compared through lower()
    f = found[("owner_id",)]
    assert f.sql == 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "docs_owner_id_idx" ON "public"."docs" ("owner_id");'


def test_policy_sql_helpers() -> None:
    tree = parse("(a = f()) AND (b IN (SELECT x FROM y WHERE z = g()))")
    assert tree is not None
    assert wrap_calls(tree) == "(a = (SELECT f())) AND (b IN (SELECT x FROM y WHERE z = g()))"
    assert compared_columns(tree) == ["a", "b"]
    assert parse("this is not sql ((") is None
