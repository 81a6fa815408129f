"""Time series tables: which column tells a row's age, how fast the table grows, which partition interval
fits, and how many rows a retention horizon would remove. Pure functions over the snapshot, shared by the
collection (which column to profile), the checks (what to advise) and the executors (which partitions).

Intervals are kept as bare PostgreSQL interval text (``30 days``, ``6 months``): that is what a report
shows, what ``evidence.keep`` holds, and what SQL receives as a literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from dbadvisor.model.catalog import Column, Snapshot, TableKey, TimeProfile
from dbadvisor.model.sqltext import NAMEDATALEN, FragmentError
from dbadvisor.model.units import human_bytes

TIME_TYPES = ("timestamp with time zone", "timestamp without time zone", "date")
PARTITION_INTERVALS = ("1 day", "1 week", "1 month")
_DAYS = {"1 day": 1.0, "1 week": 7.0, "1 month": 30.4}
_UNIT_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "week": 7.0, "month": 30.4, "mon": 30.4,
              "year": 365.25}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(minute|hour|day|week|month|mon|year)s?\s*$", re.IGNORECASE)
# Names that say "a log": rows are written once, read while fresh, and nobody needs them forever.
LOG_LIKE = re.compile(r"(^|_)(logs?|events?|audit|history|histories|queue|jobs?|messages?|notifications?|"
                      r"activity|activities|metrics?|samples?|debug|traces?|clicks?|visits?|pageviews?|calls?|requests?|"
                      r"deliveries|webhooks?)($|_)",
                      re.IGNORECASE)


def interval_days(text: str) -> float:
    """Days in a bare interval (``30 days``, ``6 months``, ``1 year``, ``12 hours``); FragmentError if
    it is not one."""
    m = _INTERVAL.match(text or "")
    if not m:
        raise FragmentError(f"not an interval like '30 days' or '6 months': {text!r}")
    return float(m.group(1)) * _UNIT_DAYS[m.group(2).lower()]


def normal_interval(text: str) -> str:
    """``text`` in one spelling: ``90 days``, ``1 month``, ``2 hours`` (FragmentError if not an interval)."""
    interval_days(text)
    m = _INTERVAL.match(text)
    assert m is not None
    number, unit = float(m.group(1)), m.group(2).lower()
    unit = "month" if unit == "mon" else unit
    return f"{number:g} {unit}{'' if number == 1 else 's'}"


def bare_interval(days: float) -> str:
    """The shortest round interval of at least ``days``: 7 days, 30 days, 3 months, 1 year..."""
    if days <= 1:
        return "1 day"
    if days <= 14:
        return f"{int(-(-days // 1))} days"
    if days <= 31:
        return f"{int(-(-days // 1))} days"
    if days <= 90:
        return f"{int(-(-days // 30)) * 30} days"
    if days <= 730:
        return f"{int(-(-days // 30.4))} months"
    return f"{int(-(-days // 365.25))} years"


def time_columns(snapshot: Snapshot, key: TableKey) -> list[Column]:
    """A table's time-typed columns, the likeliest row-age column first: follows insert order
    (|correlation| near 1), never NULL, and named like a creation time."""
    def rank(c: Column) -> tuple[float, int, int]:
        corr = abs(c.stats.correlation) if c.stats and c.stats.correlation is not None else 0.0
        named = int(bool(re.search(r"(created|inserted|logged|occurred|recorded|timestamp|^ts$|_at$|_on$|time)",
                                   c.name)))
        return (-corr, -int(c.not_null), -named)
    return sorted((c for c in snapshot.columns_of(key) if c.type in TIME_TYPES and not c.generated), key=rank)


@dataclass(frozen=True)
class Growth:
    """Rows and bytes per day, from the time column's own spread (statistics counters may cover minutes)."""

    rows: int
    bytes: int
    span_days: float
    rows_per_day: float
    bytes_per_day: float
    basis: str  # "last 30 days" | "whole span" | ...


def growth(profile: TimeProfile, table_bytes: int, now: datetime | None = None) -> Growth:
    """Rows per day over the most recent 30 days of data (or the whole span when shorter), and bytes per
    day at the table's mean row size (indexes and TOAST included)."""
    rows = max(profile.rows, 0)
    per_row = table_bytes / rows if rows else 0.0
    if profile.oldest is None or profile.newest is None:
        return Growth(rows, table_bytes, 0.0, 0.0, 0.0, "no rows")
    span = max((profile.newest - profile.oldest).total_seconds() / 86400, 1.0)
    recent_days, basis = span, "whole span"
    recent_rows = float(rows)
    if profile.days and span > 30:
        newest = date.fromisoformat(profile.days[-1][0])
        cutoff = (newest - timedelta(days=29)).isoformat()
        recent_rows = float(sum(n for d, n in profile.days if d >= cutoff))
        recent_days, basis = 30.0, "last 30 days of data"
    per_day = recent_rows / recent_days
    return Growth(rows, table_bytes, round(span, 1), round(per_day, 1), round(per_day * per_row, 1), basis)


def rows_older_than(profile: TimeProfile, cutoff: date) -> int:
    """Rows whose day is before ``cutoff`` (the day-level counts are exact for a counted profile)."""
    iso = cutoff.isoformat()
    return sum(n for d, n in profile.days if d < iso)


@dataclass(frozen=True)
class IntervalChoice:
    interval: str
    partition_bytes: float
    partitions: int  # over the horizon (history kept plus the time ahead)
    reason: str


def choose_interval(bytes_per_day: float, horizon_days: float, memory_bytes: int,
                    max_partitions: int = 500, target_partitions: int = 200) -> IntervalChoice:
    """The coarsest of day/week/month whose partition stays comfortably in memory (at most a quarter of
    ``memory_bytes``, so the hot partition and its indexes stay cached) while the partition count over
    ``horizon_days`` stays in the low hundreds (planning time grows with it)."""
    fits = memory_bytes / 4
    chosen = "1 day"
    for interval in reversed(PARTITION_INTERVALS):  # month, week, day
        if bytes_per_day * _DAYS[interval] <= fits:
            chosen = interval
            break
    count = int(-(-horizon_days // _DAYS[chosen]))
    while count > max_partitions and chosen != "1 month":
        chosen = PARTITION_INTERVALS[PARTITION_INTERVALS.index(chosen) + 1]
        count = int(-(-horizon_days // _DAYS[chosen]))
    size = bytes_per_day * _DAYS[chosen]
    reason = (f"{chosen} partitions of about {human_bytes(size)} each stay within a quarter of "
              f"{human_bytes(memory_bytes)} of memory, {count} partitions over {horizon_days:.0f} days")
    if chosen == "1 day" and size > fits:
        reason = (f"even a day is {human_bytes(size)}, more than a quarter of {human_bytes(memory_bytes)}: "
                  "daily is the finest offered")
    elif count > target_partitions:
        reason += f" (more than {target_partitions}: a shorter retention would plan faster)"
    return IntervalChoice(chosen, size, count, reason)


def truncate(day: date, interval: str) -> date:
    """The start of the partition ``day`` falls in (weeks start on Monday, as date_trunc has them)."""
    if interval == "1 month":
        return day.replace(day=1)
    if interval == "1 week":
        return day - timedelta(days=day.weekday())
    return day


def step(day: date, interval: str) -> date:
    if interval == "1 month":
        return (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return day + timedelta(days=7 if interval == "1 week" else 1)


def partition_suffix(day: date, interval: str) -> str:
    """pg_partman 4.x's child suffix, so that pg_partman adopts the partitions we make."""
    if interval == "1 month":
        return day.strftime("p%Y_%m")
    if interval == "1 week":
        iso = day.isocalendar()
        return f"p{iso.year}w{iso.week:02d}"
    return day.strftime("p%Y_%m_%d")


def partition_name(table: str, suffix: str) -> str:
    """``table_suffix`` within PostgreSQL's name limit (the table part is shortened, as pg_partman does)."""
    room = NAMEDATALEN - len(suffix.encode()) - 1
    return f"{table.encode()[:room].decode(errors='ignore')}_{suffix}"


def partitions(table: str, start: date, interval: str, until: date) -> list[tuple[str, date, date]]:
    """(name, from, to) of each partition from ``start`` until one covers ``until``."""
    out = []
    lower = truncate(start, interval)
    while lower <= until:
        upper = step(lower, interval)
        out.append((partition_name(table, partition_suffix(lower, interval)), lower, upper))
        lower = upper
    return out


def today() -> date:
    return datetime.now(UTC).date()


def estimated_profile(column: Column, rows: int) -> TimeProfile | None:
    """A profile from the column's pg_stats histogram (equal numbers of rows between its bounds), for a
    table too large to count at analysis time; labelled "estimated"."""
    stats = column.stats
    if stats is None or len(stats.histogram_bounds) < 2:
        return None
    try:
        bounds = [_timestamp(b) for b in stats.histogram_bounds]
    except ValueError:
        return None
    counted = rows * (1 - stats.null_frac)
    per_bucket = counted / (len(bounds) - 1)
    days: dict[str, float] = {}
    for a, b in pairwise(bounds):
        first, last = a.date(), b.date()
        span = (last - first).days + 1
        for i in range(span):
            day = (first + timedelta(days=i)).isoformat()
            days[day] = days.get(day, 0.0) + per_bucket / span
    return TimeProfile(column.schema, column.table, column.name, int(counted), bounds[0], bounds[-1],
                       tuple((d, round(n)) for d, n in sorted(days.items())), "estimated")


def _timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip('"'))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
