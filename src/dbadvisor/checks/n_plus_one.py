"""n_plus_one: a cheap keyed lookup run once per row another statement returned (an ORM's lazy load)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from dbadvisor.advisor.usage import StatementUsage, UnsupportedStatement, analyze
from dbadvisor.checks.base import Check, CheckSkipped
from dbadvisor.model.catalog import ConstraintType, Snapshot, TableKey
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.model.workload import Loop, Statement

ORM_IDIOMS = ("SQLAlchemy: selectinload() or joinedload() on the relationship; Django: select_related() / "
              "prefetch_related(); Prisma: include: { ... }; ActiveRecord: includes(); Drizzle: with: { ... }")


class NPlusOne(Check):
    """N+1 queries: a keyed lookup whose calls track the rows another statement returns, so each of
    those rows costs one more round trip (an ORM loading a relationship lazily, row by row). Found from
    pg_stat_statements' calls and rows: the lookup's calls are about the other statement's rows, the two
    tables are related (a foreign key, or the ``<table>_id`` naming convention), and the lookup returns
    a row or a few per call. Or from a log with sessions (the default log_line_prefix): the lookup run
    again and again with new values in one session right after the same statement, in several bursts.
    A lookup that is simply popular has no such partner and is not reported.

    Bad::

        SELECT id, user_id FROM messages WHERE channel_id = $1 ORDER BY created_at DESC LIMIT 50;
        SELECT email FROM users WHERE id = $1;  -- 50 calls per page

    Good::

        SELECT email FROM users WHERE id = ANY($1);  -- once per page, with the page's user ids
        -- or one statement: ... FROM messages m JOIN users u ON u.id = m.user_id ...
    """

    id = "n_plus_one"
    name = "N+1 queries"
    groups = ("performance", "workload")
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)
    options = {
        "min_calls": 100,  # the lookup must run at least this often
        "max_rows_per_call": 5.0,  # a keyed lookup: a row or a few per call
        "min_loop": 5.0,  # the lookup runs at least this many times per call of the statement it follows
        "tolerance": 0.5,  # its calls within this fraction of the other statement's rows
        "high_ms": 10_000.0,  # time spent in the lookups that makes it high
        "min_bursts": 2,  # from a log: the loop seen at least this often
    }

    def run(self) -> Iterator[Finding]:
        workload = self.ctx.workload
        if workload is None:
            raise CheckSkipped(self.ctx.advice_unavailable or "no workload to read")
        snap = self.ctx.snapshot
        read = []
        for st in workload.statements:
            try:
                read.append((st, analyze(st.shape or st.query, snap)))
            except UnsupportedStatement:
                continue
        if not any(st.rows for st, _ in read) and not workload.loops:
            raise CheckSkipped(f"the workload ({workload.source}) has neither row counts (pg_stat_statements "
                               "has) nor sessions (a log with the default log_line_prefix has)")
        found: set[str] = set()
        for child, usage in read:
            key = self._lookup(child, usage)
            if key is None:
                continue
            table, column = key
            partners = [(p, pu) for p, pu in read if p is not child and self._feeds(p, pu, child, table, column)]
            if not partners:
                continue
            parent, parent_usage = max(partners, key=lambda x: x[0].rows)
            finding = self._finding(child, parent, table, column, parent_usage)
            found.add(finding.id)
            yield finding
        for loop in workload.loops:
            if (looped := self._from_loop(loop)) is not None and looped.id not in found:
                found.add(looped.id)
                yield looped

    def _from_loop(self, loop: Loop) -> Finding | None:
        """A loop a log shows: one keyed lookup run again and again with new values in one session, right
        after another statement, in ``min_bursts`` bursts or more."""
        if loop.runs < self.opts["min_bursts"]:
            return None
        try:
            usage = analyze(loop.child, self.ctx.snapshot)
        except UnsupportedStatement:
            return None
        key = _keyed(usage)
        if key is None:
            return None
        return self._report(
            *key,
            detail=(f"The log shows {loop.runs:,} burst(s) of lookups of {{name}} by {{column}} in one session, "
                    f"each right after the same statement, up to {loop.longest:,} in a row ({loop.repeats:,} in "
                    f"all; the longest burst took {loop.longest_ms:,.0f} ms)."),
            severity=Severity.HIGH if loop.repeats >= self.opts["min_calls"] * 10 else Severity.MEDIUM,
            evidence={
                "lookup": {"query": loop.child},
                "follows": {"query": loop.parent},
                "seen_in": "log sessions",
                "bursts": loop.runs, "longest_burst": loop.longest, "repeats": loop.repeats,
                "longest_burst_ms": round(loop.longest_ms, 1), "source": loop.source,
            },
        )

    def _lookup(self, st: Statement, usage: StatementUsage) -> tuple[TableKey, str] | None:
        """The (table, column) a cheap keyed SELECT looks up by equality, or None."""
        if st.calls < self.opts["min_calls"]:
            return None
        if st.rows / st.calls > self.opts["max_rows_per_call"]:
            return None
        return _keyed(usage)

    def _feeds(self, p: Statement, pu: StatementUsage, child: Statement, table: TableKey, column: str) -> bool:
        """Whether ``p``'s rows are what ``child`` is called for: about as many rows as the child's calls,
        several per call of ``p``, from a table related to the child's through ``column``."""
        if p.rows <= 0 or p.calls <= 0 or child.calls < self.opts["min_loop"] * p.calls:
            return False
        if abs(child.calls - p.rows) > self.opts["tolerance"] * p.rows:
            return False
        return any(_related(self.ctx.snapshot, t, u.read, table, column) for t, u in pu.tables.items())

    def _finding(self, child: Statement, parent: Statement, table: TableKey, column: str,
                 parent_usage: StatementUsage) -> Finding:
        per_call = child.calls / parent.calls
        return self._report(
            table, column,
            detail=(f"{child.calls:,} lookups of {{name}} by {{column}} ({child.total_ms:,.0f} ms in all) follow a "
                    f"statement that returned {parent.rows:,} rows in {parent.calls:,} calls: about "
                    f"{per_call:,.0f} round trips per call."),
            severity=Severity.HIGH if child.total_ms >= self.opts["high_ms"] else Severity.MEDIUM,
            evidence={
                "lookup": {"query": child.query.strip(), "calls": child.calls, "rows": child.rows,
                           "total_ms": round(child.total_ms, 2)},
                "follows": {"query": parent.query.strip(), "calls": parent.calls, "rows": parent.rows,
                            "total_ms": round(parent.total_ms, 2),
                            "tables": [f"{s}.{t}" for s, t in parent_usage.tables]},
                "lookups_per_call": round(per_call, 1),
            },
        )

    def _report(self, table: TableKey, column: str, detail: str, severity: Severity,
                evidence: dict[str, Any]) -> Finding:
        """The finding, however the loop was seen: ``detail`` says how (``{name}`` and ``{column}`` filled
        in), and the batched form and the ORM idioms follow."""
        name = f"{table[0]}.{table[1]}"
        batched = f"WHERE {self.ctx.dialect.quote(column)} = ANY($1)"
        return self.finding(
            f"{name}.{column}",
            title=f"N+1: {name} looked up by {column} once per row of another statement",
            detail=(detail.format(name=name, column=column) + f" Fetch them in one statement: {batched} with the "
                    f"ids of those rows, or a join. {ORM_IDIOMS}."),
            severity=severity,
            table=name,
            columns=(column,),
            evidence={**evidence, "batched": batched, "orm": ORM_IDIOMS},
        )


def _keyed(usage: StatementUsage) -> tuple[TableKey, str] | None:
    """The (table, column) a SELECT of one table looks up by one equality and nothing else, or None."""
    if usage.kind != "select" or len(usage.tables) != 1:
        return None
    (u,) = usage.tables.values()
    if len(u.equality) != 1 or u.range or u.join or u.group:
        return None
    return u.key, u.equality[0]


def _related(snap: Snapshot, parent: TableKey, parent_read: set[str], child: TableKey, column: str) -> bool:
    """Whether rows of ``parent`` (with the columns the statement read) lead to ``child`` rows by
    ``child.column``: a foreign key either way over that column, or, where the schema declares none (many
    ORMs' migrations), the naming convention: ``messages.user_id`` leads to ``users.id``."""
    for fk in snap.constraints:
        if fk.type != ConstraintType.FOREIGN_KEY or fk.ref_key is None:
            continue
        if fk.table_key == parent and fk.ref_key == child and fk.ref_columns == (column,):
            return bool(set(fk.columns) & parent_read)  # parent holds the key of the child it fetches
        if fk.table_key == child and fk.ref_key == parent and fk.columns == (column,):
            return True  # the child rows of each parent row
    if column == "id":  # each parent row names the child it fetches: messages.user_id -> users.id
        return any(c in parent_read for c in _key_names(child[1]))
    return column in _key_names(parent[1]) and "id" in parent_read  # the children of each parent row


def _key_names(table: str) -> tuple[str, str]:
    """How a column pointing at ``table`` is usually named: ``users`` -> user_id, userId."""
    singular = re.sub(r"(ies|s)$", lambda m: "y" if m.group(1) == "ies" else "", table)
    return f"{singular}_id", f"{singular}Id"
