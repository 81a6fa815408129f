"""Index candidates, generated from what each statement asks of each table.

Per table: single columns; equality columns first (most selective first), then a range or the ORDER BY
columns with their directions; join columns with the equality columns; GROUP BY columns; covering
INCLUDE variants for index-only scans; expression keys (lower(col), col ->> 'k'); partial indexes for
rare constants; GIN for JSONB containment and trigram search. Widths are capped (3 by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from dbadvisor.advisor.usage import StatementUsage, TableUsage
from dbadvisor.dialects.postgres import DIALECT
from dbadvisor.model.catalog import Index, Snapshot, TableKey
from dbadvisor.model.ddl import CreateIndex, IndexColumn, index_name
from dbadvisor.model.indexing import IndexShape, KeyShape, leads_with, normalize_expression, shape_of, usable

RARE_FRACTION = 0.05  # a constant matching fewer rows than this is worth a partial index ...
LOW_CARDINALITY = 100  # ... on a column of at most this many distinct values (a status, not a user id)
MAX_INCLUDE = 3
MAX_INCLUDE_WIDTH = 64  # bytes (avg_width) per INCLUDE column


@dataclass(frozen=True)
class Candidate:
    schema: str
    table: str
    columns: tuple[IndexColumn, ...]
    include: tuple[str, ...] = ()
    where: str | None = None
    method: str = "btree"

    @property
    def table_key(self) -> TableKey:
        return (self.schema, self.table)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(c.label + (" desc" if c.descending else "") for c in self.columns)

    @property
    def name(self) -> str:
        parts = list(self.labels)
        if self.include:
            parts += ["incl", *self.include]
        if self.where:
            parts += ["where", self.where]
        return index_name(self.table, tuple(parts), "gin_idx" if self.method == "gin" else "idx")

    @property
    def simulable(self) -> bool:
        """HypoPG can cost B-tree indexes; GIN needs a real build."""
        return self.method == "btree"

    @property
    def shape(self) -> IndexShape:
        """What the shared prefix rules compare (``model.indexing``)."""
        keys = tuple(KeyShape(col.column or normalize_expression(col.expression or ""), col.descending,
                              col.descending if col.nulls_first is None else col.nulls_first, col.opclass)
                     for col in self.columns)
        return IndexShape(self.method, keys, self.include, self.where or None)

    def operation(self, concurrently: bool = True) -> CreateIndex:
        return CreateIndex(self.schema, self.table, self.name, self.columns, self.method, self.include,
                           self.where, concurrently=concurrently)

    @property
    def wide(self) -> bool:
        """More than one key, or an INCLUDE list: a widening of its ``prefix``."""
        return len(self.columns) > 1 or bool(self.include)

    @property
    def prefix(self) -> Candidate:
        """The one-key index this candidate widens (itself when it has one key and no INCLUDE)."""
        return Candidate(self.schema, self.table, self.columns[:1], (), self.where, self.method)

    def relevant_to(self, usage: StatementUsage) -> bool:
        """Whether the planner could use this index for the statement: the statement must filter, join,
        sort or group on its leading key, or read nothing of the table but the index's columns (a full
        index-only scan). Expression keys and predicates are taken as usable."""
        table = usage.tables.get(self.table_key)
        if table is None:
            return False
        lead = self.columns[0].column
        if table.star or lead is None or self.where or any(c.column is None for c in self.columns):
            return True
        if lead in table.searched:
            return True
        return table.read <= {c.column for c in self.columns} | set(self.include)

    def extends(self, other: Candidate) -> bool:
        """True when ``other`` is a strict leading prefix of this index (same method and predicate)."""
        return (other.table_key == self.table_key and other.method == self.method and other.where == self.where
                and len(other.columns) < len(self.columns) and self.columns[: len(other.columns)] == other.columns
                and set(other.include) <= {c.column for c in self.columns} | set(self.include))


def served_by_existing(c: Candidate, existing: tuple[Index, ...]) -> Index | None:
    """An existing valid index whose leading keys are the candidate's keys (a UNIQUE constraint's index
    counts). A covering variant of keys an index already serves is not offered either: a second index
    for an index-only scan of the same lookup is rarely worth its writes."""
    want = replace(c.shape, include=())
    return next((i for i in existing if usable(i) and leads_with(replace(shape_of(i), include=()), want)), None)


def generate(usage: TableUsage, snapshot: Snapshot, max_width: int = 3, trigram: bool = False) -> set[Candidate]:
    schema, table = usage.key
    trow = snapshot.table(usage.key)
    rows = trow.rows if trow else 0

    def distinct(col: str) -> float:
        c = snapshot.column(usage.key, col)
        return c.stats.distinct_values(rows) if c and c.stats else 0.0

    def mk(cols: list[IndexColumn], include: tuple[str, ...] = (), where: str | None = None,
           method: str = "btree") -> Candidate | None:
        seen: list[IndexColumn] = []
        for col in cols:
            if col.label not in {s.label for s in seen}:
                seen.append(col)
        if not seen or len(seen) > max_width:
            return None
        return Candidate(schema, table, tuple(seen), tuple(sorted(include)), where, method)

    eq = sorted(usage.equality, key=distinct, reverse=True)
    out: set[Candidate | None] = set()
    # Only the first ORDER BY / GROUP BY key can lead a useful index (a sort on a prefix).
    plain = [*eq, *usage.join, *usage.range, *(c for c, _ in usage.order[:1]), *usage.group[:1]]
    for col in plain:
        out.add(mk([IndexColumn(col)]))
    for expr in usage.expressions:
        out.add(mk([IndexColumn(expression=expr)]))
        out.add(mk([*map(IndexColumn, eq[:1]), IndexColumn(expression=expr)]))
    eq_cols = [IndexColumn(c) for c in eq]
    order_cols = [IndexColumn(c, descending=d) for c, d in usage.order]
    if len(eq) > 1:
        out.add(mk(eq_cols[:max_width]))
    for r in usage.range[:2]:
        out.add(mk([*eq_cols[: max_width - 1], IndexColumn(r)]))
    if order_cols:
        out.add(mk([*eq_cols[: max_width - len(order_cols)], *order_cols]))
        out.add(mk([*eq_cols[:1], *order_cols]))
    for j in usage.join:
        out.add(mk([IndexColumn(j), *eq_cols[: max_width - 1]]))
        out.add(mk([*eq_cols[: max_width - 1], IndexColumn(j)]))
        for k in usage.join:  # multi-column joins (ps_partkey = l_partkey AND ps_suppkey = l_suppkey)
            if k != j:
                out.add(mk([IndexColumn(j), IndexColumn(k)]))
    if len(usage.group) > 1:
        out.add(mk([*eq_cols[:1], *map(IndexColumn, usage.group)]))

    # Covering variants of the best-shaped keys, for index-only scans.
    if not usage.star:
        out |= {covering(base, usage.read, snapshot) for base in out if base is not None and base.method == "btree"}

    # Partial indexes for rare constants of skewed, low-cardinality columns (a status, a type): the
    # column must have most common values, i.e. repeat, and few distinct ones: a key among thousands
    # (one user's id) is a plain lookup, and an index per key seen would be one per user.
    for col, value in usage.constants.items():
        column = snapshot.column(usage.key, col)
        skewed = (column is not None and column.stats is not None and bool(column.stats.most_common_vals)
                  and column.stats.distinct_values(rows) <= LOW_CARDINALITY)
        if skewed and _fraction(snapshot, usage.key, col, value, rows) < RARE_FRACTION:
            where = f"{DIALECT.quote(col)} = {DIALECT.literal(value)}"
            # Keys other than the column the predicate fixes (its value is the same in every entry).
            keys = (order_cols or [IndexColumn(c) for c in eq if c != col][:max_width]
                    or [IndexColumn(r) for r in usage.range if r != col][:1] or [IndexColumn(col)])
            out.add(mk(keys, where=where))

    for col in usage.containment:
        column = snapshot.column(usage.key, col)
        if column is not None and column.type == "jsonb":
            out.add(mk([IndexColumn(col, opclass="jsonb_path_ops")], method="gin"))
    if trigram:
        for col in usage.contains_text:
            out.add(mk([IndexColumn(col, opclass="gin_trgm_ops")], method="gin"))
    return {c for c in out if c is not None}


def sort_limit(usage: TableUsage, has_limit: bool, max_width: int = 3) -> Candidate | None:
    """The index a page of a statement needs: its equality columns then its ORDER BY keys, directions
    kept (``WHERE channel_id = $1 ORDER BY created_at DESC LIMIT 50`` -> (channel_id, created_at DESC)),
    which reads the page's rows in order and stops. Built one key at a time from a chosen prefix it is
    missed: the sort key alone (a backward scan that filters) or the equality key alone (then a sort)
    looks good enough first, and beside an existing one-column index on the equality key there is no
    prefix to widen at all."""
    if not has_limit or not usage.order or not usage.equality:
        return None
    cols = [IndexColumn(c) for c in usage.equality[: max_width - len(usage.order)]]
    cols += [IndexColumn(c, descending=d) for c, d in usage.order]
    if len(cols) > max_width or len({c.label for c in cols}) < len(cols):
        return None
    return Candidate(usage.key[0], usage.key[1], tuple(cols))


def fixed_columns(where: str | None) -> set[str]:
    """The columns a candidate's predicate (``"col" = 'value'``, as ``generate`` writes it) fixes."""
    return {m.replace('""', '"') for m in re.findall(r'"((?:[^"]|"")+)"\s*=', where or "")}


def covering(base: Candidate, read: set[str], snapshot: Snapshot) -> Candidate | None:
    """``base`` with INCLUDE of the other columns the statements read, for index-only scans: when they
    are few and narrow."""
    rest = read - {col.column for col in base.columns}
    widths = [snapshot.column(base.table_key, r) for r in rest]
    if 0 < len(rest) <= MAX_INCLUDE and all(w is not None and w.stats and w.stats.avg_width <= MAX_INCLUDE_WIDTH
                                            for w in widths):
        return Candidate(base.schema, base.table, base.columns, tuple(sorted(rest)), base.where, base.method)
    return None


def lead_taken(c: Candidate, chosen: list[Candidate]) -> bool:
    """Whether an index with the same leading key is chosen already, widened or not."""
    return any(c.table_key == p.table_key and c.columns[0] == p.columns[0] for p in chosen)


def _fraction(snapshot: Snapshot, key: TableKey, col: str, value: str, rows: int) -> float:
    """Estimated share of rows equal to ``value``, as the planner would reckon it."""
    column = snapshot.column(key, col)
    stats = column.stats if column else None
    if stats is None:
        return 1.0
    if value in stats.most_common_vals:
        return stats.most_common_freqs[stats.most_common_vals.index(value)]
    rest = 1.0 - sum(stats.most_common_freqs) - stats.null_frac
    others = stats.distinct_values(rows) - len(stats.most_common_vals)
    return rest / others if others > 0 else rest
