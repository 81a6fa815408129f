"""The analysis pipeline: open a source (a live database read-only, a snapshot file), collect, run the
selected checks, return a Report.

A check that needs a missing capability is skipped with the reason; a check that fails is reported
under ``skipped`` too, so one broken check never costs the rest of the analysis.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from dbadvisor import __version__
from dbadvisor import workload as workloads
from dbadvisor.advisor.advise import Advice, AdvisorOptions, advise
from dbadvisor.advisor.sqlite import advise as advise_sqlite
from dbadvisor.checks.base import WORKLOAD, Check, CheckSkipped, Context
from dbadvisor.checks.missing_index import MissingIndex
from dbadvisor.checks.registry import select, validate_options
from dbadvisor.dialects.postgres.connection import SessionSettings
from dbadvisor.dialects.sqlite.connection import is_target
from dbadvisor.errors import UsageError
from dbadvisor.model.capabilities import HYPOPG, PG_QUALSTATS, PG_STAT_STATEMENTS, Capabilities
from dbadvisor.model.catalog import Snapshot
from dbadvisor.model.collected import Collected
from dbadvisor.model.findings import Finding, Report, Skipped, merge_same_fix
from dbadvisor.model.workload import Workload
from dbadvisor.sources import Source
from dbadvisor.sources.live import LiveSource
from dbadvisor.sources.sqlite import SqliteSource

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AnalyzeOptions:
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    check_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    session: SessionSettings = field(default_factory=SessionSettings)
    workload: tuple[Path, ...] = ()  # .sql files / logs; empty: pg_stat_statements when available
    since: str | None = None  # a migrations folder: report only what the migrations after this one introduced
    advisor: AdvisorOptions = field(default_factory=AdvisorOptions)
    sample_activity: float = 0.0  # seconds of pg_stat_activity sampling for constants (0: off)


def run_checks(
    snapshot: Snapshot,
    capabilities: Capabilities,
    checks: Iterable[type[Check]],
    check_options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress | None = None,
    advice: Advice | None = None,
    advice_unavailable: str | None = None,
    workload: Workload | None = None,
) -> tuple[list[Finding], list[Skipped], list[str]]:
    """Run ``checks`` on a snapshot; returns (findings sorted worst first, skipped, ids that ran)."""
    ctx = Context(snapshot, capabilities, check_options or {}, advice, advice_unavailable, workload)
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    ran: list[str] = []
    dialect = snapshot.database.dialect
    for cls in checks:
        if dialect not in cls.dialects:
            continue  # it does not judge this engine: not run, not listed as skipped
        if progress:
            progress(cls.id)
        reasons = [r for need in sorted(cls.requirements(dialect)) if (r := capabilities.missing(need))]
        if reasons:
            skipped.append(Skipped(cls.id, "; ".join(reasons)))
            continue
        try:
            findings.extend(cls(ctx).run())
        except CheckSkipped as exc:
            skipped.append(Skipped(cls.id, str(exc)))
            continue
        except Exception as exc:  # a bug in one check must not lose the others' findings
            skipped.append(Skipped(cls.id, f"check failed: {type(exc).__name__}: {exc}"))
            continue
        ran.append(cls.id)
    findings.sort(key=lambda f: (-f.severity.rank, f.check, f.id))
    return merge_same_fix(findings), skipped, ran


def analyze(source: Source | str, options: AnalyzeOptions | None = None, progress: Progress | None = None) -> Report:
    """Analyze ``source`` (a live database's DSN, or any ``Source``) read-only and return the report."""
    options = options or AnalyzeOptions()
    checks = select(options.only, options.skip)  # fail on a bad --only before connecting
    validate_options(options.check_options)
    if isinstance(source, str) and is_target(source):
        source = SqliteSource.of(source)
    src: Source = LiveSource(source, options.session) if isinstance(source, str) else source
    with src.open(progress) as opened:
        collected = opened.collected
        advice, unavailable = None, None
        workload, no_workload = (read_workload(opened.conn, collected, options)
                                 if any(WORKLOAD in c.groups for c in checks) else (None, None))
        if MissingIndex in checks and opened.file is not None:  # a SQLite file: measured on a private copy
            if workload is None:
                unavailable = no_workload
            else:
                advice = advise_sqlite(opened.file, collected.snapshot, workload, options.advisor)
        elif MissingIndex in checks:
            if opened.conn is None:
                unavailable = (f"the index advisor costs candidates on a live database (HypoPG); {src.label} "
                               "is offline")
            elif workload is None:
                unavailable = no_workload
            else:
                advice, unavailable = run_advisor(opened.conn, collected, workload, options, progress)
    findings, skipped, ran = run_checks(
        collected.snapshot, collected.capabilities, checks, options.check_options, progress, advice,
        unavailable or no_workload, workload,
    )
    if advice is not None:
        skipped = [*advice.skipped, *skipped]
    elif workload is not None:
        skipped = [*workload.skipped, *skipped]
    findings = with_origins(findings, collected.snapshot)
    if options.since is not None:
        findings = introduced_after(findings, collected.snapshot, options.since)
    return Report(
        tool_version=__version__,
        snapshot=collected.snapshot,
        capabilities=collected.capabilities,
        findings=tuple(findings),
        skipped=(*collected.problems, *skipped),
        checks_run=tuple(ran),
        generated_at=datetime.now(UTC),
        advisor=advice.figures if advice is not None else {},
    )


def origin(finding: Finding, snapshot: Snapshot) -> str | None:
    """Where what a finding is about came from: the migration that created its subject (a constraint, a
    policy), else its index, else its table. A finding about a pair (a duplicate, a covered index) came
    with the later of the two: that is the migration that introduced the problem."""
    if isinstance(finding.evidence.get("origin"), str):  # a check that knows it (migration_lint) said so
        return str(finding.evidence["origin"])
    subject = finding.id.partition(":")[2]
    for key in (f"constraint:{subject}", f"policy:{subject}",
                f"relation:{finding.index}" if finding.index else None,
                f"relation:{finding.table}" if finding.table else None):
        if key and key in snapshot.origins:
            found = snapshot.origins[key]
            twins = [snapshot.origins.get(f"relation:{finding.evidence.get(k)}")
                     for k in ("duplicate_of", "covered_by")]
            order = {m: i for i, m in enumerate(snapshot.migrations)}
            return max([found, *(t for t in twins if t)], key=lambda m: order.get(m, -1))
    return None


def with_origins(findings: list[Finding], snapshot: Snapshot) -> list[Finding]:
    """Each finding names the migration its object came from, in ``evidence.origin`` and its detail."""
    if not snapshot.origins:
        return findings
    out = []
    for f in findings:
        where = None if "origin" in f.evidence else origin(f, snapshot)
        out.append(f if where is None else dataclasses.replace(
            f, evidence={**f.evidence, "origin": where}, detail=f"{f.detail} (added by {where})"))
    return out


def introduced_after(findings: list[Finding], snapshot: Snapshot, since: str) -> list[Finding]:
    """Only findings about objects that migrations after ``since`` created (for CI on a pull request)."""
    order = list(snapshot.migrations)
    matches = [i for i, m in enumerate(order) if m == since or m.startswith(since)]
    if not matches:
        raise UsageError(f"--since {since}: no such migration in the folder")
    later = set(order[matches[0] + 1:])
    return [f for f in findings if origin(f, snapshot) in later]


def read_workload(conn: psycopg.Connection[Any] | None, collected: Collected,
                  options: AnalyzeOptions) -> tuple[Workload | None, str | None]:
    """The workload: the ``--workload`` files, else pg_stat_statements (with pg_qualstats' constants when it
    is there); (workload, None) or (None, why there is none)."""
    caps = collected.capabilities
    if options.workload:
        workload = workloads.from_paths(options.workload)
    elif conn is not None and caps.has(PG_STAT_STATEMENTS):
        workload = workloads.from_pg_stat_statements(conn, qualstats=caps.has(PG_QUALSTATS),
                                                     sample_activity=options.sample_activity)
    elif conn is None:
        return None, "no workload: the source is offline; pass --workload FILE_OR_DIR"
    else:
        return None, f"no workload: {caps.missing(PG_STAT_STATEMENTS)}; or pass --workload FILE_OR_DIR"
    if not workload.statements and not workload.skipped:
        return None, f"the workload ({workload.source}) has no statements"
    return workload, None


def run_advisor(
    conn: psycopg.Connection[Any], collected: Collected, workload: Workload, options: AnalyzeOptions,
    progress: Progress | None,
) -> tuple[Advice | None, str | None]:
    """The workload index advisor, when it can run: (advice, None) or (None, why not)."""
    caps = collected.capabilities
    if (why := caps.missing(HYPOPG)) is not None:
        return None, why

    def tick(stage: str, done: int, total: int) -> None:
        if progress:
            progress(f"index advisor: {stage} {done}/{total}")

    try:
        advisor = options.advisor.with_overrides(options.check_options.get(MissingIndex.id, {}))
        return advise(conn, collected.snapshot, caps, workload, advisor, tick), None
    except psycopg.Error as exc:
        return None, f"index advisor failed: {str(exc).strip().splitlines()[0]}"
