from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dbadvisor.dialects.postgres import DIALECT as PG
from dbadvisor.dialects.postgres import concurrent_definition
from dbadvisor.model.ddl import (
    NAMEDATALEN,
    CreateIndex,
    DropIndex,
    IndexColumn,
    SetTableOptions,
    index_name,
)

EVIL = 'a"; drop table x;--'


def test_create_index_quotes_and_reverses() -> None:
    op = CreateIndex("public", EVIL, "evil_idx", (IndexColumn("Chat Id"), IndexColumn("created_at", descending=True)),
                     include=("id",), where="status = 'open'")
    assert PG.sql(op) == (
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "evil_idx" ON "public"."a""; drop table x;--" '
        '("Chat Id", "created_at" DESC) INCLUDE ("id") WHERE status = \'open\';'
    )
    assert not PG.transactional(op)
    assert PG.sql(op.reverse()) == 'DROP INDEX CONCURRENTLY IF EXISTS "public"."evil_idx";'


def test_gin_expression_index() -> None:
    op = CreateIndex("s", "t", "t_doc_idx", (IndexColumn(column="doc", opclass="jsonb_path_ops"),), method="gin")
    assert PG.sql(op) == (
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "t_doc_idx" ON "s"."t" USING gin ("doc" jsonb_path_ops);'
    )
    expr = CreateIndex("s", "t", "t_lower_idx", (IndexColumn(expression="lower(email)"),), concurrently=False)
    assert "(lower(email))" in PG.sql(expr) and PG.transactional(expr)


def test_drop_index_reverse_rebuilds_concurrently() -> None:
    op = DropIndex("public", "i", definition="CREATE UNIQUE INDEX i ON public.t USING btree (a)")
    rev = op.reverse()
    assert rev is not None
    assert PG.sql(rev) == "CREATE UNIQUE INDEX CONCURRENTLY i ON public.t USING btree (a);"
    assert concurrent_definition("CREATE INDEX j ON t (a)") == "CREATE INDEX CONCURRENTLY j ON t (a)"


def test_table_options_reverse_restores_previous() -> None:
    op = SetTableOptions("public", "t", {"autovacuum_vacuum_scale_factor": "0.01", "fillfactor": "80"},
                         previous={"fillfactor": "90"})
    assert PG.sql(op) == 'ALTER TABLE "public"."t" SET (autovacuum_vacuum_scale_factor = 0.01, fillfactor = 80);'
    assert PG.sql(op.reverse()) == (
        'ALTER TABLE "public"."t" RESET (autovacuum_vacuum_scale_factor);\n'
        'ALTER TABLE "public"."t" SET (fillfactor = 90);'
    )


@given(st.text(min_size=1, max_size=80), st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=4))
def test_index_name_is_deterministic_and_short(table: str, cols: list[str]) -> None:
    name = index_name(table, tuple(cols))
    assert name == index_name(table, tuple(cols))
    assert len(name.encode()) <= NAMEDATALEN
    assert name.endswith("_idx")


def test_operations_round_trip_through_the_report() -> None:
    from dbadvisor.model.ddl import (
        AddIdentityPrimaryKey,
        AddPrimaryKeyUsingIndex,
        AlterColumnType,
        AlterPolicy,
        AlterSequenceType,
        AlterSystemSet,
        Batch,
        CreateExtension,
        ReindexIndex,
        ResetTableOptions,
        VacuumTable,
        operation_from_dict,
    )

    ops = [
        CreateIndex("public", EVIL, "evil_idx", (IndexColumn("Chat Id", descending=True, nulls_first=True),
                                                 IndexColumn(expression="lower(email)"),
                                                 IndexColumn("doc", opclass="jsonb_path_ops")),
                    method="gin", include=("id",), where="status = 'a:b%'"),
        DropIndex("s", EVIL, definition="CREATE INDEX x ON public.t USING btree (a)"),
        ReindexIndex("s", "i", concurrently=False),
        SetTableOptions("public", EVIL, {"fillfactor": "90"}, {"fillfactor": "100"}),
        ResetTableOptions("public", "t", ("fillfactor",), {"autovacuum_enabled": "true"}),
        VacuumTable("public", EVIL),
        AddPrimaryKeyUsingIndex("public", EVIL, "t_pkey", "t_id_key",
                                "CREATE UNIQUE INDEX t_id_key ON public.t USING btree (id)"),
        AddIdentityPrimaryKey("public", EVIL, "id"),
        Batch((AlterColumnType("public", EVIL, "id", "bigint", "integer"),
               AlterSequenceType("public", "t_id_seq", "bigint", "integer"))),
        AlterPolicy("public", EVIL, "p", "(owner = ( SELECT app_uid() AS app_uid))", None, "(owner = app_uid())"),
        CreateExtension("pg_stat_statements"),
        AlterSystemSet("shared_preload_libraries", "pg_stat_statements", None, reload=False, restart=True),
        AlterSystemSet("autovacuum", "on", "off"),
    ]
    for op in ops:
        data = PG.fix_dict(op)
        assert data["sql"] == PG.sql(op) and data["transactional"] == PG.transactional(op)
        assert operation_from_dict(data) == op
        reverse = op.reverse()
        if reverse is not None:  # reverses are read back from the history the same way
            assert operation_from_dict(reverse.to_dict()) == reverse


def test_unknown_operation_is_refused() -> None:
    import pytest

    from dbadvisor.model.ddl import operation_from_dict

    with pytest.raises(ValueError, match="unknown operation"):
        operation_from_dict({"op": "drop_database"})
