"""Workload text made plannable. pg_stat_statements replaces every constant with ``$n``, and some of
the places it does so are not valid SQL once bound, or trip sqlglot's tokenizer:

- a typed literal keeps its type keyword: ``interval '7 days'`` becomes ``interval $2``, which PostgreSQL
  refuses ("syntax error at or near $2"); ``date``, ``time``, ``timestamp`` (with or without time zone)
  and ``timestamptz`` likewise. They become casts, ``$2::interval``, which mean the same;
- parameters without spaces (Prisma's ``AND $2=$3``, ``IN ($1,$2)``) read as the start of a
  dollar-quoted string to sqlglot, so every such statement was lost; they get spaces.

Quoted strings and names are left as they are: only ``$n`` outside them is touched.
"""

from __future__ import annotations

import re

_TYPED = (r"interval|date|timestamptz|timetz|timestamp(?:\s+with(?:out)?\s+time\s+zone)?|"
          r"time(?:\s+with(?:out)?\s+time\s+zone)?")
# Quoted pieces first (kept), then a typed-literal parameter, then any parameter.
_PIECES = re.compile(rf"""('(?:[^']|'')*'|"(?:[^"]|"")*")|\b({_TYPED})\s+\$(\d+)\b|\$(\d+)\b""", re.IGNORECASE)


def plannable(sql: str) -> str:
    """``sql`` with pg_stat_statements' parameters in forms both PostgreSQL and sqlglot accept."""
    if "$" not in sql:
        return sql

    def fix(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(1)
        if m.group(2):
            return f"${m.group(3)}::{' '.join(m.group(2).lower().split())}"
        # A space after it: without one, "$2=$3" and "($1,$2)" read as dollar quotes to sqlglot.
        return f"${m.group(4)}" + ("" if m.end() == len(sql) or sql[m.end()].isspace() else " ")

    return _PIECES.sub(fix, sql).strip()
