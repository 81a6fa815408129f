"""``dbadvisor verify sqlite:...``: a report's index recommendations measured again on a private copy of
the file (no scratch server needed): each index built alone inside a savepoint, the statements it is
meant to help timed before and after (median of ``runs``) and their plans read, then rolled back. One that
does not make them ``min_gain`` faster, or that their plans do not use, is demoted, as on PostgreSQL."""

from __future__ import annotations

import dataclasses
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from dbadvisor import __version__
from dbadvisor.dialects.postgres.scratch import ScratchBuild
from dbadvisor.dialects.sqlite import DIALECT, explain
from dbadvisor.dialects.sqlite.catalog import collect
from dbadvisor.dialects.sqlite.connection import open_copy, open_read_only
from dbadvisor.model.ddl import CreateIndex
from dbadvisor.model.findings import Estimate, Finding, Report, Severity, Skipped, StatementEvidence
from dbadvisor.sources import saved_report
from dbadvisor.verify.run import VerifyOptions, VerifyResult


def _timed(conn: sqlite3.Connection, sql: str, runs: int) -> tuple[float, str]:
    return explain.measure(conn, sql, runs), explain.plan(conn, sql)


def verify_finding(conn: sqlite3.Connection, finding: Finding, opts: VerifyOptions) -> Finding | str:
    op = finding.fix
    assert isinstance(op, CreateIndex)
    statements = [q for q in StatementEvidence.all_of(finding) if q.query.lstrip().lower().startswith("select")]
    if not statements:
        return "no reading statements to measure"
    before = [_timed(conn, q.bound_query or q.query, opts.runs) for q in statements]
    conn.execute("SAVEPOINT dbadvisor_verify")
    try:
        for statement, _ in DIALECT.statements(dataclasses.replace(op, concurrently=False)):
            conn.execute(statement)
        size = explain.index_bytes(conn, op.name)
        after = [_timed(conn, q.bound_query or q.query, opts.runs) for q in statements]
    except sqlite3.Error as exc:
        return f"index could not be built: {exc}"
    finally:
        conn.execute("ROLLBACK TO dbadvisor_verify")
        conn.execute("RELEASE dbadvisor_verify")
    weighted_before = sum(q.calls * b[0] for q, b in zip(statements, before, strict=True))
    weighted_after = sum(q.calls * a[0] for q, a in zip(statements, after, strict=True))
    used = any(explain.plan_uses(a[1], op.name) for a in after)
    pays = used and weighted_after <= weighted_before * (1 - opts.min_gain)
    figures = {"runs": opts.runs, "before_ms": round(sum(b[0] for b in before), 3),
               "after_ms": round(sum(a[0] for a in after), 3), "weighted_before_ms": round(weighted_before, 3),
               "weighted_after_ms": round(weighted_after, 3), "index_used": used, "pays_off": pays,
               "index_size_bytes": size}
    evidence = dict(finding.evidence) | {"verification": {
        "where": "private copy of the file", "built": "index built for real (in a savepoint, rolled back)",
        "verdict": "confirmed" if pays else "demoted",
        "queries": [{"query": q.query, "before": {"median_ms": round(b[0], 3), "buffers": 0, "plan": b[1]},
                     "after": {"median_ms": round(a[0], 3), "buffers": 0, "plan": a[1]}}
                    for q, b, a in zip(statements, before, after, strict=True)]}}
    detail = finding.detail + (f" Verified on a private copy: {figures['before_ms']:,.2f} ms -> "
                               f"{figures['after_ms']:,.2f} ms" + ("." if pays else ": it does not pay off."))
    severity = finding.severity if pays or finding.severity.rank <= Severity.LOW.rank else Severity.LOW
    return dataclasses.replace(finding, severity=severity, detail=detail, evidence=evidence,
                               estimate=Estimate("measured", figures))


def verify(path: Path, source: Path, opts: VerifyOptions | None = None) -> VerifyResult:
    """Verify the recommendations of the saved report ``source`` on a private copy of ``path``."""
    opts = opts or VerifyOptions()
    findings = list(saved_report.load(source).findings)
    reader = open_read_only(path)
    try:
        collected = collect(reader, path)
    finally:
        reader.close()
    skipped: list[Skipped] = []
    verified = demoted = 0
    with tempfile.TemporaryDirectory(prefix="dbadvisor-sqlite-") as tmp:
        conn = open_copy(path, Path(tmp))
        conn.isolation_level = None
        try:
            for f in [f for f in findings if isinstance(f.fix, CreateIndex)]:
                new = verify_finding(conn, f, opts)
                if isinstance(new, str):
                    skipped.append(Skipped("verify", f"{f.id}: {new}"))
                    continue
                verified += 1
                demoted += new.evidence["verification"]["verdict"] == "demoted"
                findings[findings.index(f)] = new
        finally:
            conn.close()
    findings.sort(key=lambda f: (-f.severity.rank, f.check, f.id))
    report = Report(__version__, collected.snapshot, collected.capabilities, tuple(findings),
                    (*collected.problems, *skipped), generated_at=datetime.now(UTC))
    return VerifyResult(report, ScratchBuild(built=False), verified, demoted)
