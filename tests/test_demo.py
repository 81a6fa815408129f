"""The embedded demo end to end: private server, ~2M rows, workload, analysis, three reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbadvisor.demo.run import DemoResult, run_demo
from dbadvisor.model.findings import reasons

pytestmark = pytest.mark.hypopg  # the index advisor's what-if costing


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("demo"))


def test_writes_three_reports(demo: DemoResult) -> None:
    assert sorted(p.name for p in demo.paths) == ["report.html", "report.json", "report.md"]
    doc = json.loads(Path(next(p for p in demo.paths if p.suffix == ".json")).read_text())
    assert doc["database"]["name"] == "chatbot"
    rows = sum(t.rows for t in demo.report.snapshot.tables)
    assert rows >= 1_500_000


def test_planted_problems_found(demo: DemoResult) -> None:
    ids = {i for f in demo.report.findings for i, _, _ in reasons(f)}  # merged findings name every reason
    expected = {
        "missing_primary_key:public.audit_log",
        "unindexed_foreign_key:public.messages.messages_chat_id_fkey",
        "unindexed_foreign_key:public.llm_calls.llm_calls_message_id_fkey",
        "duplicate_index:public.idx_chats_bot",
        "redundant_index:public.chats_bot_id_idx",
        "unused_index:public.llm_calls_latency_ms_idx",
        "invalid_index:public.webhook_events_event_type_key",
        "sequence_exhaustion:public.webhook_events_id_seq",
        "table_bloat:public.webhook_events",
        "autovacuum_settings:public.webhook_events",
        "seq_scan_heavy_table:public.messages",
        "rls_per_row_function:public.chats.chats_owner",
        "rls_unindexed_policy_column:public.chats.user_id",
    }
    assert expected <= ids, expected - ids


def test_workload_recorded(demo: DemoResult) -> None:
    assert demo.report.capabilities.has("pg_stat_statements")


def test_advisor_recommendations_with_costs(demo: DemoResult) -> None:
    recs = [f for f in demo.report.findings if f.check == "missing_index" and f.estimate
            and f.estimate.kind in ("planner", "measured")]  # measured ones keep the planner's figures
    assert any(f.table == "public.messages" and f.columns[:1] == ("chat_id",) for f in recs)
    for f in recs:
        assert f.evidence["queries"] and all(q["cost_after"] < q["cost_before"] for q in f.evidence["queries"])
    md = next(p for p in demo.paths if p.suffix == ".md").read_text()
    assert "Statements it helps" in md


def test_ends_with_measured_figures_and_migrations(demo: DemoResult) -> None:
    measured = [f for f in demo.report.findings if f.estimate and f.estimate.kind == "measured"
                and "verification" in f.evidence]
    assert demo.measured == len(measured) >= 1
    chat = next(f for f in measured if f.table == "public.messages" and f.columns[:1] == ("chat_id",))
    figures = chat.estimate.figures  # type: ignore[union-attr]
    assert figures["pays_off"] and figures["after_ms"] < figures["before_ms"] and figures["index_size_bytes"] > 0
    md = next(p for p in demo.paths if p.name == "report.md").read_text()
    assert "Measured with EXPLAIN (ANALYZE, BUFFERS)" in md
    names = {p.name for p in demo.migrations}
    assert {"up.sql", "down.sql"} <= names and any(n.endswith(".py") for n in names)


def test_the_sqlite_demo_is_analysed_too(demo: DemoResult) -> None:
    out = demo.paths[0].parent / "sqlite"
    doc = json.loads((out / "report.json").read_text())
    assert doc["database"]["dialect"] == "sqlite"
    ids = {f["id"] for f in doc["findings"]}
    assert {"missing_index:main.messages_json_extract_meta_kind_idx", "redundant_index:main.messages_bot_idx",
            "sqlite_rowid_alias:main.holdings", "sqlite_foreign_keys:bots.db"} <= ids
    assert (out / "migrations" / "up.sql").exists() and (out / "report.md").exists()
