"""Workload sources: pg_stat_statements, .sql files, and PostgreSQL logs (stderr and csvlog).

Statements that cannot be read are listed under ``skipped`` with the reason; the rest go on.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlglot
from psycopg import sql as psql
from psycopg.rows import dict_row
from sqlglot import TokenType
from sqlglot.errors import SqlglotError

from dbadvisor.dialects.postgres import DIALECT as PG
from dbadvisor.dialects.postgres import queries as q
from dbadvisor.model.findings import Skipped
from dbadvisor.model.workload import Loop, Statement, Values, Workload
from dbadvisor.workload import activity, sqlalchemy_log
from dbadvisor.workload.normalize import plannable
from dbadvisor.workload.shapes import ShapeStats, bind, has_parameters, shape

SOURCE = "missing_index"  # skipped statements are reported under the advisor's check id
_WEIGHT = re.compile(r"--\s*weight\s*[:=]\s*([0-9.]+)", re.IGNORECASE)
# The message of a logged statement, as log_min_duration_statement / log_statement write it.
_MESSAGE = r"(?:duration:\s+(?P<ms>[0-9.]+)\s+ms\s+)?(?:statement|execute [^:]*):\s+(?P<sql>.*)$"
_STDERR_STATEMENT = re.compile(r"LOG:\s+" + _MESSAGE)
_CSV_STATEMENT = re.compile(_MESSAGE, re.S)
_DETAIL_PARAMS = re.compile(r"DETAIL:\s+parameters:\s+(?P<params>.*)$")
_PARAM = re.compile(r"\$(\d+)\s*=\s*(NULL|'(?:[^']|'')*')")
_LOG_PREFIX_CONT = re.compile(r"^\s")
# The default log_line_prefix ('%m [%p] '): a timestamp with milliseconds, then the backend's pid.
_PREFIX = re.compile(r"^(?P<at>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?)(?: [A-Z]{2,5}|[+-]\d\d)?"
                     r"\s+\[(?P<pid>\d+)\]")
LOOP_MIN = 5  # statements of one shape in a row, in one session, with other values each: a loop
LOOP_DISTINCT = 0.8  # of the burst's statements, at least this share with values not seen before in it
# A .sql file's pieces when the tokenizer gives up: quoted strings, comments and dollar-quoted bodies pass
# whole, so only a top-level semicolon ends a statement.
_PIECE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\$([A-Za-z_]*)\$.*?\$\1\$|;", re.S)


def from_pg_stat_statements(conn: psycopg.Connection[Any], limit: int = 500, qualstats: bool = False,
                            sample_activity: float = 0.0) -> Workload:
    """The statements pg_stat_statements kept, heaviest first; with ``qualstats`` (pg_qualstats installed
    and preloaded), each with the constants the application really compared its columns with; with
    ``sample_activity`` seconds, the values of the texts running meanwhile (see ``activity``)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(q.PG_STAT_STATEMENTS.sql, {"limit": limit}).fetchall()
        hidden = cur.execute(q.PG_STAT_STATEMENTS_HIDDEN.sql).fetchone()
    skipped = []
    if hidden and int(hidden["hidden"]):
        skipped.append(Skipped(SOURCE, f"{int(hidden['hidden']):,} pg_stat_statements row(s) "
                               f"({float(hidden['hidden_ms']):,.0f} ms) read '<insufficient privilege>' for this "
                               "role and were left out of the workload: grant it pg_read_all_stats"))
    statements = tuple(Statement(plannable(r["query"]), int(r["calls"]), float(r["total_ms"]), int(r["rows"]),
                                 "pg_stat_statements", queryid=int(r["queryid"]) if r["queryid"] is not None
                                 else None) for r in rows)
    if qualstats:
        try:
            statements = with_qualstats(conn, statements)
        except psycopg.Error as exc:  # not preloaded, no privilege: the statements still go on, without
            skipped.append(Skipped(SOURCE, f"pg_qualstats not read: {str(exc).strip().splitlines()[0]}"))
    if sample_activity > 0:
        texts = activity.sample(conn, sample_activity)
        found, matched = activity.with_activity(statements, texts)
        statements = tuple(found)
        skipped.append(Skipped(SOURCE, f"pg_stat_activity sampled for {sample_activity:g} s: {len(texts)} running "
                               f"statement(s), {matched} with values matched to pg_stat_statements"))
    return Workload("pg_stat_statements", statements, tuple(skipped))


def with_qualstats(conn: psycopg.Connection[Any], statements: tuple[Statement, ...]) -> tuple[Statement, ...]:
    """``statements`` with what pg_qualstats saw of their constants: per column, the values compared with
    it (occurrences, and the share of rows kept), labelled ``pg_qualstats``; and its example text when
    that one carries literal values (a driver that binds on the server leaves ``$n`` there too)."""
    row = conn.execute(q.EXTENSION_SCHEMA.sql, {"name": "pg_qualstats"}).fetchone()
    ids = [s.queryid for s in statements if s.queryid is not None]
    if row is None or not ids:
        return statements
    schema = psql.Identifier(str(row[0]))
    values: dict[int, dict[tuple[str, str, str], list[tuple[str, int, int, int]]]] = {}
    examples: dict[int, str] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for r in cur.execute(psql.SQL(q.QUALSTATS_CONSTANTS.sql).format(schema=schema), {"ids": ids}):
            per = values.setdefault(int(r["queryid"]), {})
            per.setdefault((r["schema"], r["table"], r["column"]), []).append(
                (str(r["constvalue"]), int(r["occurrences"]), int(r["evaluated"]), int(r["filtered"])))
        for r in cur.execute(psql.SQL(q.QUALSTATS_EXAMPLES.sql).format(schema=schema), {"ids": ids}):
            examples[int(r["queryid"])] = str(r["query"])
    out = []
    for st in statements:
        seen = values.get(st.queryid or 0)
        if not seen:
            out.append(st)
            continue
        found = []
        for column, consts in seen.items():
            consts.sort(key=lambda c: -c[1])
            evaluated = sum(c[2] for c in consts)
            kept = 1.0 - sum(c[3] for c in consts) / evaluated if evaluated else None
            found.append(Values(tuple((v, n) for v, n, _, _ in consts[:20]), len(consts), sum(c[1] for c in consts),
                                column=column, selectivity=kept))
        example = plannable(examples.get(st.queryid or 0, ""))
        literal = example if example and not has_parameters(example) else st.query
        out.append(dataclasses.replace(st, query=literal, shape=st.query, values=tuple(found),
                                       values_source="pg_qualstats"))
    return tuple(out)


def from_paths(paths: Iterable[Path]) -> Workload:
    """Statements from .sql files, PostgreSQL logs and SQLAlchemy engine logs (a directory is read
    recursively)."""
    acc = _Accumulator()
    for path in _files(paths):
        try:
            text = path.read_text(errors="replace")
        except OSError as exc:
            acc.skipped.append(Skipped(SOURCE, f"{path}: cannot read ({exc.strerror or exc})"))
            continue
        if path.suffix == ".sql":
            for stmt in split_sql(text, str(path)):
                acc.add(stmt)
        elif path.suffix == ".csv":
            for stmt in parse_csvlog(text, str(path)):
                acc.add(stmt)
        elif "sqlalchemy.engine" in text[:100_000]:
            for stmt in sqlalchemy_log.parse(text, str(path)):
                acc.add(stmt)
        else:
            for stmt in parse_stderr_log(text, str(path)):
                acc.add(stmt)
    return Workload(", ".join(str(p) for p in paths), acc.statements(), tuple(acc.skipped), acc.found_loops())


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*") if x.is_file() and x.suffix in (".sql", ".log", ".csv"))
        else:
            yield p


@dataclass
class _Member:
    """The running totals of one shape."""

    stats: ShapeStats
    source: str
    calls: int = 0
    total_ms: float = 0.0
    rows: int = 0
    weight: float | None = None


@dataclass
class _Burst:
    """One session's run of one statement shape."""

    key: str
    parent: str | None  # the shape the session ran just before
    source: str
    first: float | None
    last: float | None
    distinct: set[tuple[str, ...]]
    count: int = 1


@dataclass
class _Accumulator:
    """Texts that differ only in their constants (or a prepared statement's parameters) are one statement
    with many calls, its constants kept as a distribution (see ``shapes``)."""

    by_key: dict[str, _Member] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    sessions: dict[str, _Burst] = field(default_factory=dict)  # the burst each session is in
    loops: dict[tuple[str, str], list[_Burst]] = field(default_factory=dict)  # (parent, child) -> its bursts

    def add(self, s: Statement) -> None:
        found = shape(s.query)
        constants = found.constants
        if s.params:  # a prepared statement's logged values: its $n are the places
            constants = tuple("NULL" if v is None else PG.literal(v) for v in s.params)
        if s.session is not None:
            self._follow(s, found.key, constants)
        member = self.by_key.get(found.key)
        if member is None:
            member = self.by_key[found.key] = _Member(ShapeStats(found.key, s.query), s.source)
        member.stats.add(constants, s.calls)
        member.calls += s.calls
        member.total_ms += s.total_ms
        member.rows += s.rows
        if s.weight is not None or member.weight is not None:  # explicit weights add up; a bare one is a call
            member.weight = (member.weight if member.weight is not None else member.calls - s.calls) + (
                s.weight if s.weight is not None else s.calls)

    def _follow(self, s: Statement, key: str, constants: tuple[str, ...]) -> None:
        """Track the session's run of one shape: when another shape ends it, a long enough run of new
        values right after a different statement is a loop."""
        assert s.session is not None
        burst = self.sessions.get(s.session)
        if burst is not None and burst.key == key:
            burst.count += 1
            burst.distinct.add(constants)
            burst.last = s.at
            return
        if burst is not None:
            self._close(burst)
        self.sessions[s.session] = _Burst(key, burst.key if burst else None, s.source, s.at, s.at, {constants})

    def _close(self, burst: _Burst) -> None:
        if burst.parent is not None and burst.count >= LOOP_MIN and len(burst.distinct) >= LOOP_DISTINCT * burst.count:
            self.loops.setdefault((burst.parent, burst.key), []).append(burst)

    def found_loops(self) -> tuple[Loop, ...]:
        for burst in self.sessions.values():
            self._close(burst)
        self.sessions.clear()
        out = []
        for (parent, child), bursts in self.loops.items():
            first = {k: self.by_key[k].stats.first for k in (parent, child)}
            spans = [(b.last - b.first) * 1000 for b in bursts if b.first is not None and b.last is not None]
            out.append(Loop(plannable(first[parent]), plannable(first[child]), len(bursts),
                            max(b.count for b in bursts), sum(b.count for b in bursts), max(spans, default=0.0),
                            bursts[0].source))
        return tuple(out)

    def statements(self) -> tuple[Statement, ...]:
        out = []
        for key, m in self.by_key.items():
            values = m.stats.values()
            if not values:  # no constants: the text itself
                out.append(Statement(m.stats.first, m.calls, m.total_ms, m.rows, m.source, weight=m.weight,
                                     texts=m.stats.texts))
                continue
            out.append(Statement(bind(key, m.stats.representative), m.calls, m.total_ms, m.rows, m.source,
                                 weight=m.weight, shape=plannable(key), values=values, texts=m.stats.texts,
                                 values_source="literal"))
        return tuple(out)


def split_sql(text: str, source: str) -> Iterator[Statement]:
    """Split a .sql file on top-level semicolons (strings, dollar quotes and comments respected by
    sqlglot's tokenizer). A ``-- weight: N`` comment before a statement sets its weight."""
    try:
        ends = [t.end + 1 for t in sqlglot.tokenize(text, read="postgres") if t.token_type == TokenType.SEMICOLON]
    except SqlglotError:  # one bad token must not make the whole file one statement: split by hand
        ends = [m.end() for m in _PIECE.finditer(text) if m.group(0) == ";"]
    start = 0
    for end in [*ends, len(text)]:
        chunk = text[start:end]
        start = end
        body = chunk.strip().rstrip(";").strip()
        code = "\n".join(line for line in body.splitlines() if not line.strip().startswith("--")).strip()
        if not code:
            continue
        m = _WEIGHT.search(body)
        line = text.count("\n", 0, end - len(chunk.lstrip())) + 1
        yield Statement(plannable(code), source=f"{source}:{line}", weight=float(m.group(1)) if m else None)


def _params(detail: str) -> tuple[str | None, ...]:
    values: dict[int, str | None] = {}
    for n, raw in _PARAM.findall(detail):
        values[int(n)] = None if raw == "NULL" else raw[1:-1].replace("''", "'")
    return tuple(values.get(i) for i in range(1, max(values, default=0) + 1))


def parse_stderr_log(text: str, source: str) -> Iterator[Statement]:
    """``log_min_duration_statement`` / ``log_statement`` lines; continuation lines start with a tab."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _STDERR_STATEMENT.search(lines[i])
        if not m:
            i += 1
            continue
        first = i + 1
        parts = [m.group("sql")]
        i += 1
        while i < len(lines) and _LOG_PREFIX_CONT.match(lines[i]) and lines[i].strip():
            parts.append(lines[i].strip())
            i += 1
        params: tuple[str | None, ...] = ()
        if i < len(lines) and (d := _DETAIL_PARAMS.search(lines[i])):
            params = _params(d.group("params"))
            i += 1
        ms = float(m.group("ms")) if m.group("ms") else 0.0
        session, at = _session(lines[first - 1])
        yield Statement(plannable(" ".join(parts)), total_ms=ms, source=f"{source}:{first}", params=params,
                        session=session, at=at)


def _session(line: str) -> tuple[str | None, float | None]:
    """The pid and time of a log line with the default prefix, or (None, None)."""
    m = _PREFIX.match(line)
    return (m.group("pid"), _seconds(m.group("at"))) if m else (None, None)


def _seconds(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1)).timestamp()
    except ValueError:
        return None


def parse_csvlog(text: str, source: str) -> Iterator[Statement]:
    """csvlog rows: the message is field 14, the detail field 15 (PostgreSQL 13+ layout)."""
    for n, row in enumerate(csv.reader(text.splitlines()), 1):
        if len(row) < 15:
            continue
        m = _CSV_STATEMENT.match(row[13])
        if not m:
            continue
        d = _DETAIL_PARAMS.search("DETAIL:  " + row[14]) if row[14] else None
        yield Statement(plannable(m.group("sql")), total_ms=float(m.group("ms") or 0), source=f"{source}:{n}",
                        params=_params(d.group("params")) if d else (), session=row[5] or None,
                        at=_seconds(row[0].rsplit(" ", 1)[0]) if row[0] else None)
