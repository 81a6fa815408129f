"""What a plan may drop: never on a too-short statistics window, never every copy of identical indexes,
never for a reason that relies on another index the plan drops; one object is one finding. Pure logic on
findings as the checks write them; the end-to-end case runs on a real server."""

from __future__ import annotations

from typing import Any

from dbadvisor.dialects.postgres import DIALECT as PG
from dbadvisor.migrations import plan_of
from dbadvisor.model.ddl import CreateIndex, DropIndex, IndexColumn
from dbadvisor.model.findings import Finding, Severity, merge_same_fix
from tests.conftest import Database


def _drop(check: str, name: str, severity: Severity = Severity.MEDIUM, **evidence: Any) -> Finding:
    op = DropIndex("public", name, definition=f"CREATE INDEX {name} ON public.t USING btree (a)")
    return Finding(f"{check}:public.{name}", check, severity, f"{check} {name}", "d", index=f"public.{name}",
                   evidence=evidence, sql=PG.sql(op), rollback_sql=PG.sql(op.reverse()), fix=op)


def test_an_unused_drop_on_a_short_window_is_held() -> None:
    for days in (0.0, 6.9, None):
        plan = plan_of([_drop("unused_index", "t_a_idx", stats_window_days=days)])
        assert not plan.steps and "statistics window" in plan.held[0].reason
    assert plan_of([_drop("unused_index", "t_a_idx", stats_window_days=30.0)]).steps


def test_a_plan_never_drops_every_copy_of_identical_indexes() -> None:
    findings = merge_same_fix([
        _drop("duplicate_index", "t_b_idx", duplicate_of="public.t_a_idx"),
        _drop("unused_index", "t_a_idx", stats_window_days=30.0, identical_to=["public.t_b_idx"]),
        _drop("unused_index", "t_b_idx", stats_window_days=30.0, identical_to=["public.t_a_idx"]),
    ])
    assert len(findings) == 2  # t_b_idx: duplicate and unused, one finding with both reasons
    merged = next(f for f in findings if f.index == "public.t_b_idx")
    assert [a["id"] for a in merged.evidence["also"]] == ["unused_index:public.t_b_idx"]
    plan = plan_of(findings)
    assert [PG.sql(s.op) for s in plan.steps] == ['DROP INDEX CONCURRENTLY IF EXISTS "public"."t_b_idx";']
    assert plan.held[0].finding.index == "public.t_a_idx" and "last copy" in plan.held[0].reason


def test_one_index_proposed_by_three_checks_is_one_finding() -> None:
    op = CreateIndex("public", "t", "t_a_idx", (IndexColumn("a"),))
    made = [Finding(f"{c}:x", c, s, c, "d", sql=PG.sql(op), rollback_sql=PG.sql(op.reverse()), fix=op)
            for c, s in (("missing_index", Severity.MEDIUM), ("unindexed_foreign_key", Severity.HIGH),
                         ("rls_unindexed_policy_column", Severity.LOW))]
    (one,) = merge_same_fix(made)
    assert one.check == "unindexed_foreign_key" and one.severity == Severity.HIGH
    assert {a["check"] for a in one.evidence["also"]} == {"missing_index", "rls_unindexed_policy_column"}
    assert len(plan_of([one]).steps) == 1


def test_an_unused_index_serving_a_foreign_key_is_not_proposed(db: Database) -> None:
    db.execute("""
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, pad text);
        INSERT INTO parent SELECT generate_series(1, 1000);
        INSERT INTO child SELECT g, 1 + g % 1000, repeat('x', 50) FROM generate_series(1, 60000) g;
        CREATE INDEX child_parent_id_idx ON child (parent_id);
        CREATE INDEX child_pad_idx ON child (pad);
        ANALYZE;
    """)
    found = {f.index for f in db.findings("unused_index", min_size_bytes=0)}
    assert "public.child_pad_idx" in found and "public.child_parent_id_idx" not in found
