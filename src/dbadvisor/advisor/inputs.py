"""The advisor's inputs: each workload statement as the cases it is planned in, with their weights.

A statement is usually planned once, with the values it came with. Where its values decide the plan,
it is planned once per value that matters, each case carrying its share of the statement's weight:

- a shape seen with a few values of a skewed, low-cardinality column (``status = 'active'`` most of the
  time, ``'error'`` now and then) is one case per value, weighted by how often each was used: the rare
  value's partial index is then costed for what the rare case is worth, not drowned by the common one;
- a ``$n`` compared with such a column whose values are unknown (pg_stat_statements without
  pg_qualstats) is planned with the value its rows per call imply, when they single one out, else under
  its most common value and under a rare one, half the weight each; the evidence says which: picking
  one silently would recommend for the common case only.

Shapes over a high-cardinality column (one user among thousands) stay one case: the key's value does
not change the plan's shape, and no value is worth an index of its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dbadvisor.advisor.candidates import LOW_CARDINALITY, RARE_FRACTION
from dbadvisor.advisor.costing import CostModel, Prepared
from dbadvisor.advisor.usage import NotUserWorkload, StatementUsage, UnsupportedStatement, analyze
from dbadvisor.dialects.postgres import DIALECT as PG
from dbadvisor.model.catalog import Snapshot, TableKey
from dbadvisor.model.findings import Skipped
from dbadvisor.model.workload import Statement, Workload
from dbadvisor.workload.shapes import bind, parameters, shape

SAMPLED_ROWS = 1_000  # rows in a JSON key sample (dialects.postgres.sampling)
UNIQUE_RATIO = 0.95  # sampled values this distinct: a unique key
IMPLIED_WITHIN = 3.0  # rows per call within this factor of a value's expected rows implies that value
MAX_CASES = 4  # values of one place planned apart; the rest go with the most frequent
COVERED = 0.9  # the planned values must account for this share of the occurrences


@dataclass(frozen=True)
class Case:
    """One way a statement is planned: the text, the share of the statement's weight, and where its
    values came from (shown in the evidence as ``parameters``)."""

    text: str
    share: float = 1.0
    values: str = ""  # literal | pg_qualstats | pg_stat_activity | assumed common value | assumed rare value
    params: tuple[str | None, ...] = ()


# (table, column) -> [(key, share of rows that have it, distinct values per row, one value)], from a sample
JsonKeys = Callable[[TableKey, str], list[tuple[str, float, float, str | None]]]
MIN_KEY_SHARE = 0.5  # a sampled JSON key present in at least this share of the rows is a likely one
MAX_KEYS = 3


def cases(st: Statement, shape_usage: StatementUsage | None, snapshot: Snapshot,
          json_keys: JsonKeys | None = None) -> list[Case]:
    """The cases ``st`` is planned in (see the module docstring); ``shape_usage`` is what its shape (the
    text with ``$n``) asks of each table, for which column each place compares with. ``json_keys`` samples
    a JSON column's keys, for ``col ->> $n`` whose key pg_stat_statements normalized away."""
    base = [Case(st.query, 1.0, st.values_source, st.params)]
    if shape_usage is None:
        return base
    if st.values:
        found = _known(st, shape_usage, snapshot) or base
    elif not st.params and st.shape is None:
        found = _assumed(st, shape_usage, snapshot) or base
    else:
        found = base
    if json_keys is not None and not st.params:
        return [c for case in found for c in _with_keys(case, st, shape_usage, json_keys, snapshot)]
    return found


def _with_keys(case: Case, st: Statement, usage: StatementUsage, json_keys: JsonKeys,
               snapshot: Snapshot) -> list[Case]:
    """``case`` with the likely key of the first ``col ->> $n`` it still has unbound: of the keys most rows
    of a bounded sample of the column have, the one whose selectivity the statement's rows per call
    imply, when one does; else each, its share of the weight, labelled as assumed."""
    for n, (key, col) in sorted(usage.json_keys.items()):
        if not re.search(rf"\${n}(?!\d)", case.text):
            continue
        found = [(k, ratio, example) for k, share, ratio, example in json_keys(key, col)
                 if share >= MIN_KEY_SHARE][:MAX_KEYS]
        if not found:
            return [case]
        examples = {k: example for k, _, example in found}
        sampled = [(k, ratio) for k, ratio, _ in found]
        prefix = f"{case.values}; " if case.values else ""
        if len(sampled) > 1 and (implied := _implied_key(st, usage, key, sampled, snapshot)) is not None:
            return [Case(_with_value(_bind_one(case.text, n, PG.literal(implied)), implied, examples[implied]),
                         case.share, f"{prefix}key implied by rows per call {PG.literal(implied)} (sampled)")]
        return [Case(_with_value(_bind_one(case.text, n, PG.literal(k)), k, examples[k]), case.share / len(sampled),
                     f"{prefix}assumed key {PG.literal(k)} (sampled)") for k, _ in sampled]
    return [case]


def _telling(key: TableKey, col: str, snapshot: Snapshot) -> tuple[str, ...] | None:
    """The most common values of a skewed, low-cardinality column, or None for any other column."""
    table = snapshot.table(key)
    column = snapshot.column(key, col)
    if table is None or column is None or column.stats is None or not column.stats.most_common_vals:
        return None
    if column.stats.distinct_values(table.rows) > LOW_CARDINALITY:
        return None
    return column.stats.most_common_vals


def _known(st: Statement, usage: StatementUsage, snapshot: Snapshot) -> list[Case]:
    """The statement with the values it was seen with: its own text's constants when they line up with
    the shape's places, else each place's most frequent value (pg_qualstats knows columns, not places).
    The first place that compares a telling column and was seen with several values is planned once per
    value, weighted by use."""
    assert st.shape is not None
    width = max(parameters(st.shape), default=0)
    own = list(shape(st.query).constants)
    by_place = {v.position: v for v in st.values if v.position is not None}
    by_column = {v.column: v for v in st.values if v.column is not None}
    place_values = {n: v for n in range(1, width + 1)
                    if (v := by_place.get(n) or (by_column.get((*usage.params[n][0], usage.params[n][1]))
                                                 if n in usage.params else None)) is not None}
    if len(own) == width:
        constants = own
    else:
        constants = [place_values[n].top[0][0] if n in place_values and place_values[n].top else f"${n}"
                     for n in range(1, width + 1)]
    for n, values in sorted(place_values.items()):
        if n not in usage.params or _telling(*usage.params[n], snapshot) is None or values.distinct < 2:
            continue
        top = values.top[:MAX_CASES]
        counted = sum(c for _, c in top)
        if counted < COVERED * values.seen:
            continue
        return [Case(_bind_known(st.shape, [*constants[: n - 1], value, *constants[n:]]), count / counted,
                     st.values_source) for value, count in top]
    text = _bind_known(st.shape, constants)
    return [Case(text, 1.0, st.values_source if text != st.shape else "")]


def _bind_known(sql: str, constants: list[str]) -> str:
    """``sql`` with the known ``constants`` bound; places still ``$n`` (no value known) are renumbered
    without a gap, for ``whatif.prepare``."""
    known = {n: c for n, c in enumerate(constants, 1) if not re.fullmatch(r"\$\d+", c)}
    return _bind_some(sql, known)


def _assumed(st: Statement, usage: StatementUsage, snapshot: Snapshot) -> list[Case]:
    """Unknown values: the first place that compares a telling column with both a common and a rare
    value is planned under each, half the weight apiece."""
    for n, (key, col) in sorted(usage.params.items()):
        common = _telling(key, col, snapshot)
        column = snapshot.column(key, col)
        if common is None or column is None or column.stats is None:
            continue
        freqs = dict(zip(column.stats.most_common_vals, column.stats.most_common_freqs, strict=False))
        rare = [v for v in common if freqs.get(v, 1.0) < RARE_FRACTION]
        if not rare or freqs[common[0]] < RARE_FRACTION:
            continue
        if (implied := _implied(st, usage, key, freqs, snapshot)) is not None:
            return [Case(_bind_one(st.query, n, PG.literal(implied)), 1.0,
                         f"value implied by rows per call {PG.literal(implied)}")]
        picks = ((common[0], "assumed common value"), (rare[-1], "assumed rare value"))
        return [Case(_bind_one(st.query, n, PG.literal(v)), 0.5, f"{label} {PG.literal(v)}") for v, label in picks]
    return []


def _implied(st: Statement, usage: StatementUsage, key: TableKey, freqs: dict[str, float],
             snapshot: Snapshot) -> str | None:
    """The common value whose share of the table matches the rows the statement returns per call, when
    that can tell (one table, no LIMIT to cut the count, one value within a factor of ``IMPLIED_WITHIN``
    and no other near it): pg_stat_statements' rows and calls say which value the application asks for."""
    table = snapshot.table(key)
    if not _counts_rows(st, usage) or table is None or table.rows <= 0:
        return None
    return _the_one_that_fits(((v, f * table.rows) for v, f in freqs.items()), st.rows / st.calls)


def _the_one_that_fits(expected: Iterable[tuple[str, float]], per_call: float) -> str | None:
    """Of (value, rows it would return a call), the one within a factor of ``IMPLIED_WITHIN`` of the rows
    the statement returns a call; None when none does, or more than one (then it cannot tell)."""
    fits = [v for v, rows in expected if abs(math.log((rows + 1) / (per_call + 1))) <= math.log(IMPLIED_WITHIN)]
    return fits[0] if len(fits) == 1 else None


def _with_value(sql: str, key: str, example: str | None) -> str:
    """``sql`` with the value compared to ``col ->> 'key'`` bound to a value the sample found, when it is
    still a parameter: EXPLAIN ANALYZE (verify, apply) needs a real one, and no statistics give it."""
    if example is None:
        return sql
    m = re.search(rf"->>\s*{re.escape(PG.literal(key))}\s*\)?\s*=\s*\$(\d+)(?!\d)", sql)
    return _bind_one(sql, int(m.group(1)), PG.literal(example)) if m else sql


def _implied_key(st: Statement, usage: StatementUsage, key: TableKey, sampled: list[tuple[str, float]],
                 snapshot: Snapshot) -> str | None:
    """The sampled key whose values' selectivity matches the rows the statement returns per call (a
    unique key: about one row), when exactly one does and the count can tell (see ``_implied``)."""
    table = snapshot.table(key)
    if not _counts_rows(st, usage) or table is None or table.rows <= 0:
        return None
    def expected(ratio: float) -> float:
        """Rows per value: about one for a key whose sampled values are (nearly) all distinct, else the
        table's rows over the distinct values the sample saw."""
        if ratio >= UNIQUE_RATIO:
            return 1.0
        return table.rows / max(ratio * min(table.rows, SAMPLED_ROWS), 1.0)

    return _the_one_that_fits(((k, expected(ratio)) for k, ratio in sampled), st.rows / st.calls)


def _counts_rows(st: Statement, usage: StatementUsage) -> bool:
    """Whether the statement's rows per call say how many rows its filter keeps: one table, a plain
    SELECT without LIMIT, GROUP BY or aggregate."""
    return (bool(st.calls) and len(usage.tables) == 1 and usage.kind == "select" and not usage.has_limit
            and not usage.aggregate and not any(u.group for u in usage.tables.values()))


def _bind_one(sql: str, n: int, literal: str) -> str:
    """``sql`` with only ``$n`` bound (see ``_bind_some``)."""
    return _bind_some(sql, {n: literal})


def _bind_some(sql: str, literals: dict[int, str]) -> str:
    """``sql`` with the ``$n`` of ``literals`` bound; the other parameters are left to ``whatif.prepare``,
    renumbered without a gap (a prepared statement's parameters must all be used)."""
    width = max(parameters(sql), default=0)
    values, left = [], 0
    for i in range(1, width + 1):
        if i in literals:
            values.append(literals[i])
        else:
            left += 1
            values.append(f"${left}")
    return bind(sql, values)


CHECK = "missing_index"  # skipped statements are reported under the advisor's check


@dataclass
class Query:
    """One planned case of a workload statement, with its baseline cost and weight."""

    sid: int
    statement: Statement
    usage: StatementUsage
    prepared: Prepared
    base: float = 0.0
    weight: float = 0.0
    share: float = 1.0  # of the statement's weight: a statement planned in several cases
    values: str = ""  # where the case's values came from, when it has values

    @property
    def binding(self) -> str:
        return self.values or self.prepared.binding

    @property
    def tables(self) -> set[TableKey]:
        return set(self.usage.tables)


def planned(model: CostModel, snapshot: Snapshot, workload: Workload, json_keys: JsonKeys | None = None,
            progress: Callable[[str, int, int], None] | None = None) -> tuple[list[Query], list[Skipped]]:
    """Every statement's cases with their cost under no new index; statements that cannot be read or
    planned are skipped with the reason, and catalog queries (monitoring tools) left out."""
    skipped = list(workload.skipped)
    queries: list[Query] = []
    sid = 0
    for n, st in enumerate(workload.statements):
        try:
            usage = analyze(st.query, snapshot)
            shape_usage = analyze(st.shape, snapshot) if st.shape else usage
            for case in cases(st, shape_usage, snapshot, json_keys):
                case_usage = usage if case.text == st.query else analyze(case.text, snapshot)
                q = Query(sid, st, case_usage, model.prepare(case.text, case.params), share=case.share,
                          values=case.values)
                sid += 1
                if case_usage.kind != "insert":
                    q.base = model.plan(q.sid, q.prepared, q.usage, ()).cost
                queries.append(q)
        except NotUserWorkload:
            pass  # catalog queries (monitoring tools, dbadvisor itself): not the application's
        except UnsupportedStatement as exc:
            skipped.append(Skipped(CHECK, f"statement skipped ({st.source}): {exc}: {_short(st.query)}"))
        if progress:
            progress("baseline", n + 1, len(workload.statements))
    return queries, skipped


def weigh(queries: list[Query], weight: str) -> tuple[list[Query], bool]:
    """The reading statements, each weighted: by time (its total execution time, spread over its planner
    cost, so a gain in cost units is a gain in milliseconds) when every one has a time and ``weight`` is
    "time", else by calls (or a ``-- weight: N``). Returns (readers, whether time was used)."""
    readers = [q for q in queries if q.usage.kind != "insert" and q.base > 0]
    use_time = weight == "time" and all(q.statement.total_ms > 0 for q in readers)
    for q in readers:
        explicit = q.statement.weight if q.statement.weight is not None else q.statement.calls
        q.weight = q.share * ((q.statement.total_ms / q.base) if use_time else float(explicit))
    return readers, use_time


def _short(query: str, n: int = 160) -> str:
    text = " ".join(query.split())
    return text if len(text) <= n else text[: n - 1] + "…"
