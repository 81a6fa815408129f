"""Constants from a short sample of pg_stat_activity: the texts sessions are running, with their
values, for an application that sends them inline (the simple protocol: many ORMs' default, psql, PHP).
A driver that binds parameters on the server shows ``$n`` there too; then this finds nothing, and says so.

Off by default (``--sample-activity SECONDS``): it polls for that long, read-only, and keeps each
statement it sees running once per session and start time.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from dbadvisor.dialects.postgres.queries import ACTIVITY_SAMPLE
from dbadvisor.model.workload import Statement
from dbadvisor.workload.normalize import plannable
from dbadvisor.workload.shapes import ShapeStats, canonical, has_parameters, parameters, shape

POLL_SECONDS = 0.02
_LIST = re.compile(r"\?(?: , \?)+")


def sample(conn: psycopg.Connection[Any], seconds: float) -> list[str]:
    """The distinct running statements seen in ``seconds`` of polling (each once per backend and start)."""
    seen: dict[tuple[int, Any], str] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn.execute("SELECT pg_stat_clear_snapshot()")  # a transaction would otherwise see one snapshot
        for pid, started, query in conn.execute(ACTIVITY_SAMPLE.sql).fetchall():
            seen.setdefault((int(pid), started), str(query))
        time.sleep(POLL_SECONDS)
    return list(seen.values())


def with_activity(statements: Sequence[Statement], texts: Sequence[str]) -> tuple[list[Statement], int]:
    """``statements`` (pg_stat_statements', with ``$n``) given the values of the sampled ``texts`` that are
    the same statement (same canonical form, same number of places); returns them and how many texts
    matched. A statement pg_qualstats already gave values keeps those."""
    by_form: dict[str, ShapeStats] = {}
    for text in texts:
        if has_parameters(text):
            continue
        found = shape(text)
        stats = by_form.setdefault(_form(plannable(found.key)), ShapeStats(found.key, text))
        stats.add(found.constants)
    out, matched = [], 0
    for st in statements:
        seen = by_form.get(_form(st.query))
        places = len(set(parameters(st.query)))
        if st.values or seen is None or len(seen.places) != places:
            out.append(st)
            continue
        matched += seen.texts
        out.append(dataclasses.replace(st, query=plannable(seen.first), shape=st.query, values=seen.values(),
                                       values_source="pg_stat_activity"))
    return out, matched


def _form(sql: str) -> str:
    """The canonical form, lists of values as one (``IN ($1, $2)`` and ``IN (1, 2, 3)`` agree)."""
    return _LIST.sub("?", canonical(sql))
