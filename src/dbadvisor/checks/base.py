"""The check framework: one small class per check, declaring who it is and what it needs.

A check declares a stable snake_case ``id`` (public contract), a ``name``, ``groups``, its default
severity and the range it may report in, the ``dialects`` it judges (others never run it), the
capabilities it ``needs`` (a missing one skips it, with the reason, instead of failing), and ``options``
with defaults. Its docstring's first line is the summary
shown by ``dbadvisor checks``; the rest shows a bad and a good example.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from dbadvisor import dialects
from dbadvisor.dialects import Dialect
from dbadvisor.model.capabilities import Capabilities
from dbadvisor.model.catalog import Snapshot
from dbadvisor.model.ddl import Operation
from dbadvisor.model.findings import Estimate, Finding, Severity
from dbadvisor.model.workload import Workload

WORKLOAD = "workload"  # the group of checks that read the workload: it is read only when one of them runs

if TYPE_CHECKING:
    from dbadvisor.advisor.advise import Advice


class CheckSkipped(Exception):
    """Raised by a check that finds, once running, that it cannot judge (no workload, say)."""


@dataclass(frozen=True)
class Context:
    """What a check may look at. Checks read; they never connect or write."""

    snapshot: Snapshot
    capabilities: Capabilities
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # check id -> overrides
    advice: Advice | None = None  # the workload index advisor's result, when it ran
    advice_unavailable: str | None = None  # why it did not
    workload: Workload | None = None  # the statements the application runs, when there is a workload

    @property
    def dialect(self) -> Dialect:
        """The dialect the snapshot came from: it renders the fixes and quotes names in advice text."""
        return dialects.get(self.snapshot.database.dialect)


POSTGRES, SQLITE = "postgresql", "sqlite"


class Check:
    id: ClassVar[str]
    name: ClassVar[str]
    groups: ClassVar[tuple[str, ...]] = ()
    severity: ClassVar[Severity] = Severity.MEDIUM
    severity_range: ClassVar[tuple[Severity, Severity]] = (Severity.MEDIUM, Severity.MEDIUM)
    needs: ClassVar[frozenset[str]] = frozenset()
    options: ClassVar[Mapping[str, Any]] = {}
    dialects: ClassVar[frozenset[str]] = frozenset({POSTGRES})  # the engines it judges
    needs_on: ClassVar[Mapping[str, frozenset[str]]] = {}  # per dialect, instead of ``needs``

    @classmethod
    def requirements(cls, dialect: str) -> frozenset[str]:
        """The capabilities it needs on ``dialect``."""
        return cls.needs_on.get(dialect, cls.needs)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.opts: dict[str, Any] = {**self.options, **ctx.options.get(self.id, {})}

    def run(self) -> Iterable[Finding]:
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        """The docstring's first sentence, for ``dbadvisor checks``."""
        paragraph = " ".join((cls.__doc__ or cls.name).strip().split("\n\n")[0].split())
        return re.split(r"(?<=[a-z0-9)]):\s|(?<=[a-z0-9)]);\s|\.\s", paragraph, maxsplit=1)[0].rstrip(".")

    def finding(
        self,
        subject: str,
        *,
        title: str,
        detail: str,
        severity: Severity | None = None,
        table: str | None = None,
        columns: Iterable[str] = (),
        index: str | None = None,
        evidence: Mapping[str, Any] | None = None,
        fix: Operation | None = None,
        sql: str | None = None,
        rollback_sql: str | None = None,
        estimate: Estimate | None = None,
    ) -> Finding:
        """Build a finding whose id is ``<check id>:<subject>``, stable across runs.

        Pass ``fix`` (an operation) rather than raw ``sql``: its reverse becomes ``rollback_sql``.
        """
        if fix is not None:
            sql = self.ctx.dialect.sql(fix)
            reverse = fix.reverse()
            rollback_sql = self.ctx.dialect.sql(reverse) if reverse is not None else rollback_sql
        return Finding(
            id=f"{self.id}:{subject}",
            check=self.id,
            severity=severity or self.severity,
            title=title,
            detail=detail,
            table=table,
            columns=tuple(columns),
            index=index,
            evidence=dict(evidence or {}),
            sql=sql,
            rollback_sql=rollback_sql,
            estimate=estimate,
            fix=fix,
        )
