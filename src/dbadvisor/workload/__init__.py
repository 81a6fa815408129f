"""Workload sources: pg_stat_statements, .sql files, and PostgreSQL logs (stderr and csvlog).

Statements that cannot be read are listed under ``skipped`` with the reason; the rest go on.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlglot
from psycopg.rows import dict_row
from sqlglot import TokenType
from sqlglot.errors import SqlglotError

from dbadvisor.dialects.postgres import queries as q
from dbadvisor.model.findings import Skipped
from dbadvisor.model.workload import Statement, Workload
from dbadvisor.workload.normalize import plannable

SOURCE = "missing_index"  # skipped statements are reported under the advisor's check id
_WEIGHT = re.compile(r"--\s*weight\s*[:=]\s*([0-9.]+)", re.IGNORECASE)
# The message of a logged statement, as log_min_duration_statement / log_statement write it.
_MESSAGE = r"(?:duration:\s+(?P<ms>[0-9.]+)\s+ms\s+)?(?:statement|execute [^:]*):\s+(?P<sql>.*)$"
_STDERR_STATEMENT = re.compile(r"LOG:\s+" + _MESSAGE)
_CSV_STATEMENT = re.compile(_MESSAGE, re.S)
_DETAIL_PARAMS = re.compile(r"DETAIL:\s+parameters:\s+(?P<params>.*)$")
_PARAM = re.compile(r"\$(\d+)\s*=\s*(NULL|'(?:[^']|'')*')")
_LOG_PREFIX_CONT = re.compile(r"^\s")
# A .sql file's pieces when the tokenizer gives up: quoted strings, comments and dollar-quoted bodies pass
# whole, so only a top-level semicolon ends a statement.
_PIECE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\$([A-Za-z_]*)\$.*?\$\1\$|;", re.S)


def from_pg_stat_statements(conn: psycopg.Connection[Any], limit: int = 500) -> Workload:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(q.PG_STAT_STATEMENTS.sql, {"limit": limit}).fetchall()
        hidden = cur.execute(q.PG_STAT_STATEMENTS_HIDDEN.sql).fetchone()
    skipped = []
    if hidden and int(hidden["hidden"]):
        skipped.append(Skipped(SOURCE, f"{int(hidden['hidden']):,} pg_stat_statements row(s) "
                               f"({float(hidden['hidden_ms']):,.0f} ms) read '<insufficient privilege>' for this "
                               "role and were left out of the workload: grant it pg_read_all_stats"))
    return Workload(
        "pg_stat_statements",
        tuple(Statement(plannable(r["query"]), int(r["calls"]), float(r["total_ms"]), int(r["rows"]),
                        "pg_stat_statements") for r in rows),
        tuple(skipped),
    )


def from_paths(paths: Iterable[Path]) -> Workload:
    """Statements from .sql files and PostgreSQL logs (a directory is read recursively)."""
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
        else:
            for stmt in parse_stderr_log(text, str(path)):
                acc.add(stmt)
    return Workload(", ".join(str(p) for p in paths), acc.statements(), tuple(acc.skipped))


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*") if x.is_file() and x.suffix in (".sql", ".log", ".csv"))
        else:
            yield p


@dataclass
class _Accumulator:
    """Same text (and same parameters) seen many times is one statement with many calls."""

    by_key: dict[tuple[str, tuple[str | None, ...]], Statement] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    def add(self, s: Statement) -> None:
        key = (" ".join(s.query.split()), s.params)
        old = self.by_key.get(key)
        if old is None:
            self.by_key[key] = s
        else:
            self.by_key[key] = Statement(old.query, old.calls + s.calls, old.total_ms + s.total_ms,
                                         old.rows + s.rows, old.source, old.params, old.weight or s.weight)

    def statements(self) -> tuple[Statement, ...]:
        return tuple(self.by_key.values())


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
        yield Statement(plannable(" ".join(parts)), total_ms=ms, source=f"{source}:{first}", params=params)


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
                        params=_params(d.group("params")) if d else ())
