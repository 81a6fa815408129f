"""The pure parts of time-series advice, without a server: intervals, the interval choice, partition
names and bounds (pg_partman's), the profile a histogram implies, and the windows statements read
(fixture file ``tests/fixtures/time_windows.txt``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from dbadvisor.model.catalog import Column, ColumnStats, TimeProfile
from dbadvisor.model.ddl import PartitionTable, SetRetention, operation_from_dict
from dbadvisor.model.sqltext import FragmentError
from dbadvisor.model.timeseries import (
    bare_interval,
    choose_interval,
    estimated_profile,
    growth,
    interval_days,
    normal_interval,
    partition_name,
    partitions,
    rows_older_than,
)
from dbadvisor.workload.windows import window

FIXTURE = Path(__file__).parent / "fixtures" / "time_windows.txt"
MB = 1 << 20


def _cases() -> list[tuple[str, str | None, str]]:
    out = []
    for line in FIXTURE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            kind, age, sql = (p.strip() for p in line.split("|", 2))
            out.append((kind, None if age == "-" else age, sql))
    return out


@pytest.mark.parametrize(("kind", "age", "sql"), _cases())
def test_windows(kind: str, age: str | None, sql: str) -> None:
    found = window(sql, "events", "created_at", ("id",))
    if kind == "none":
        assert found is None
    else:
        assert found is not None and (found.kind, found.age) == (kind, age)


def test_intervals() -> None:
    assert interval_days("30 days") == 30 and interval_days("6 months") == pytest.approx(182.4)
    assert normal_interval("1 mon") == "1 month" and normal_interval("90 day") == "90 days"
    assert [bare_interval(d) for d in (0.5, 12, 45, 200, 1000)] == ["1 day", "12 days", "60 days", "7 months",
                                                                     "3 years"]
    with pytest.raises(FragmentError):
        interval_days("30 days; drop table x")


def test_the_interval_is_the_coarsest_that_stays_in_memory() -> None:
    memory = 256 * MB  # a partition may take a quarter: 64 MB
    assert choose_interval(1 * MB, 365, memory).interval == "1 month"
    assert choose_interval(5 * MB, 365, memory).interval == "1 week"
    assert choose_interval(30 * MB, 365, memory).interval == "1 day"
    huge = choose_interval(100 * MB, 365, memory)
    assert huge.interval == "1 day" and "finest" in huge.reason
    # too many daily partitions over a long horizon: coarser, even past the memory target
    assert choose_interval(30 * MB, 3000, memory, max_partitions=500).interval == "1 week"


def test_partitions_are_named_as_pg_partman_names_them() -> None:
    months = partitions("events", date(2026, 10, 17), "1 month", date(2026, 12, 1))
    assert months == [("events_p2026_10", date(2026, 10, 1), date(2026, 11, 1)),
                      ("events_p2026_11", date(2026, 11, 1), date(2026, 12, 1)),
                      ("events_p2026_12", date(2026, 12, 1), date(2027, 1, 1))]
    weeks = partitions("events", date(2026, 12, 30), "1 week", date(2027, 1, 5))
    assert [w[0] for w in weeks] == ["events_p2026w53", "events_p2027w01"] and weeks[0][1] == date(2026, 12, 28)
    long = partition_name("x" * 63, "p2026_12_01")
    assert len(long.encode()) == 63 and long.endswith("_p2026_12_01")


def test_growth_and_rows_older_come_from_the_time_column() -> None:
    days = tuple((date(2026, 1, 1).fromordinal(date(2026, 1, 1).toordinal() + i).isoformat(), 100 + (i >= 60) * 100)
                 for i in range(90))
    profile = TimeProfile("public", "events", "created_at", sum(n for _, n in days),
                          datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC), days)
    g = growth(profile, 21_000_000)
    assert g.rows_per_day == 200 and g.basis == "last 30 days of data"  # not the whole span's 133
    assert g.bytes_per_day == pytest.approx(200 * 21_000_000 / profile.rows, rel=0.01)
    assert rows_older_than(profile, date(2026, 1, 11)) == 1000


def test_a_histogram_gives_an_estimated_profile() -> None:
    stats = ColumnStats(0.0, 8, -1.0, 1.0, histogram_bounds=("2026-01-01 00:00:00+00", "2026-01-11 00:00:00+00",
                                                             "2026-01-21 00:00:00+00"))
    column = Column("public", "events", "created_at", 2, "timestamp with time zone", True, stats=stats)
    profile = estimated_profile(column, 2000)
    assert profile is not None and profile.method == "estimated" and profile.rows == 2000
    assert rows_older_than(profile, date(2026, 1, 11)) == pytest.approx(1000, abs=100)


def test_the_operations_validate_and_reverse() -> None:
    op = PartitionTable("public", "events", "created_at", "1 month", "2026-01-01", 4, ("id", "created_at"), ("id",),
                        "events_pkey", ("id", "created_at"), (), ("events_account_fkey FOREIGN KEY (account_id) "
                                                                   "REFERENCES public.accounts(id) ON DELETE CASCADE",))
    op.validate()
    back = op.reverse()
    assert back.kind == "unpartition_table" and back.reverse() == op
    assert operation_from_dict(op.to_dict()) == op
    for field, bad in (("interval", "1 hour"), ("start", "2026-01-01'; drop"), ("premake", 1000),
                       ("primary_key", ["id"]), ("foreign_keys", ["fk FOREIGN KEY (a) REFERENCES t(id); DROP x"])):
        with pytest.raises(FragmentError):
            operation_from_dict(op.to_dict() | {field: bad})
    keep = SetRetention("public", "events", "created_at", "30 days")
    assert operation_from_dict(keep.to_dict()) == keep and keep.reverse().kind == "drop_retention"
    with pytest.raises(FragmentError):
        operation_from_dict(keep.to_dict() | {"keep": "30 days'); drop table x; --"})
