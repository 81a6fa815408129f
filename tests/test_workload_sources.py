"""Workload sources: .sql files (with weights), stderr logs with bind parameters, csvlog."""

from __future__ import annotations

from pathlib import Path

from dbadvisor.workload import from_paths, parse_csvlog, parse_stderr_log, split_sql

STDERR = """\
2026-11-20 10:00:00.001 UTC [123] LOG:  duration: 12.500 ms  execute <unnamed>: SELECT * FROM t
\tWHERE a = $1 AND b = $2
2026-11-20 10:00:00.001 UTC [123] DETAIL:  parameters: $1 = '5', $2 = 'it''s'
2026-11-20 10:00:01.000 UTC [124] LOG:  duration: 3.000 ms  statement: SELECT 1 FROM t
2026-11-20 10:00:02.000 UTC [124] LOG:  checkpoint starting: time
2026-11-20 10:00:03.000 UTC [124] LOG:  duration: 5.000 ms  statement: SELECT 1 FROM t
"""


def test_split_sql_respects_strings_and_weights() -> None:
    text = "-- weight: 5\nSELECT ';' FROM t;\n\nSELECT $$a;b$$;\n-- just a comment\n"
    stmts = list(split_sql(text, "w.sql"))
    assert [s.query for s in stmts] == ["SELECT ';' FROM t", "SELECT $$a;b$$"]
    assert stmts[0].weight == 5 and stmts[1].weight is None


def test_stderr_log_with_parameters() -> None:
    stmts = list(parse_stderr_log(STDERR, "pg.log"))
    assert stmts[0].query == "SELECT * FROM t WHERE a = $1 AND b = $2"
    assert stmts[0].params == ("5", "it's") and stmts[0].total_ms == 12.5
    assert [s.query for s in stmts[1:]] == ["SELECT 1 FROM t", "SELECT 1 FROM t"]


def test_csvlog() -> None:
    row = ('2026-11-20 10:00:00.001 UTC,"app","db",123,"[local]",1,1,"SELECT",2026-11-20 10:00:00 UTC,3/4,0,'
           'LOG,00000,"duration: 7.250 ms  execute <unnamed>: SELECT * FROM t WHERE a = $1",'
           '"parameters: $1 = \'9\'",,,,,,,,,"psql","client backend",,0')
    (s,) = parse_csvlog(row, "pg.csv")
    assert s.total_ms == 7.25 and s.params == ("9",) and s.query.endswith("a = $1")


def test_from_paths_aggregates_repeats(tmp_path: Path) -> None:
    (tmp_path / "pg.log").write_text(STDERR)
    (tmp_path / "q.sql").write_text("SELECT 1 FROM t;")
    (tmp_path / "ignored.txt").write_text("SELECT 2;")
    w = from_paths([tmp_path])
    calls = {s.query: s.calls for s in w.statements}
    assert calls["SELECT 1 FROM t"] == 3  # twice in the log, once in the file
    totals = {s.query: s.total_ms for s in w.statements}
    assert totals["SELECT 1 FROM t"] == 8.0
