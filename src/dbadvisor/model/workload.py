"""The workload: statements the application runs, with how often and how long, from any source."""

from __future__ import annotations

from dataclasses import dataclass

from dbadvisor.model.findings import Skipped


@dataclass(frozen=True)
class Values:
    """The constants seen in one place of a statement: at parameter ``position`` ($n of its shape) or,
    from pg_qualstats, compared with ``column`` (schema, table, column). Raw SQL, most frequent first."""

    top: tuple[tuple[str, int], ...]  # (value, occurrences), at most a few dozen
    distinct: int  # distinct values seen (a lower bound past 100,000)
    seen: int  # occurrences in all
    position: int | None = None
    column: tuple[str, str, str] | None = None
    selectivity: float | None = None  # share of rows the predicate kept, when measured (pg_qualstats)

    def share(self, value: str) -> float:
        """How often ``value`` was the one used, of all occurrences."""
        return dict(self.top).get(value, 0) / self.seen if self.seen else 0.0


@dataclass(frozen=True)
class Statement:
    query: str
    calls: int = 1
    total_ms: float = 0.0
    rows: int = 0
    source: str = ""  # "pg_stat_statements", or "path:line" for files and logs
    params: tuple[str | None, ...] = ()  # bind values seen in a log's "DETAIL: parameters:" line
    weight: float | None = None  # explicit weight from a "-- weight: N" comment
    # Many texts that differ only in constants, as one statement: ``query`` is the most frequent of them,
    # ``shape`` the text with $n in their place, ``values`` what each place held, ``texts`` how many.
    shape: str | None = None
    values: tuple[Values, ...] = ()
    texts: int = 1
    # Where the values ``query`` is planned with came from: "literal" (a file or log), "pg_qualstats",
    # "pg_stat_activity"; empty when it has none (pg_stat_statements' $n).
    values_source: str = ""
    queryid: int | None = None  # pg_stat_statements' id, to join pg_qualstats and the activity samples

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class Workload:
    source: str
    statements: tuple[Statement, ...] = ()
    skipped: tuple[Skipped, ...] = ()
