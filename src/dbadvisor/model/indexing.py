"""Index facts several checks share: key signatures, which columns an index serves, and the drop fix."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dbadvisor.model.catalog import Index, IndexKey
from dbadvisor.model.ddl import DropIndex

KeySig = tuple[str, bool, bool, str | None, str | None]


def key_signature(key: IndexKey) -> KeySig:
    """Everything that makes two keys interchangeable: expression, direction, nulls, opclass, collation."""
    return (key.expression, key.descending, key.nulls_first, key.opclass, key.collation)


def signature(index: Index) -> tuple[object, ...]:
    """Two indexes with equal signatures are duplicates, whatever their names."""
    return (index.table_key, index.method, tuple(map(key_signature, index.keys)), index.include,
            index.predicate, index.is_unique)


def usable(index: Index) -> bool:
    """Valid and ready: an index the planner can use, so one that can make another redundant."""
    return index.is_valid and index.is_ready


def backs_constraint(index: Index) -> bool:
    return index.is_primary or index.is_exclusion or index.constraint is not None


def serves_columns(index: Index, columns: Iterable[str]) -> bool:
    """True when ``columns`` are exactly the leading key columns of a valid index that can look them up
    by equality (in any order among themselves), as an FK lookup needs. A partial index serves too when
    its predicate only says those columns are NOT NULL: an equality on a column implies it is not null
    (the operator is strict), so the planner proves the predicate and uses the index for the lookup."""
    cols = set(columns)
    if not usable(index) or index.method not in ("btree", "hash"):
        return False
    if index.is_partial and not not_null_only(index.predicate, cols):
        return False
    if index.method == "hash" and len(cols) != 1:
        return False
    leading = index.key_columns[: len(cols)]
    return len(leading) == len(cols) and set(leading) == cols


_NOT_NULL = re.compile(r'^\(*\s*("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s+IS\s+NOT\s+NULL\s*\)*$', re.IGNORECASE)


def not_null_only(predicate: str | None, columns: set[str]) -> bool:
    """Whether a partial index's predicate is only ``col IS NOT NULL`` terms (ANDed) on ``columns``."""
    if not predicate:
        return False
    terms = re.split(r"\s+AND\s+", predicate.strip(), flags=re.IGNORECASE)
    for term in terms:
        m = _NOT_NULL.match(term.strip())
        name = m.group(1) if m else None
        if name is None or (name[1:-1].replace('""', '"') if name.startswith('"') else name) not in columns:
            return False
    return True


def drop_op(index: Index) -> DropIndex:
    """DROP INDEX CONCURRENTLY whose rollback rebuilds the index exactly, concurrently."""
    return DropIndex(index.schema, index.name, definition=index.definition)

