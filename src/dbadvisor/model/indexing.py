"""Index facts several checks share: key signatures, which columns an index serves, and the drop fix."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

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


# -- the prefix rules: one place for "this index serves what that one does" --------------------------
# Used by duplicate/redundant_index (catalog index against catalog index), by the advisor's candidate
# pool (is a candidate already served?) and by its results (which existing indexes a recommendation makes
# redundant). Keys are compared by label (column name, or expression text normalised) and order.


@dataclass(frozen=True)
class KeyShape:
    label: str  # column name, or the expression text normalised (see ``normalize_expression``)
    descending: bool = False
    nulls_first: bool = False
    opclass: str | None = None  # non-default only
    collation: str | None = None  # non-default only

    @property
    def flipped(self) -> KeyShape:
        """The same key scanned backwards, as a B-tree can: direction and null placement reversed."""
        return replace(self, descending=not self.descending, nulls_first=not self.nulls_first)

    def same_order(self, other: KeyShape) -> bool:
        """Same key, same direction: enough for a lookup or a sort (opclass and collation aside)."""
        return (self.label, self.descending) == (other.label, other.descending)


@dataclass(frozen=True)
class IndexShape:
    """What the prefix rules compare of an index, existing or proposed."""

    method: str
    keys: tuple[KeyShape, ...]
    include: tuple[str, ...] = ()
    predicate: str | None = None

    @property
    def columns(self) -> set[str]:
        """Key labels and INCLUDE columns: what an index-only scan can return."""
        return {k.label for k in self.keys} | set(self.include)


def normalize_expression(text: str) -> str:
    """An expression key as written by a user, by pg_get_indexdef or by the advisor, in one spelling:
    quotes, spaces and the ``::text`` casts PostgreSQL adds to string literals dropped, lower case."""
    return text.replace('"', "").replace("::text", "").replace(" ", "").lower()


def shape_of(index: Index) -> IndexShape:
    keys = tuple(KeyShape(k.column or normalize_expression(k.expression), k.descending, k.nulls_first, k.opclass,
                          k.collation) for k in index.keys)
    return IndexShape(index.method, keys, tuple(index.include), index.predicate or None)


def is_prefix(narrow: IndexShape, wide: IndexShape, strict: bool = False) -> bool:
    """Whether ``wide`` serves every lookup ``narrow`` serves: a B-tree with the same predicate whose
    leading keys are ``narrow``'s exactly (opclass and collation included), and which holds ``narrow``'s
    INCLUDE columns. ``strict``: ``wide`` also has more keys."""
    if wide.method != "btree" or narrow.method != "btree" or wide.predicate != narrow.predicate:
        return False
    n = len(narrow.keys)
    if n > len(wide.keys) or (strict and n == len(wide.keys)):
        return False
    return wide.keys[:n] == narrow.keys and set(narrow.include) <= wide.columns


def leads_with(index: IndexShape, want: IndexShape) -> bool:
    """Whether ``index`` starts with ``want``'s keys in the same order (or all reversed: a B-tree scans
    backwards too), with the same method and predicate: then ``want`` adds nothing for lookups or sorts."""
    if index.method != want.method or index.predicate != want.predicate or len(index.keys) < len(want.keys):
        return False
    lead = index.keys[: len(want.keys)]
    return (all(a.same_order(b) for a, b in zip(lead, want.keys, strict=True))
            or all(a.flipped.same_order(b) for a, b in zip(lead, want.keys, strict=True)))


def drop_op(index: Index) -> DropIndex:
    """DROP INDEX CONCURRENTLY whose rollback rebuilds the index exactly, concurrently."""
    return DropIndex(index.schema, index.name, definition=index.definition)

