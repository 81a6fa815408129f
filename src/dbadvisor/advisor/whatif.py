"""What-if costing with HypoPG: the planner's cost of a statement as if some indexes existed.

Hypothetical indexes live in this backend's memory only (nothing is written, so it works in the
read-only session). Results are cached per (statement, relevant configuration) and every distinct
EXPLAIN is counted. Statements with ``$n`` parameters: PostgreSQL 16+ plans them with
``EXPLAIN (GENERIC_PLAN)``; older servers get representative values from pg_stats bound for the column
each parameter is compared with, or, failing that, a forced generic plan of a prepared statement.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

import psycopg
from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

from dbadvisor.advisor.candidates import Candidate
from dbadvisor.advisor.costing import CandidateRefused, Plan, Prepared, relevant
from dbadvisor.advisor.usage import DIALECT, StatementUsage, UnsupportedStatement
from dbadvisor.dialects.postgres import DIALECT as PG
from dbadvisor.model.catalog import Snapshot, TableKey

_PARAM = re.compile(r"(?<![\w$'])\$(\d+)(?!\w)")
_HYPO_NAME = re.compile(r"^<(\d+)>")
PG16 = 160000
LIMIT_VALUE = "50"  # a typical page size, for a LIMIT $n whose value pg_stat_statements normalized away
WINDOW_VALUE = "7 days"  # a typical recent window, for a ts > now() - $n::interval it normalized away


def prepare(sql: str, snapshot: Snapshot, params: tuple[str | None, ...] = (),
            generic_plan: bool = True) -> Prepared:
    """How to plan ``sql``: its own values bound when known, else (``generic_plan`` and 16+) GENERIC_PLAN,
    else representative values from pg_stats, else a forced generic plan of a prepared statement.
    EXPLAIN ANALYZE needs real values, so ``verify`` passes ``generic_plan=False``."""
    numbers = {int(n) for n in _PARAM.findall(sql)}
    if not numbers:
        return Prepared(sql)
    if params and len(params) >= max(numbers):
        return Prepared(_bind(sql, dict(enumerate(params, 1))), binding="literal")
    if generic_plan and snapshot.database.server_version_num >= PG16:
        return Prepared(sql, binding="generic_plan")
    values = _representative(sql, snapshot)
    if numbers <= set(values):
        return Prepared(_bind(sql, values), binding="representative")
    return Prepared(sql, nparams=max(numbers), binding="generic")


def _representative(sql: str, snapshot: Snapshot) -> dict[int, str | None]:
    """For ``col = $n`` (or <, IN, ...): a typical value of col from pg_stats; LIMIT $n: a page size;
    ``$n::interval``: a week."""
    try:
        tree = parse_one(sql, read=DIALECT)
    except SqlglotError:
        return {}
    tables = {t.alias_or_name: (t.db or "public", t.name) for t in tree.find_all(exp.Table)}
    values: dict[int, str | None] = {}
    for clause, page in ((exp.Limit, LIMIT_VALUE), (exp.Offset, "0")):  # no column to draw from
        for node in tree.find_all(clause):
            param = node.args.get("expression")
            if isinstance(param, exp.Parameter):
                values[int(param.name)] = page
    for cast in tree.find_all(exp.Cast):  # now() - $1::interval: a time window, with no column to draw from
        if isinstance(cast.this, exp.Parameter) and cast.to.is_type("interval"):
            values[int(cast.this.name)] = WINDOW_VALUE
    for pred in tree.find_all(exp.EQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In):
        sides = [pred.this, *(pred.args.get("expressions") or [pred.args.get("expression")])]
        cols = [s for s in sides if isinstance(s, exp.Column)]
        if len(cols) != 1:
            continue
        value = _typical(cols[0], tables, snapshot)
        for side in sides:
            node = side.this if isinstance(side, exp.Cast) else side
            if isinstance(node, exp.Parameter) and value is not None:
                values[int(node.name)] = value
    return values


def _typical(col: exp.Column, tables: dict[str, TableKey], snapshot: Snapshot) -> str | None:
    keys = [tables[col.table]] if col.table in tables else list(tables.values())
    for key in keys:
        column = snapshot.column(key, col.name)
        if column is not None and column.stats is not None:
            s = column.stats
            if s.histogram_bounds:
                return s.histogram_bounds[len(s.histogram_bounds) // 2]
            if s.most_common_vals:
                return s.most_common_vals[len(s.most_common_vals) // 2]
    return None


class WhatIf:
    def __init__(self, conn: psycopg.Connection[Any], snapshot: Snapshot) -> None:
        self.conn = conn
        self.snapshot = snapshot
        self.calls = 0
        self._cache: dict[tuple[int, frozenset[Candidate]], Plan] = {}
        self._live: dict[Candidate, int] = {}
        self._sizes: dict[Candidate, int] = {}
        self._names = itertools.count(1)
        self._generic_mode = False
        self._reset = False  # hypopg_reset() before the first hypothetical index, not before (16+ may lack it)

    def prepare(self, sql: str, params: tuple[str | None, ...] = ()) -> Prepared:
        return prepare(sql, self.snapshot, params)

    # -- costing -------------------------------------------------------------------------------------
    def plan(self, sid: int, prepared: Prepared, usage: StatementUsage, config: Iterable[Candidate]) -> Plan:
        """The statement's plan with the candidates of ``config`` that it could use: the cache key, so an
        index on a column the statement never names costs no EXPLAIN."""
        wanted = relevant(config, usage)
        key = (sid, wanted)
        if key not in self._cache:
            self._switch(wanted)
            self._cache[key] = self._explain(prepared)
        return self._cache[key]

    def size(self, c: Candidate) -> int:
        """The hypothetical index's size; ``CandidateRefused`` when HypoPG cannot create it (a lost
        connection is not a refusal: it propagates)."""
        if c not in self._sizes:
            try:
                oid = self._create(c)
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                raise CandidateRefused(str(exc).strip().splitlines()[0]) from None
            self._sizes[c] = int(self._one("SELECT hypopg_relation_size(%s)", (oid,)))
        return self._sizes[c]

    def close(self) -> None:
        self.conn.execute("SELECT hypopg_reset()")
        self._live.clear()

    def _one(self, sql: str, params: tuple[Any, ...] | None = None) -> Any:
        # No params: the text goes as is, so a LIKE '%x%' in a workload statement is not a placeholder.
        # Never prepared server-side: psycopg prepares a text seen five times, and the server then wants
        # the $n of an EXPLAIN (GENERIC_PLAN) bound ("bind message supplies 0 parameters"), on 16+.
        row = self.conn.execute(sql, params, prepare=False).fetchone()
        assert row is not None
        return row[0]

    def _create(self, c: Candidate) -> int:
        if not self._reset:
            self.conn.execute("SELECT hypopg_reset()")
            self._reset = True
        if c not in self._live:
            ddl = PG.sql(c.operation(concurrently=False)).replace(" IF NOT EXISTS", "", 1)
            self._live[c] = int(self._one("SELECT indexrelid FROM hypopg_create_index(%s)", (ddl,)))
        return self._live[c]

    def _switch(self, wanted: frozenset[Candidate]) -> None:
        """Make the live hypothetical indexes exactly ``wanted`` on the tables that matter."""
        for c in [c for c in self._live if c not in wanted]:
            self.conn.execute("SELECT hypopg_drop_index(%s)", (self._live.pop(c),))
        for c in wanted:
            self._create(c)

    def _explain(self, p: Prepared) -> Plan:
        self.calls += 1
        try:
            if p.nparams:
                if not self._generic_mode:
                    self.conn.execute("SET plan_cache_mode = force_generic_plan")
                    self._generic_mode = True
                name = f"dbadvisor_whatif_{next(self._names)}"
                self.conn.execute(f"PREPARE {name} AS {p.text}")
                try:
                    args = ", ".join(["NULL"] * p.nparams)
                    doc = self._one(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({args})")
                finally:
                    self.conn.execute(f"DEALLOCATE {name}")
            elif p.binding == "generic_plan":
                doc = self._one(f"EXPLAIN (GENERIC_PLAN, FORMAT JSON) {p.text}")
            else:
                doc = self._one(f"EXPLAIN (FORMAT JSON) {p.text}")
        except psycopg.Error as exc:
            raise UnsupportedStatement(f"cannot be planned: {str(exc).strip().splitlines()[0]}") from None
        plan = doc[0]["Plan"]
        by_oid = {oid: c for c, oid in self._live.items()}
        return Plan(float(plan["Total Cost"]),
                    frozenset(by_oid[o] for o in _hypothetical_oids(plan) if o in by_oid))


def _hypothetical_oids(node: dict[str, Any]) -> Iterable[int]:
    name = node.get("Index Name")
    if name and (m := _HYPO_NAME.match(name)):
        yield int(m.group(1))
    for child in node.get("Plans", ()):
        yield from _hypothetical_oids(child)


def _bind(sql: str, values: dict[int, str | None]) -> str:
    return _PARAM.sub(lambda m: "NULL" if values.get(int(m.group(1))) is None
                      else PG.literal(values[int(m.group(1))]), sql)
