"""The workload: statements the application runs, with how often and how long, from any source."""

from __future__ import annotations

from dataclasses import dataclass

from dbadvisor.model.findings import Skipped


@dataclass(frozen=True)
class Statement:
    query: str
    calls: int = 1
    total_ms: float = 0.0
    rows: int = 0
    source: str = ""  # "pg_stat_statements", or "path:line" for files and logs
    params: tuple[str | None, ...] = ()  # bind values seen in a log's "DETAIL: parameters:" line
    weight: float | None = None  # explicit weight from a "-- weight: N" comment

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class Workload:
    source: str
    statements: tuple[Statement, ...] = ()
    skipped: tuple[Skipped, ...] = ()
