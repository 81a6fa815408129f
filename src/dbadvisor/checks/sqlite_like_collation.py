"""sqlite_like_collation: a prefix LIKE that cannot use the index on its column (collation mismatch)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

from dbadvisor.checks.base import SQLITE, WORKLOAD, Check, CheckSkipped
from dbadvisor.model.ddl import CreateIndex, IndexColumn, index_name
from dbadvisor.model.findings import Finding, Severity


class SqliteLikeCollation(Check):
    """LIKE that cannot use its index: SQLite's LIKE is case-insensitive, so ``name LIKE 'abc%'`` can use an
    index on ``name`` only when that index compares without case (``COLLATE NOCASE``); an index with the
    default BINARY collation is ignored and the table is scanned.

    Bad::

        CREATE INDEX bots_name_idx ON bots (name);  SELECT * FROM bots WHERE name LIKE 'trade%';  -- SCAN bots

    Good::

        CREATE INDEX bots_name_nocase_idx ON bots (name COLLATE NOCASE);  -- SEARCH bots USING INDEX
    """

    id = "sqlite_like_collation"
    name = "SQLite LIKE that cannot use its index"
    groups = ("indexes", "performance", WORKLOAD)
    dialects = frozenset({SQLITE})
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.MEDIUM)
    options = {"min_rows": 10_000}

    def run(self) -> Iterator[Finding]:
        if self.ctx.workload is None:
            raise CheckSkipped(self.ctx.advice_unavailable or "no workload to read its LIKE filters")
        snap = self.ctx.snapshot
        seen: set[tuple[str, str]] = set()
        for st in self.ctx.workload.statements:
            try:
                tree = parse_one(st.query, read="sqlite")
            except (SqlglotError, ValueError):
                continue
            tables = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
            for like in tree.find_all(exp.Like):
                col, pattern = like.this, like.expression
                if not isinstance(col, exp.Column) or not isinstance(pattern, exp.Literal) or not pattern.is_string:
                    continue
                if str(pattern.this).startswith(("%", "_")):
                    continue  # no prefix: no index serves it anyway
                table = tables.get(col.table) if col.table else (next(iter(tables.values())) if len(tables) == 1
                                                                 else None)
                key = ("main", table or "")
                t = snap.table(key)
                if t is None or t.rows < self.opts["min_rows"] or (table or "", col.name) in seen:
                    continue
                leading = [i for i in snap.indexes_of(key) if i.keys and i.keys[0].column == col.name]
                if not leading or any((i.keys[0].collation or "").upper() == "NOCASE" for i in leading):
                    continue
                seen.add((t.name, col.name))
                fix = CreateIndex("main", t.name, index_name(t.name, (col.name, "nocase")),
                                  (IndexColumn(expression=f'"{col.name}" COLLATE NOCASE'),), concurrently=False)
                yield self.finding(
                    f"{t.qualname}.{col.name}",
                    title=f"LIKE on {t.qualname}.{col.name} cannot use {leading[0].name} (BINARY collation)",
                    detail=(f"{st.source}: `{col.name} LIKE '{pattern.this}'` is case-insensitive, and "
                            f"{', '.join(i.name for i in leading)} compare(s) {col.name} with the BINARY collation, "
                            f"so SQLite scans {t.qualname} ({t.rows:,} rows). An index on ({col.name} COLLATE NOCASE) "
                            "serves it (or PRAGMA case_sensitive_like = ON, if the application means case)."),
                    table=t.qualname,
                    columns=(col.name,),
                    evidence={"statement": st.query, "indexes": [i.name for i in leading], "rows": t.rows},
                    fix=fix,
                )
