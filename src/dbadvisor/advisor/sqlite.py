"""The workload index advisor on a SQLite file: the same statement analysis (sqlglot's sqlite dialect),
candidates including expression (``json_extract``, ``lower``) and partial indexes, chosen for the whole
workload, and every figure measured: SQLite's planner gives no costs, so each candidate is built for real
on a private copy of the file (the backup API), inside a savepoint, the statements on its table timed and
their ``EXPLAIN QUERY PLAN`` read, and the savepoint rolled back.

The search is greedy: each round builds every remaining candidate once (a candidate is re-measured only
when an index chosen on its table since could change its figures), keeps the one that saves the most
weighted time (the workload's writes on its table, timed in savepoints, count against it: each index is
one more to keep up), builds it on the copy for good, and goes on until no candidate saves at least
``min_gain`` of what its statements cost, or ``max_indexes`` are chosen, or the budget is spent.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dbadvisor.advisor.candidates import Candidate
from dbadvisor.advisor.options import AdvisorOptions
from dbadvisor.advisor.results import Advice, QueryCost, Recommendation, made_redundant
from dbadvisor.advisor.usage import StatementUsage, UnsupportedStatement, analyze
from dbadvisor.dialects.sqlite import DIALECT, explain
from dbadvisor.dialects.sqlite.connection import open_copy
from dbadvisor.model.catalog import Snapshot
from dbadvisor.model.ddl import IndexColumn
from dbadvisor.model.findings import Skipped
from dbadvisor.model.indexing import is_prefix, shape_of
from dbadvisor.model.workload import Statement, Workload

Progress = Callable[[str, int, int], None]
SCHEMA = "main"


@dataclass(frozen=True)
class SqliteAdvisorOptions:
    runs: int = 3  # timed runs of each statement (after one warm-up); the median counts
    min_gain: float = 0.10  # a candidate must save this share of its statements' time ...
    min_gain_ms: float = 0.05  # ... and this many ms a call
    max_width: int = 3
    scratch_dir: str | None = None  # where the private copy goes (default: the system's temporary directory)


@dataclass
class _Query:
    sid: int
    statement: Statement
    usage: StatementUsage
    weight: float
    base_ms: float = 0.0
    plan: str = ""
    first_ms: float = 0.0  # before any recommendation


@dataclass
class _Run:
    conn: sqlite3.Connection
    opts: SqliteAdvisorOptions
    builds: int = 0

    def plan(self, q: _Query) -> str:
        return explain.plan(self.conn, q.statement.query)

    def measure(self, q: _Query) -> tuple[float, str]:
        """Median time (ms) and plan; a statement whose warm-up took over a second is run once."""
        return explain.measure(self.conn, q.statement.query, self.opts.runs, once_over_ms=1000), self.plan(q)

    def measure_write(self, q: _Query) -> tuple[float, str]:
        """Median time (ms) of a write, each run in a savepoint rolled back (the copy stays as it was)."""
        runs = []
        for i in range(1 + self.opts.runs):
            self.conn.execute("SAVEPOINT dbadvisor_write")
            try:
                start = time.perf_counter()
                self.conn.execute(q.statement.query)
                elapsed = (time.perf_counter() - start) * 1000
            finally:
                self.conn.execute("ROLLBACK TO dbadvisor_write")
                self.conn.execute("RELEASE dbadvisor_write")
            if i:
                runs.append(elapsed)
        return statistics.median(runs), ""

    def with_index(self, c: Candidate, queries: list[_Query],
                   writes: Sequence[_Query] = ()) -> dict[int, tuple[float, str]]:
        """The statements' time and plan with ``c`` built (in a savepoint, rolled back). A statement whose
        plan does not use it runs as before: it is not timed again. Writes on its table are timed: the index
        is one more to keep up."""
        self.builds += 1
        self.conn.execute("SAVEPOINT dbadvisor_candidate")
        try:
            for statement, _ in DIALECT.statements(c.operation(concurrently=False)):
                self.conn.execute(statement)
            out = {}
            for q in queries:
                plan = self.plan(q)
                out[q.sid] = self.measure(q) if uses(plan, c) else (q.base_ms, plan)
            for w in writes:
                out[w.sid] = self.measure_write(w)
            return out
        finally:
            self.conn.execute("ROLLBACK TO dbadvisor_candidate")
            self.conn.execute("RELEASE dbadvisor_candidate")

    def build(self, c: Candidate) -> int:
        for statement, _ in DIALECT.statements(c.operation(concurrently=False)):
            self.conn.execute(statement)
        return explain.index_bytes(self.conn, c.name)


def uses(plan: str, c: Candidate) -> bool:
    return explain.plan_uses(plan, c.name)


def candidates(q: _Query, snapshot: Snapshot, max_width: int) -> list[Candidate]:
    """Indexes that could serve one statement: its equalities (then a range or the sort), its expression
    filters, and partial indexes for a rare constant."""
    out: list[Candidate] = []
    for key, tu in q.usage.tables.items():
        eq = tu.equality[:max_width]
        then: list[IndexColumn] = []
        if tu.range:
            then = [IndexColumn(tu.range[0])]
        elif tu.order:
            then = [IndexColumn(tu.order[0][0], descending=tu.order[0][1])]
        shapes: list[tuple[IndexColumn, ...]] = []
        if eq:
            shapes.append(tuple(IndexColumn(c) for c in eq))
            if then and then[0].column not in eq and len(eq) < max_width:
                shapes.append((*shapes[0], *then))
        elif then:
            shapes.append(tuple(then))
        for expression in tu.expressions:
            shapes.append((IndexColumn(expression=expression),))
            if eq:
                shapes.append((IndexColumn(expression=expression), *(IndexColumn(c) for c in eq[: max_width - 1])))
        for shape in shapes:
            out.append(Candidate(key[0], key[1], shape))
        for col, value in tu.constants.items():  # a rare status: an index of just those rows
            rest = [IndexColumn(c) for c in eq if c != col][: max_width] or then
            if rest:
                where = f"{DIALECT.quote(col)} = {DIALECT.literal(value)}"
                out.append(Candidate(key[0], key[1], tuple(rest), where=where))
    existing = {t: [shape_of(i) for i in snapshot.indexes_of(t)] for t in q.usage.tables}
    return [c for c in out if not any(is_prefix(c.shape, have, True) for have in existing[c.table_key])]


def advise(path: Path, snapshot: Snapshot, workload: Workload, options: AdvisorOptions | None = None,
           opts: SqliteAdvisorOptions | None = None, progress: Progress | None = None) -> Advice:
    """Recommendations for ``workload`` on the SQLite file ``path``, measured on a private copy."""
    options = options or AdvisorOptions()
    opts = opts or SqliteAdvisorOptions()
    started = time.monotonic()
    skipped: list[Skipped] = []
    queries: list[_Query] = []
    writes: list[_Query] = []  # timed in savepoints: what each index costs them
    for sid, st in enumerate(workload.statements):
        try:
            usage = analyze(st.query, snapshot, (SCHEMA,), dialect="sqlite")
        except UnsupportedStatement as exc:
            skipped.append(Skipped("missing_index", f"{st.source}: {exc}"))
            continue
        if "?" in st.query or st.params:
            skipped.append(Skipped("missing_index", f"{st.source}: has parameters; give the statement with values"))
            continue
        q = _Query(sid, st, usage, float(st.weight if st.weight is not None else st.calls))
        (queries if usage.kind == "select" else writes).append(q)
    scratch = tempfile.TemporaryDirectory(prefix="dbadvisor-sqlite-", dir=opts.scratch_dir)
    conn = open_copy(path, Path(scratch.name))
    conn.isolation_level = None  # autocommit: the savepoints are ours
    run = _Run(conn, opts)
    try:
        for q in list(queries):
            try:
                q.base_ms, q.plan = run.measure(q)
                q.first_ms = q.base_ms
            except sqlite3.Error as exc:
                skipped.append(Skipped("missing_index", f"{q.statement.source}: cannot run: {exc}"))
                queries.remove(q)
        for w in list(writes):
            try:
                w.base_ms, _ = run.measure_write(w)
                w.first_ms = w.base_ms
            except sqlite3.Error as exc:
                skipped.append(Skipped("missing_index", f"{w.statement.source}: cannot run: {exc}"))
                writes.remove(w)
        pool: dict[Candidate, None] = {}
        for q in queries:
            for c in candidates(q, snapshot, opts.max_width):
                pool.setdefault(c, None)
        budget = options.budget_bytes if options.budget_bytes is not None else int(
            snapshot.database.size_bytes * options.budget_fraction)
        chosen: list[tuple[Candidate, int, dict[int, tuple[float, float]]]] = []
        spent = 0
        measured: dict[Candidate, dict[int, tuple[float, str]]] = {}
        limit = options.max_indexes if options.max_indexes is not None else len(pool)
        while len(chosen) < limit and pool:
            best: Candidate | None = None
            best_gain, best_times = 0.0, {}
            for i, c in enumerate(pool):
                if progress:
                    progress("measure candidates", i + 1, len(pool))
                on_table = [q for q in queries if c.table_key in q.usage.tables]
                writing = [w for w in writes if c.table_key in w.usage.tables]
                if c not in measured:
                    try:
                        measured[c] = run.with_index(c, on_table, writing)
                    except sqlite3.Error as exc:
                        skipped.append(Skipped("missing_index", f"candidate {c.name}: {exc}"))
                        measured[c] = {}
                gain, gains = 0.0, {}
                for q in on_table:
                    ms, plan = measured[c].get(q.sid, (q.base_ms, ""))
                    used = uses(plan, c)
                    if used and q.base_ms - ms >= max(q.base_ms * opts.min_gain, opts.min_gain_ms):
                        gain += q.weight * (q.base_ms - ms)
                        gains[q.sid] = (q.base_ms, ms)
                    elif used and ms > q.base_ms * (1 + opts.min_gain) + opts.min_gain_ms:
                        gain -= q.weight * (ms - q.base_ms)  # it made a statement slower: do no harm
                for w in writing:  # every write keeps the index up: its cost counts against the gain
                    ms = measured[c].get(w.sid, (w.base_ms, ""))[0]
                    if ms > w.base_ms:
                        gain -= w.weight * (ms - w.base_ms)
                if gain > best_gain and gains:
                    best, best_gain, best_times = c, gain, gains
            if best is None:
                break
            size = run.build(best)
            if spent + size > budget:
                run.conn.execute(f"DROP INDEX {DIALECT.quote(SCHEMA, best.name)}")
                skipped.append(Skipped("missing_index", f"{best.name} ({size:,} bytes) does not fit the budget"))
                pool.pop(best)
                continue
            spent += size
            chosen.append((best, size, best_times))
            pool.pop(best)
            for q in queries:  # the statements on that table now run with it
                if best.table_key in q.usage.tables:
                    q.base_ms, q.plan = run.measure(q)
            for w in writes:
                if best.table_key in w.usage.tables:
                    w.base_ms, _ = run.measure_write(w)
            for c in [c for c in measured if c.table_key == best.table_key]:
                del measured[c]  # its figures were taken without the index just chosen
    finally:
        conn.close()
        scratch.cleanup()  # the copy is as large as the file: it never outlives the run
    recs = []
    final = {q.sid: q for q in queries}
    for c, size, times in chosen:
        helped = [QueryCost(final[sid].statement, final[sid].weight, final[sid].first_ms, after, "literal",
                            frozenset({c}), final[sid].statement.query) for sid, (_, after) in times.items()]
        upkeep = [QueryCost(w.statement, w.weight, w.first_ms, w.base_ms, "literal", frozenset(), w.statement.query)
                  for w in writes if c.table_key in w.usage.tables]
        recs.append(Recommendation(c, size, helped, made_redundant(c, snapshot.indexes_of(c.table_key)),
                                   bystanders=upkeep))
    costs = [QueryCost(q.statement, q.weight, q.first_ms, q.base_ms, "literal", frozenset(), q.statement.query)
             for q in queries]
    before = sum(q.weight * q.first_ms for q in queries)
    after = sum(q.weight * q.base_ms for q in queries)
    figures = {"statements": len(workload.statements), "measured_statements": len(queries) + len(writes),
               "candidates": len(pool) + len(chosen), "builds": run.builds, "what_if_calls": run.builds,
               "seconds": round(time.monotonic() - started, 2), "budget_bytes": budget,
               "budget_used_bytes": spent, "unit": "ms", "costed": "built and timed on a private copy"}
    return Advice(recs, costs, before, after, budget, run.builds, len(pool) + len(chosen), skipped, "calls", figures)
