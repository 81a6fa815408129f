"""Statements from SQLAlchemy's engine log (``create_engine(..., echo=True)``, or the ``sqlalchemy.engine``
logger at INFO), with their parameters bound.

SQLAlchemy logs each statement (over as many lines as it has) and then its parameters on a line of their
own, ``[generated in 0.0003s] (42, 20, 0)`` or ``[cached since 12.1s ago] {'id_1': 7}``. The values are a
Python literal; they replace the statement's placeholders (``?`` for SQLite, ``:name`` or ``%(name)s``)
as SQL literals, so the advisor plans and times the statement with the values the application used.
BEGIN, COMMIT and ROLLBACK lines are left out.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dbadvisor.dialects.sqlite import literal
from dbadvisor.model.workload import Statement

_LINE = re.compile(r"^(?P<at>\d{4}-\d\d-\d\d[ T][\d:,.]+)?\s*INFO\s+sqlalchemy\.engine(?:\.Engine)?\s(?P<msg>.*)$")
_PARAMS = re.compile(r"^\[(?:generated in|cached since|raw sql|no key|dialect [^\]]*)[^\]]*\]\s*(?P<params>.*)$")
_QUIET = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?P<q>\?)|%\((?P<py>\w+)\)s"
                          r"|(?<!:):(?P<named>[A-Za-z_]\w*)")


def bind(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> str | None:
    """``sql`` with its placeholders replaced by ``params``' values; None when they do not match."""
    values = iter(params) if isinstance(params, Sequence) else None
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        if m.group("q") is not None and values is not None:
            try:
                return literal(next(values))
            except StopIteration:
                missing = True
                return m.group()
        name = m.group("py") or m.group("named")
        if name is not None and isinstance(params, Mapping):
            if name not in params:
                missing = True
                return m.group()
            return literal(params[name])
        return m.group()

    out = _PLACEHOLDER.sub(sub, sql)
    return None if missing else out


def parse(text: str, source: str) -> Iterator[Statement]:
    """The statements of a SQLAlchemy engine log, parameters bound (``source:line`` for each)."""
    pending: list[str] = []
    start = 0

    def flush(params: str | None) -> Statement | None:
        sql = "\n".join(pending).strip()
        if not sql or _QUIET.match(sql):
            return None
        if params:
            try:
                values = ast.literal_eval(params)
            except (ValueError, SyntaxError):
                values = None
            if isinstance(values, list) and values and isinstance(values[0], tuple | dict):
                values = values[0]  # executemany: the first row stands for the others
            if isinstance(values, tuple | dict):
                bound = bind(sql, values)
                if bound is not None:
                    sql = bound
        return Statement(sql, source=f"{source}:{start}")

    for n, line in enumerate(text.splitlines(), 1):
        m = _LINE.match(line)
        if m is None:
            if pending:
                pending.append(line)
            continue
        msg = m.group("msg")
        p = _PARAMS.match(msg)
        if p is not None:
            if pending and (st := flush(p.group("params"))) is not None:
                yield st
            pending = []
            continue
        if pending and (st := flush(None)) is not None:
            yield st
        pending, start = [msg], n
    if pending and (st := flush(None)) is not None:
        yield st
