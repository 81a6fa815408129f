"""The analysis pipeline: connect read-only, collect, run the selected checks, return a Report.

A check that needs a missing capability is skipped with the reason; a check that fails is reported
under ``skipped`` too, so one broken check never costs the rest of the analysis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dbadvisor import __version__
from dbadvisor.checks.base import Check, Context
from dbadvisor.checks.registry import select, validate_options
from dbadvisor.collect.connection import SessionSettings, connect
from dbadvisor.collect.postgres import collect
from dbadvisor.model.capabilities import Capabilities
from dbadvisor.model.catalog import Snapshot
from dbadvisor.model.findings import Finding, Report, Skipped

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AnalyzeOptions:
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    check_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    session: SessionSettings = field(default_factory=SessionSettings)


def run_checks(
    snapshot: Snapshot,
    capabilities: Capabilities,
    checks: Iterable[type[Check]],
    check_options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress | None = None,
) -> tuple[list[Finding], list[Skipped], list[str]]:
    """Run ``checks`` on a snapshot; returns (findings sorted worst first, skipped, ids that ran)."""
    ctx = Context(snapshot, capabilities, check_options or {})
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    ran: list[str] = []
    for cls in checks:
        if progress:
            progress(cls.id)
        reasons = [r for need in sorted(cls.needs) if (r := capabilities.missing(need))]
        if reasons:
            skipped.append(Skipped(cls.id, "; ".join(reasons)))
            continue
        try:
            findings.extend(cls(ctx).run())
        except Exception as exc:  # a bug in one check must not lose the others' findings
            skipped.append(Skipped(cls.id, f"check failed: {type(exc).__name__}: {exc}"))
            continue
        ran.append(cls.id)
    findings.sort(key=lambda f: (-f.severity.rank, f.check, f.id))
    return findings, skipped, ran


def analyze(dsn: str, options: AnalyzeOptions | None = None, progress: Progress | None = None) -> Report:
    """Analyze the database at ``dsn`` (read-only) and return the report."""
    options = options or AnalyzeOptions()
    checks = select(options.only, options.skip)  # fail on a bad --only before connecting
    validate_options(options.check_options)
    with connect(dsn, options.session) as conn:
        collected = collect(conn, progress=(lambda name: progress(f"collect {name}")) if progress else None)
    findings, skipped, ran = run_checks(
        collected.snapshot, collected.capabilities, checks, options.check_options, progress
    )
    return Report(
        tool_version=__version__,
        snapshot=collected.snapshot,
        capabilities=collected.capabilities,
        findings=tuple(findings),
        skipped=(*collected.problems, *skipped),
        checks_run=tuple(ran),
        generated_at=datetime.now(UTC),
    )
