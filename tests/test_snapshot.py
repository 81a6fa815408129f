"""Catalog snapshot: every object kind the model holds, read from a real server."""

from __future__ import annotations

import psycopg
import pytest

from dbadvisor.dialects.postgres.catalog import Collected, collect
from dbadvisor.dialects.postgres.connection import connect
from dbadvisor.model.catalog import ConstraintType, TableKind
from tests.conftest import Database

EVIL = 'a"; drop table x;--'

SCHEMA = f"""
CREATE SCHEMA app;
CREATE SCHEMA "Billing Dept";
CREATE TABLE app.accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    doc jsonb,
    score int GENERATED ALWAYS AS (length(email)) STORED
);
CREATE TABLE "Billing Dept"."{EVIL.replace('"', '""')}" (
    "Id" serial PRIMARY KEY,
    account_id bigint REFERENCES app.accounts (id) ON DELETE CASCADE ON UPDATE SET NULL,
    "Amount" numeric(12, 2),
    note text COLLATE "C"
);
CREATE TABLE app.events (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    account_id bigint,
    payload jsonb,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE app.bookings (id int PRIMARY KEY, during tsrange, EXCLUDE USING gist (during WITH &&));
CREATE MATERIALIZED VIEW app.account_stats AS SELECT status, count(*) AS n FROM app.accounts GROUP BY status;
CREATE UNIQUE INDEX account_stats_status_idx ON app.account_stats (status);
CREATE INDEX accounts_lower_email_idx ON app.accounts (lower(email) DESC NULLS LAST);
CREATE INDEX accounts_active_idx ON app.accounts (id) INCLUDE (email) WHERE status = 'active';
CREATE INDEX accounts_doc_idx ON app.accounts USING gin (doc jsonb_path_ops);
CREATE INDEX accounts_email_pattern_idx ON app.accounts (email text_pattern_ops);
CREATE SEQUENCE app.invoice_no AS integer;
ALTER TABLE app.accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON app.accounts FOR SELECT TO PUBLIC USING (email = current_user);
ALTER TABLE app.accounts SET (autovacuum_vacuum_scale_factor = 0.02, fillfactor = 90);
INSERT INTO app.accounts (email, status)
SELECT 'u' || g || '@x.io', CASE WHEN g % 10 = 0 THEN 'closed' ELSE 'active' END FROM generate_series(1, 2000) g;
INSERT INTO app.events SELECT g, '2025-06-01'::timestamptz + g * interval '1 hour', 1 + g % 2000, '{{}}'
FROM generate_series(1, 1000) g;
SELECT nextval('app.invoice_no');
ANALYZE;
"""


@pytest.fixture(scope="module")
def collected(db: Database) -> Collected:
    db.execute("SELECT pg_stat_reset()")
    db.execute(SCHEMA)
    with connect(db.dsn) as conn:
        return collect(conn)


def test_schemas(collected: Collected) -> None:
    names = {s.name for s in collected.snapshot.schemas}
    assert {"app", "Billing Dept", "public"} <= names
    assert "pg_catalog" not in names


def test_table_kinds_and_partitions(collected: Collected) -> None:
    snap = collected.snapshot
    kinds = {t.qualname: t.kind for t in snap.tables}
    assert kinds["app.events"] == TableKind.PARTITIONED
    assert kinds["app.events_2025"] == TableKind.PARTITION
    assert kinds["app.account_stats"] == TableKind.MATVIEW
    assert kinds["app.accounts"] == TableKind.PLAIN
    events = snap.table(("app", "events"))
    part = snap.table(("app", "events_2025"))
    assert events is not None and part is not None
    assert events.partition_key == "RANGE (created_at)"
    assert part.parent == "app.events"
    assert part.partition_bound is not None and "FOR VALUES FROM" in part.partition_bound
    partitions = [t for t in snap.tables if t.parent == "app.events"]
    # A partitioned parent holds nothing itself: its size is its partitions' (it showed 0).
    assert events.total_bytes == sum(t.total_bytes for t in partitions) > 0


def test_table_sizes_and_counters(collected: Collected) -> None:
    t = collected.snapshot.table(("app", "accounts"))
    assert t is not None
    assert t.row_estimate == 2000
    assert t.heap_bytes > 0 and t.index_bytes > 0 and t.total_bytes >= t.heap_bytes + t.index_bytes
    assert t.toast_bytes > 0  # jsonb/text columns give it a TOAST table
    assert t.n_live_tup == 2000 and t.n_tup_ins == 2000
    assert t.last_analyze is not None
    assert t.reloptions == {"autovacuum_vacuum_scale_factor": "0.02", "fillfactor": "90"}
    assert t.rls_enabled and not t.rls_forced


def test_quoted_identifiers_survive(collected: Collected) -> None:
    snap = collected.snapshot
    t = snap.table(("Billing Dept", EVIL))
    assert t is not None
    cols = {c.name: c for c in snap.columns_of(t.key)}
    assert set(cols) == {"Id", "account_id", "Amount", "note"}
    assert cols["Id"].serial_sequence is not None and cols["Id"].default is not None
    assert cols["note"].collation == "C"
    assert cols["Amount"].type == "numeric(12,2)"


def test_columns_identity_generated_and_stats(collected: Collected) -> None:
    snap = collected.snapshot
    cols = {c.name: c for c in snap.columns_of(("app", "accounts"))}
    assert cols["id"].identity == "always" and cols["id"].serial_sequence == "app.accounts_id_seq"
    assert cols["score"].generated
    assert cols["status"].default == "'active'::text"
    stats = cols["status"].stats
    assert stats is not None
    assert stats.most_common_vals == ("active", "closed")
    assert stats.most_common_freqs[0] == pytest.approx(0.9, abs=0.01)
    assert stats.null_frac == 0
    email = cols["email"].stats
    assert email is not None and email.n_distinct == -1 and email.histogram_bounds
    assert cols["doc"].stats is not None and cols["doc"].stats.null_frac == 1


def test_indexes(collected: Collected) -> None:
    idx = {i.name: i for i in collected.snapshot.indexes}
    lower = idx["accounts_lower_email_idx"]
    assert lower.keys[0].is_expression and lower.keys[0].expression == "lower(email)"
    assert lower.keys[0].descending and not lower.keys[0].nulls_first
    partial = idx["accounts_active_idx"]
    assert partial.predicate == "status = 'active'::text" and partial.include == ("email",)
    assert partial.key_columns == ("id",)
    gin = idx["accounts_doc_idx"]
    assert gin.method == "gin" and gin.keys[0].opclass == "jsonb_path_ops"
    assert idx["accounts_email_pattern_idx"].keys[0].opclass == "text_pattern_ops"
    pkey = idx["accounts_pkey"]
    assert pkey.is_primary and pkey.constraint == "accounts_pkey"
    assert pkey.constraint_type == ConstraintType.PRIMARY_KEY
    assert idx["accounts_email_key"].constraint_type == ConstraintType.UNIQUE
    excl = next(i for i in idx.values() if i.table == "bookings" and i.is_exclusion)
    assert excl.method == "gist" and excl.constraint_type == ConstraintType.EXCLUSION
    assert idx["account_stats_status_idx"].table == "account_stats"
    assert all(i.is_valid and i.is_ready for i in idx.values())
    assert idx["accounts_pkey"].size_bytes > 0
    assert "events_pkey" in idx and idx["events_pkey"].table == "events"


def test_constraints(collected: Collected) -> None:
    cons = {(c.table, c.name): c for c in collected.snapshot.constraints}
    fk = next(c for c in cons.values() if c.type == ConstraintType.FOREIGN_KEY)
    assert fk.table == EVIL and fk.columns == ("account_id",)
    assert (fk.ref_schema, fk.ref_table, fk.ref_columns) == ("app", "accounts", ("id",))
    assert fk.on_delete == "cascade" and fk.on_update == "set null"
    check = next(c for c in cons.values() if c.type == ConstraintType.CHECK)
    assert "status" in check.definition
    assert cons[("events", "events_pkey")].columns == ("id", "created_at")
    assert cons[("events_2025", "events_2025_pkey")].inherited
    assert cons[("accounts", "accounts_email_key")].index == "app.accounts_email_key"


def test_policies_and_sequences(collected: Collected) -> None:
    snap = collected.snapshot
    (policy,) = snap.policies_of(("app", "accounts"))
    assert policy.name == "own_rows" and policy.command == "SELECT" and policy.permissive
    assert policy.roles == ("public",) and policy.using is not None and "CURRENT_USER" in policy.using
    seqs = {s.qualname: s for s in snap.sequences}
    assert seqs["app.invoice_no"].data_type == "integer" and seqs["app.invoice_no"].last_value == 1
    assert seqs["app.accounts_id_seq"].owned_by == "app.accounts.id"
    assert seqs["app.accounts_id_seq"].last_value == 2000


def test_database_info_and_settings(collected: Collected) -> None:
    db = collected.snapshot.database
    assert db.dialect == "postgresql" and db.server_version_num >= 150000
    assert db.size_bytes > 0
    assert db.stats_reset is not None  # pg_stat_reset() was called
    assert "pg_stat_statements" in (collected.snapshot.setting("shared_preload_libraries") or "").split(",")
    assert collected.problems == ()


def test_session_is_read_only(db: Database) -> None:
    with connect(db.dsn) as conn:
        row = conn.execute(
            "SELECT current_setting('default_transaction_read_only'), current_setting('application_name'),"
            " current_setting('statement_timeout'), current_setting('lock_timeout')"
        ).fetchone()
        assert row == ("on", "dbadvisor", "30s", "2s")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE should_not_exist (id int)")
