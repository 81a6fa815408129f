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
    # One logged occurrence's session and time (log_line_prefix %p / csvlog session_id, %m): for the
    # loops a session runs. Aggregated statements have none.
    session: str | None = None
    at: float | None = None  # seconds since the epoch

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class Loop:
    """One statement shape run again and again with other values in one session, right after another
    (the N+1 pattern, seen in a log): ``runs`` such bursts, the longest ``longest`` statements long."""

    parent: str  # the statement before each burst (its most frequent text)
    child: str  # the statement repeated
    runs: int
    longest: int
    repeats: int  # statements in all the bursts
    longest_ms: float  # the longest burst's span in the log, first to last statement
    source: str = ""  # where the first burst is


@dataclass(frozen=True)
class Workload:
    source: str
    statements: tuple[Statement, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    loops: tuple[Loop, ...] = ()
