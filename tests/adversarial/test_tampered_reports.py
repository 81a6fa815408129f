"""Reports are data, not code: a report edited by hand (or by an attacker) either reads back as exactly
the operations it shows, or is refused. Pure logic, no server: the operations are what would run."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbadvisor.dialects.postgres import DIALECT as PG
from dbadvisor.errors import UsageError
from dbadvisor.migrations import plan_of
from dbadvisor.model.ddl import (
    OPERATIONS,
    CreateIndex,
    DropIndex,
    IndexColumn,
    Operation,
    PartitionTable,
    ReindexIndex,
    SetRetention,
    SetTableOptions,
)
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.sources import saved_report

EVIL = 'a"; drop table x;--'
PAYLOADS = ["1000); DROP TABLE victim; --", "x'; DROP TABLE victim; --", "0.1) ; DROP TABLE victim",
            "a /* */ b", "true); SELECT pg_terminate_backend(1); --", "(SELECT 1)", "1 -- c", "$$;$$", EVIL,
            "x\x00y", "", "gin; DROP TABLE victim", "lower(email)) ; DROP TABLE victim; (", "ON", 1, None, [], {}]


def _findings() -> list[Finding]:
    ops = [
        CreateIndex("public", "events", "events_account_id_idx",
                    (IndexColumn("account_id"), IndexColumn(expression="lower(kind)", descending=True),
                     IndexColumn("payload", opclass="text_pattern_ops")),
                    include=("id",), where="kind = 'buy'"),
        DropIndex("public", "events_kind_idx", definition="CREATE INDEX events_kind_idx ON public.events USING "
                  "btree (kind)"),
        ReindexIndex("public", "events_pkey"),
        SetTableOptions("public", "events", {"autovacuum_vacuum_scale_factor": "0.01"},
                        {"autovacuum_vacuum_scale_factor": "0.2"}),
        PartitionTable("public", "events", "created_at", "1 month", "2026-01-01", 4, ("id", "created_at"), ("id",),
                       "events_pkey", ("id", "account_id", "created_at"),
                       ("CREATE INDEX events_kind_idx ON public.events USING btree (kind)",),
                       ("events_account_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id)",),
                       partman_schema="partman", cron=True),
        SetRetention("public", "events", "created_at", "90 days"),
    ]
    out = []
    for i, op in enumerate(ops):
        reverse = op.reverse()
        out.append(Finding(f"c{i}:s", f"c{i}", Severity.MEDIUM, "t", "d", sql=PG.sql(op),
                           rollback_sql=PG.sql(reverse) if reverse else None, fix=op))
    return out


def _report(findings: list[Finding]) -> dict[str, Any]:
    return {"tool": {"name": "dbadvisor"}, "findings": [f.to_dict(PG.fix_dict) for f in findings]}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every leaf of a fix, as a path of keys and indexes."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, (*prefix, k))] or [prefix]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, (*prefix, i))] or [prefix]
    return [prefix]


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


_QUOTED = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|\$([A-Za-z_]*)\$.*?\$\1\$', re.S)


def _one_statement_each(op: Operation) -> bool:
    """Each statement of the operation, its quoted names and string literals taken out, has one trailing
    semicolon and no comment: nothing from a field escaped its quotes."""
    for statement, _ in PG.statements(op):
        bare = _QUOTED.sub("x", statement)
        if bare.count(";") != 1 or not bare.rstrip().endswith(";") or "--" in bare or "/*" in bare:
            return False
    return True


BASE = _report(_findings())
LEAVES = [(i, ("fix", *p)) for i, f in enumerate(BASE["findings"]) for p in _paths(f["fix"]) if p]
TOP = [(i, (k,)) for i in range(len(BASE["findings"])) for k in ("sql", "rollback_sql")]


def _tamper(where: tuple[int, tuple[Any, ...]], payload: Any, also_sql: bool) -> dict[str, Any]:
    index, path = where
    doc = copy.deepcopy(BASE)
    finding = doc["findings"][index]
    _set(finding, path, payload)
    if also_sql and path[0] == "fix":
        _rerender(finding)
    return doc


def _rerender(finding: dict[str, Any]) -> None:
    """The careful attacker also rewrites the SQL the report shows to what the edited fields render."""
    fields = {k: v for k, v in finding["fix"].items() if k not in ("sql", "reverse_sql", "transactional")}
    cls = OPERATIONS.get(str(fields.get("op")))
    if cls is None:
        return
    try:
        args = {k: v for k, v in fields.items() if k != "op"}
        if "columns" in args:
            args["columns"] = tuple(IndexColumn(**c) for c in args["columns"])
        args = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
        op = cls(**args)  # built without validation, as a forger would
        rendered = PG.fix_dict(op)
    except Exception:
        return
    finding["fix"] = rendered
    finding["sql"], finding["rollback_sql"] = rendered["sql"], rendered["reverse_sql"]


def _check(doc: dict[str, Any], tmp: Path) -> None:
    report = tmp / "r.json"
    report.write_text(json.dumps(doc))
    try:
        saved = saved_report.load(report)
    except UsageError:
        return  # refused: nothing runs
    plan = plan_of(saved.actionable())
    shown = {f["id"]: f["sql"] for f in doc["findings"]}
    for step in plan.steps:
        assert PG.sql(step.op) == shown[step.finding.id]  # what runs is what the report shows
        assert _one_statement_each(step.op), PG.sql(step.op)


def test_every_field_tampered_with_every_payload(tmp_path: Path) -> None:
    for where in LEAVES + TOP:
        for payload in PAYLOADS:
            for also_sql in (False, True):
                _check(_tamper(where, payload, also_sql), tmp_path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(LEAVES + TOP), payload=st.text(max_size=40), also_sql=st.booleans())
def test_a_tampered_report_runs_only_what_it_shows(tmp_path: Path, where: tuple[int, tuple[Any, ...]],
                                                   payload: str, also_sql: bool) -> None:
    _check(_tamper(where, payload, also_sql), tmp_path)


@pytest.mark.parametrize("field,value", [
    (("fix", "options", "autovacuum_vacuum_scale_factor"), "1000); DROP TABLE victim; --"),
    (("fix", "where"), "true; DROP TABLE victim"),
    (("fix", "columns", 1, "expression"), "lower(kind)) ; DROP TABLE victim; --"),
    (("fix", "method"), "gin; DROP TABLE victim"),
    (("fix", "columns", 2, "opclass"), "text_pattern_ops; DROP TABLE victim"),
    (("fix", "definition"), "CREATE INDEX x ON t (a); DROP TABLE victim"),
    (("fix", "op"), "raw_sql"),
])
def test_known_injections_are_refused(tmp_path: Path, field: tuple[Any, ...], value: str) -> None:
    doc = copy.deepcopy(BASE)
    target = {"options": 3, "where": 0, "columns": 0, "method": 0, "definition": 1, "op": 0}[field[1]]
    finding = doc["findings"][target]
    _set(finding, field, value)
    _rerender(finding)  # even with the shown SQL rewritten to match, a field outside its schema is refused
    report = tmp_path / "r.json"
    report.write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="refused"):
        saved_report.load(report)


def test_sql_edited_apart_from_its_fix_is_refused(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["findings"][0]["sql"] = "DROP TABLE victim;"
    report = tmp_path / "r.json"
    report.write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="not what its fix renders"):
        saved_report.load(report)


def test_a_report_that_is_not_utf8_is_one_clear_line(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_bytes(b'{"tool": {"name": "dbadvisor"}, "findings": ["\xff\xfe"]}')
    with pytest.raises(UsageError, match="not UTF-8"):
        saved_report.load(report)
