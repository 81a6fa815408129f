"""``dbadvisor verify``: build each recommended index for real on a scratch database and time the
statements it is meant to help, before and after, with EXPLAIN (ANALYZE, BUFFERS).

Each index is measured alone (built, measured, dropped), against the scratch database's existing
indexes. A recommendation whose statements do not get at least ``min_gain`` faster, or whose plans do not
use it, is demoted to low severity with the figures that show it. GIN indexes, which HypoPG cannot cost,
get their first real figures here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from dbadvisor import __version__
from dbadvisor.advisor.whatif import prepare
from dbadvisor.analysis import analyze
from dbadvisor.dialects.postgres import DIALECT, scratch
from dbadvisor.dialects.postgres.catalog import collect
from dbadvisor.dialects.postgres.connection import SessionSettings, connect
from dbadvisor.dialects.postgres.explain import Measurement, NotMeasurable, measure
from dbadvisor.dialects.postgres.maintenance import table_bytes
from dbadvisor.dialects.postgres.queries import DATABASE_IDENTITY, INDEX_STATE
from dbadvisor.errors import UsageError
from dbadvisor.model.catalog import Snapshot
from dbadvisor.model.ddl import CreateIndex, DropIndex, PartitionTable, SetRetention
from dbadvisor.model.findings import Estimate, Finding, Report, Severity, Skipped, StatementEvidence
from dbadvisor.sources import saved_report

Progress = Callable[[str], None]


@dataclass(frozen=True)
class VerifyOptions:
    runs: int = 5
    min_gain: float = 0.10  # the statements' measured time must drop by at least this share
    sample_rows: int = scratch.DEFAULT_SAMPLE_ROWS
    statement_timeout_ms: int = 120_000


@dataclass
class QueryRun:
    """One statement a finding says it helps, as it will be run (parameters bound), or why it cannot be."""

    evidence: dict[str, Any]
    sql: str | None
    weight: float
    reason: str | None = None
    before: Measurement | None = None
    after: Measurement | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"query": self.evidence.get("query"), "source": self.evidence.get("source"),
                               "weight": self.weight}
        if self.reason:
            out["not_measured"] = self.reason
        if self.before and self.after:
            out |= {"before": self.before.to_dict(), "after": self.after.to_dict()}
        return out


def affected_queries(finding: Finding, snapshot: Snapshot, key: str = "queries") -> list[QueryRun]:
    """The statements in a finding's evidence (``queries``, or ``bystanders``: the others on its table),
    ready to run: its own bound text when the advisor had values, else representative values from the
    statistics (EXPLAIN ANALYZE needs real values)."""
    out = []
    for q in StatementEvidence.all_of(finding, key):
        prepared = prepare(q.bound_query or q.query, snapshot, generic_plan=False)
        if prepared.nparams:
            out.append(QueryRun(dict(q.raw), None, q.calls, "its parameters could not be given representative values"))
        else:
            out.append(QueryRun(dict(q.raw), prepared.text, q.calls))
    return out


def measure_all(conn: psycopg.Connection[Any], runs: list[QueryRun], n: int, stage: str) -> None:
    for r in runs:
        if r.sql is None or r.reason:
            continue
        try:
            setattr(r, stage, measure(conn, r.sql, runs=n))
        except NotMeasurable as exc:
            r.reason = str(exc)


@dataclass
class Outcome:
    """The measured effect of one action on the statements it is meant to help."""

    runs: list[QueryRun]
    index_used: bool
    figures: dict[str, Any] = field(default_factory=dict)
    bystanders: list[QueryRun] = field(default_factory=list)  # other statements on the table: do no harm
    index: str | None = None  # the index measured: only a plan that uses it can be slowed down by it

    def slower(self, min_gain: float) -> list[QueryRun]:
        """Bystanders whose plan now uses the index and that were measured slower by more than
        ``min_gain`` (and 0.05 ms): the planner preferred the index and was wrong. A bystander whose plan
        does not use it ran the same plan twice; a difference there is noise, not harm."""
        return [r for r in self.bystanders if r.before and r.after and not r.reason
                and (self.index is None or self.index in r.after.indexes)
                and r.after.median_ms > r.before.median_ms * (1 + min_gain) + 0.05]

    @property
    def measured(self) -> list[QueryRun]:
        return [r for r in self.runs if r.before and r.after and not r.reason]

    def summarize(self, min_gain: float) -> dict[str, Any]:
        done = self.measured
        before = sum(r.before.median_ms for r in done if r.before)
        after = sum(r.after.median_ms for r in done if r.after)
        weighted_before = sum(r.weight * r.before.median_ms for r in done if r.before)
        weighted_after = sum(r.weight * r.after.median_ms for r in done if r.after)
        slower = self.slower(min_gain)
        # What the index costs the statements it does not help counts against what it saves the others.
        harm = sum(r.weight * (r.after.median_ms - r.before.median_ms) for r in slower if r.after and r.before)
        pays = bool(done) and self.index_used and weighted_after + harm <= weighted_before * (1 - min_gain)
        return self.figures | {
            "bystanders_measured": len([r for r in self.bystanders if r.before and r.after and not r.reason]),
            "slower": [{"query": r.evidence.get("query"), "before_ms": round(r.before.median_ms, 3),
                        "after_ms": round(r.after.median_ms, 3)} for r in slower if r.before and r.after],
            "weighted_harm_ms": round(harm, 3),
            "before_ms": round(before, 3), "after_ms": round(after, 3),
            "speedup": round(before / after, 2) if after > 0 else None,
            "weighted_before_ms": round(weighted_before, 3), "weighted_after_ms": round(weighted_after, 3),
            "buffers_before": sum(r.before.buffers for r in done if r.before),
            "buffers_after": sum(r.after.buffers for r in done if r.after),
            "statements_measured": len(done), "index_used": self.index_used, "pays_off": pays,
        }


def judge(finding: Finding, outcome: Outcome, min_gain: float, where: str) -> Finding:
    """The finding with measured figures; demoted (with the evidence) when it does not pay off."""
    evidence = dict(finding.evidence)
    evidence["verification"] = {"where": where, "queries": [r.to_dict() for r in outcome.runs],
                                "bystanders": [r.to_dict() for r in outcome.bystanders]}
    if not outcome.measured:
        evidence["verification"]["verdict"] = "not measured"
        return dataclasses.replace(finding, evidence=evidence)
    figures = outcome.summarize(min_gain)
    if finding.estimate is not None:
        figures["planner"] = finding.estimate.to_dict()
    severity, detail = finding.severity, finding.detail
    measured_size = figures.get("index_size_bytes")
    estimated = finding.evidence.get("size_bytes")
    if measured_size is not None:  # the prose states the real size, not HypoPG's estimate of it
        evidence["size_bytes"], evidence["estimated_size_bytes"] = measured_size, estimated
        detail = detail.replace(f"Estimated size {estimated:,} bytes." if isinstance(estimated, int) else "\0", "")
        detail = detail.rstrip() + (f" Measured size {measured_size:,} bytes"
                                    + (f" (HypoPG estimated {estimated:,})." if isinstance(estimated, int) else "."))
    if figures["pays_off"]:
        evidence["verification"]["verdict"] = "confirmed"
        detail += (f" Measured ({where}): {figures['before_ms']:,.2f} ms -> {figures['after_ms']:,.2f} ms "
                   f"for one run of each statement it helps (median of {figures['runs']}).")
    else:
        evidence["verification"]["verdict"] = "demoted"
        if severity.rank > Severity.LOW.rank:
            severity = Severity.LOW
        why = ("its plans do not use it" if not outcome.index_used else
               "what it costs other statements outweighs its gain" if figures["weighted_harm_ms"] else
               f"less than {min_gain:.0%} faster")
        detail += (f" Measured ({where}), it does not pay off: {why} ({figures['before_ms']:,.2f} ms -> "
                   f"{figures['after_ms']:,.2f} ms, median of {figures['runs']}).")
    if figures["slower"]:
        worst = max(figures["slower"], key=lambda x: x["after_ms"] - x["before_ms"])
        detail += (f" It makes {len(figures['slower'])} other statement(s) on the table slower (worst "
                   f"{worst['before_ms']:,.2f} -> {worst['after_ms']:,.2f} ms), weighed against its gain.")
    return dataclasses.replace(finding, severity=severity, detail=detail, evidence=evidence,
                               estimate=Estimate("measured", figures))


def verify_finding(conn: psycopg.Connection[Any], finding: Finding, snapshot: Snapshot,
                   opts: VerifyOptions, where: str) -> tuple[Finding, str | None]:
    """Build the finding's index on ``conn`` (a scratch database), measure, drop it again."""
    op = finding.fix
    assert isinstance(op, CreateIndex)
    runs = affected_queries(finding, snapshot)
    bystanders = affected_queries(finding, snapshot, "bystanders")
    if not runs:
        return finding, "no statements to measure"
    if conn.execute(INDEX_STATE.sql, {"schema": op.schema, "name": op.name}).fetchone() is not None:
        return finding, f"index {op.name} already exists on the scratch database: nothing to compare with"
    measure_all(conn, runs, opts.runs, "before")
    measure_all(conn, bystanders, opts.runs, "before")
    build = dataclasses.replace(op, concurrently=False)
    try:
        conn.execute(DIALECT.sql(build))
        if any(c.expression for c in op.columns):  # expression statistics come with ANALYZE
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(op.schema, op.table)))
        state = conn.execute(INDEX_STATE.sql, {"schema": op.schema, "name": op.name}).fetchone()
        measure_all(conn, runs, opts.runs, "after")
        measure_all(conn, bystanders, opts.runs, "after")
    except psycopg.Error as exc:
        return finding, f"index could not be built: {str(exc).strip().splitlines()[0]}"
    finally:
        conn.execute(DIALECT.sql(DropIndex(op.schema, op.name, concurrently=False)))
    used = any(r.after is not None and op.name in r.after.indexes for r in runs)
    outcome = Outcome(runs, used, {"index_size_bytes": int(state[2]) if state else None, "runs": opts.runs},
                      bystanders, op.name)
    return judge(finding, outcome, opts.min_gain, where), None


def _partitions(conn: psycopg.Connection[Any], schema: str, table: str) -> set[str]:
    rows = conn.execute("SELECT c.relname FROM pg_partition_tree(to_regclass(%s)) t JOIN pg_class c ON c.oid = t.relid "
                        "WHERE t.isleaf", (DIALECT.quote(schema, table),)).fetchall()
    return {str(r[0]) for r in rows}


def verify_partitioning(conn: psycopg.Connection[Any], finding: Finding, snapshot: Snapshot,
                        opts: VerifyOptions, where: str) -> tuple[Finding, str | None]:
    """Convert the table on the scratch copy (the migration's statements, in one transaction), time the
    statements that bound its time column before and after, see which partitions their plans read, and
    convert it back (the migration's reverse)."""
    op = finding.fix
    assert isinstance(op, PartitionTable)
    runs = [r for r in affected_queries(finding, snapshot, "statements") if r.evidence.get("statement") == "select"]
    if not runs:
        return finding, "no reading statements to measure"
    # The scratch copy's own foreign keys may be left out (sampled rows lack their parents), and it has no
    # pg_partman or pg_cron: the table is converted with neither, which the plans do not depend on.
    op = dataclasses.replace(op, foreign_keys=(), partman_schema=None, cron=False)
    measure_all(conn, runs, opts.runs, "before")
    try:
        with conn.transaction():
            for statement, _ in DIALECT.statements(op):
                conn.execute(statement)
        leaves = _partitions(conn, op.schema, op.table)
        measure_all(conn, runs, opts.runs, "after")
    except psycopg.Error as exc:
        return finding, f"the conversion failed on the scratch copy: {str(exc).strip().splitlines()[0]}"
    finally:
        reverse = op.reverse()
        if _partitions(conn, op.schema, op.table) - {op.table}:
            with conn.transaction():
                for statement, _ in DIALECT.statements(reverse):
                    conn.execute(statement)
    scanned = [len(set(r.after.relations) & leaves) for r in runs if r.after is not None and not r.reason]
    pruned = bool(scanned) and min(scanned) < len(leaves)
    figures = {"runs": opts.runs, "partitions": len(leaves), "partitions_read": scanned}
    outcome = Outcome(runs, pruned, figures)
    new = judge(finding, outcome, opts.min_gain, where)
    verification = dict(new.evidence["verification"]) | {"built": "table partitioned for real (then converted back)"}
    new = dataclasses.replace(new, evidence=dict(new.evidence) | {"verification": verification})
    if scanned:
        new = dataclasses.replace(new, detail=new.detail + (
            f" After conversion the statements read {min(scanned)}-{max(scanned)} of {len(leaves)} partitions."))
    return new, None


def verify_retention(conn: psycopg.Connection[Any], finding: Finding, opts: VerifyOptions,
                     where: str) -> tuple[Finding, str | None]:
    """The heap the table would keep, measured: the rows newer than the horizon copied into a scratch
    table, in a transaction that is rolled back."""
    op = finding.fix
    assert isinstance(op, SetRetention)
    target = sql.Identifier(op.schema, op.table)
    try:
        with conn.transaction(force_rollback=True):
            counted = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()
            row = (table_bytes(conn, op.schema, op.table, heap=True), int(counted[0]) if counted else 0)
            conn.execute(sql.SQL("CREATE TEMP TABLE dbadvisor_kept AS SELECT * FROM {t} "
                                 "WHERE {c} >= now() - {k}::interval").format(
                t=target, c=sql.Identifier(op.column), k=sql.Literal(op.keep)))
            kept = conn.execute("SELECT pg_relation_size('dbadvisor_kept'), (SELECT count(*) FROM dbadvisor_kept)"
                                ).fetchone()
    except psycopg.Error as exc:
        return finding, f"retention could not be measured: {str(exc).strip().splitlines()[0]}"
    assert row is not None and kept is not None
    figures = {"where": where, "heap_bytes_before": int(row[0]), "heap_bytes_after": int(kept[0]),
               "rows_before": int(row[1]), "rows_after": int(kept[1]),
               "rows_removed": int(row[1]) - int(kept[1])}
    evidence = dict(finding.evidence) | {"verification": figures | {"verdict": "measured"}}
    detail = finding.detail + (f" Measured ({where}): the heap goes from {int(row[0]):,} to {int(kept[0]):,} bytes "
                               f"({int(row[1]) - int(kept[1]):,} rows removed).")
    return dataclasses.replace(finding, detail=detail, evidence=evidence, estimate=Estimate("measured", figures)), None


@dataclass
class VerifyResult:
    report: Report
    build: scratch.ScratchBuild
    verified: int
    demoted: int


def verify(dsn: str, scratch_dsn: str, source: Report | Path | None = None, opts: VerifyOptions | None = None,
           progress: Progress | None = None) -> VerifyResult:
    """Verify the index recommendations of ``source`` (a report, a saved JSON report, or None for a fresh
    analysis of ``dsn``) on ``scratch_dsn``."""
    opts = opts or VerifyOptions()
    say = progress or (lambda _: None)
    if isinstance(source, Report):
        base, findings = source, list(source.findings)
    elif source is not None:
        findings = list(saved_report.load(source).findings)
        with connect(dsn) as conn:
            collected = collect(conn)
        base = Report(__version__, collected.snapshot, collected.capabilities, skipped=collected.problems)
    else:
        say("analyze")
        base = analyze(dsn, progress=lambda step: say(f"analyze: {step}"))
        findings = list(base.findings)
    snapshot = base.snapshot
    settings = SessionSettings(read_only=False, statement_timeout_ms=opts.statement_timeout_ms)
    skipped: list[Skipped] = []
    verified = demoted = 0
    with connect(scratch_dsn, settings) as conn:
        with connect(dsn) as target:
            if target.execute(DATABASE_IDENTITY.sql).fetchone() == conn.execute(DATABASE_IDENTITY.sql).fetchone():
                raise UsageError("--scratch-dsn points at the target database itself: verify builds and drops "
                                 "indexes there, so it must be a scratch database")
        built = scratch.build(dsn, conn, scratch_dsn, snapshot, opts.sample_rows,
                              progress=lambda step: say(f"scratch: {step}"))
        where = "scratch copy" + (f", {len(built.sampled)} table(s) sampled" if built.sampled else "")
        todo = [f for f in findings if isinstance(f.fix, CreateIndex) and StatementEvidence.all_of(f)]
        for i, f in enumerate(todo, 1):
            say(f"measure {f.index or f.id} ({i}/{len(todo)})")
            new, problem = verify_finding(conn, f, snapshot, opts, where)
            if problem:
                skipped.append(Skipped("verify", f"{f.id}: {problem}"))
                continue
            verified += new.estimate is not None and new.estimate.kind == "measured"
            demoted += new.evidence.get("verification", {}).get("verdict") == "demoted"
            findings[findings.index(f)] = new
        # Partitioning converts the table and converts it back; retention measures without changing it.
        for f in [f for f in findings if isinstance(f.fix, PartitionTable | SetRetention)]:
            say(f"measure {f.id}")
            if isinstance(f.fix, PartitionTable):
                new, problem = verify_partitioning(conn, f, snapshot, opts, where)
            else:
                new, problem = verify_retention(conn, f, opts, where)
            if problem:
                skipped.append(Skipped("verify", f"{f.id}: {problem}"))
                continue
            verified += 1
            demoted += new.evidence.get("verification", {}).get("verdict") == "demoted"
            findings[findings.index(f)] = new
    findings.sort(key=lambda f: (-f.severity.rank, f.check, f.id))
    skipped += [Skipped("verify", f"scratch: {p}") for p in built.problems]
    report = dataclasses.replace(base, findings=tuple(findings), skipped=(*base.skipped, *skipped),
                                 generated_at=datetime.now(UTC))
    return VerifyResult(report, built, verified, demoted)
