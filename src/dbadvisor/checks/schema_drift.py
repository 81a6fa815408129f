"""schema_drift: what differs between two schemas (a database, its migrations, its ORM models, a
snapshot), compared by meaning rather than by spelling.

``A`` is the reference: ``missing_*`` is in A and not in B, ``extra_*`` is in B and not in A. Both sides
are PostgreSQL catalogs (offline sources are built in a shadow database first), so types, NOT NULL and
index definitions are the server's own rendering and most equivalent spellings (``varchar`` and
``String``, ``timestamptz`` and ``DateTime(timezone=True)``, unquoted case folding) compare equal by
construction. What is still compared by meaning here: indexes and unique constraints by definition
(never by name; a UNIQUE constraint's index is the index), auto-increment (``serial``, identity,
``autoincrement``) as one thing, defaults with their casts stripped, and a default on one side only is
not drift (client-side defaults such as SQLAlchemy's ``default=`` or Prisma's ``cuid()`` live outside the
schema). Migration bookkeeping tables are ignored. A whole missing or extra table is one finding.

Bad::

    models: password = mapped_column(String)      database: "passwordHash" text

Good::

    models and database agree on every table, column, index and constraint
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dbadvisor.model.catalog import Column, Constraint, ConstraintType, Index, Snapshot, qualname
from dbadvisor.model.findings import Finding, Severity

CHECK_ID = "schema_drift"
BOOKKEEPING = frozenset({"alembic_version", "_prisma_migrations", "schema_migrations", "__diesel_schema_migrations",
                         "flyway_schema_history", "ar_internal_metadata"})
_CAST = re.compile(r"::[a-z][a-z0-9_ ]*(\([0-9, ]+\))?(\[\])?", re.IGNORECASE)
_SEVERITY = {"missing_table": Severity.HIGH, "missing_column": Severity.HIGH, "type_mismatch": Severity.HIGH,
             "nullability_mismatch": Severity.MEDIUM, "default_mismatch": Severity.MEDIUM,
             "missing_index": Severity.MEDIUM, "constraint_mismatch": Severity.MEDIUM,
             "extra_table": Severity.LOW, "extra_column": Severity.LOW, "extra_index": Severity.LOW}


@dataclass(frozen=True)
class Sides:
    a: str  # labels, for the text
    b: str


def _tables(s: Snapshot) -> dict[tuple[str, str], Any]:
    return {t.key: t for t in s.tables if t.name not in BOOKKEEPING and t.parent is None}


def _auto(c: Column) -> bool:
    return c.identity is not None or (c.default or "").startswith("nextval(")


def _default(c: Column) -> str | None:
    if c.default is None or _auto(c):
        return None
    return _CAST.sub("", c.default).strip("() ")


def _index_sig(i: Index) -> tuple[Any, ...]:
    return (i.method, i.key_labels, i.include, i.predicate, i.is_unique)


def _constraint_sig(c: Constraint) -> tuple[Any, ...]:
    if c.type == ConstraintType.FOREIGN_KEY:
        return (c.type, c.columns, c.ref_schema, c.ref_table, c.ref_columns, c.on_delete, c.on_update)
    if c.type == ConstraintType.CHECK:
        return (c.type, c.definition)
    return (c.type, c.columns)  # primary keys (unique ones are compared as their indexes)


def compare(a: Snapshot, b: Snapshot, sides: Sides) -> list[Finding]:
    """The drift findings of ``b`` against the reference ``a``."""
    return sorted(_compare(a, b, sides), key=lambda f: (-f.severity.rank, f.id))


def _finding(kind: str, subject: str, title: str, sides: Sides, table: str | None, columns: tuple[str, ...] = (),
             **evidence: Any) -> Finding:
    return Finding(f"{CHECK_ID}:{kind}:{subject}", CHECK_ID, _SEVERITY[kind], title,
                   f"{title} ({sides.a} is the reference, compared with {sides.b}).", table=table, columns=columns,
                   evidence={"kind": kind, **evidence})


def _compare(a: Snapshot, b: Snapshot, sides: Sides) -> Iterator[Finding]:
    ta, tb = _tables(a), _tables(b)
    for key in sorted(ta.keys() - tb.keys()):
        name = qualname(*key)
        yield _finding("missing_table", name, f"Table {name} is in {sides.a} but not in {sides.b}", sides, name,
                       columns=tuple(c.name for c in a.columns_of(key)))
    for key in sorted(tb.keys() - ta.keys()):
        name = qualname(*key)
        yield _finding("extra_table", name, f"Table {name} is in {sides.b} but not in {sides.a}", sides, name,
                       columns=tuple(c.name for c in b.columns_of(key)))
    for key in sorted(ta.keys() & tb.keys()):
        yield from _compare_table(a, b, key, sides)


def _compare_table(a: Snapshot, b: Snapshot, key: tuple[str, str], sides: Sides) -> Iterator[Finding]:
    table = qualname(*key)
    ca = {c.name: c for c in a.columns_of(key)}
    cb = {c.name: c for c in b.columns_of(key)}
    for name in sorted(ca.keys() - cb.keys()):
        yield _finding("missing_column", f"{table}.{name}", f"Column {table}.{name} ({ca[name].type}) is missing "
                       f"from {sides.b}", sides, table, (name,), type=ca[name].type)
    for name in sorted(cb.keys() - ca.keys()):
        yield _finding("extra_column", f"{table}.{name}", f"Column {table}.{name} ({cb[name].type}) is only in "
                       f"{sides.b}", sides, table, (name,), type=cb[name].type)
    for name in sorted(ca.keys() & cb.keys()):
        x, y = ca[name], cb[name]
        if x.type != y.type:
            yield _finding("type_mismatch", f"{table}.{name}", f"Column {table}.{name} is {x.type} in {sides.a} "
                           f"but {y.type} in {sides.b}", sides, table, (name,), a=x.type, b=y.type)
        if x.not_null != y.not_null:
            def null(c: Column) -> str:
                return "NOT NULL" if c.not_null else "nullable"
            yield _finding("nullability_mismatch", f"{table}.{name}", f"Column {table}.{name} is {null(x)} in "
                           f"{sides.a} but {null(y)} in {sides.b}", sides, table, (name,), a=null(x), b=null(y))
        dx, dy = _default(x), _default(y)
        if dx is not None and dy is not None and dx != dy:
            yield _finding("default_mismatch", f"{table}.{name}", f"Column {table}.{name} defaults to {x.default} "
                           f"in {sides.a} but to {y.default} in {sides.b}", sides, table, (name,),
                           a=x.default, b=y.default)
    ia = {_index_sig(i): i for i in a.indexes_of(key)}
    ib = {_index_sig(i): i for i in b.indexes_of(key)}
    for sig in sorted(ia.keys() - ib.keys(), key=str):
        i = ia[sig]
        yield _finding("missing_index", f"{table}({', '.join(i.key_labels)})", f"Index {i.name} on {table} "
                       f"({', '.join(i.key_labels)}) has no equivalent in {sides.b}", sides, table, i.key_labels,
                       definition=i.definition)
    for sig in sorted(ib.keys() - ia.keys(), key=str):
        i = ib[sig]
        yield _finding("extra_index", f"{table}({', '.join(i.key_labels)})", f"Index {i.name} on {table} "
                       f"({', '.join(i.key_labels)}) is only in {sides.b}", sides, table, i.key_labels,
                       definition=i.definition)
    relevant = (ConstraintType.FOREIGN_KEY, ConstraintType.CHECK, ConstraintType.PRIMARY_KEY)
    ka = {_constraint_sig(c): c for c in a.constraints_of(key) if c.type in relevant}
    kb = {_constraint_sig(c): c for c in b.constraints_of(key) if c.type in relevant}
    for sig in sorted(ka.keys() ^ kb.keys(), key=str):
        c, where = (ka[sig], sides.b) if sig in ka else (kb[sig], sides.a)
        yield _finding("constraint_mismatch", f"{table}.{c.name}", f"Constraint {c.name} on {table} "
                       f"({c.definition}) has no equivalent in {where}", sides, table, c.columns,
                       definition=c.definition, only_in=sides.a if sig in ka else sides.b)
