"""redundant_index: indexes whose keys are a leading prefix of another index that serves the same
lookups."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import POSTGRES, SQLITE, Check
from dbadvisor.model.catalog import Index
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.model.indexing import backs_constraint, drop_op, is_prefix, shape_of, signature, usable


def covers(wide: Index, narrow: Index) -> bool:
    """True when ``wide`` serves every lookup ``narrow`` serves (the shared prefix rule) and is not its
    exact duplicate (``duplicate_index`` reports those)."""
    return signature(wide) != signature(narrow) and is_prefix(shape_of(narrow), shape_of(wide))


class RedundantIndex(Check):
    """Index whose keys are a leading prefix of another valid B-tree index with the same predicate: the
    wider index answers the same lookups, so the narrow one only costs writes and space.

    Bad::

        CREATE INDEX chats_bot_id_idx ON chats (bot_id);
        CREATE INDEX chats_bot_id_status_idx ON chats (bot_id, status);

    Good::

        CREATE INDEX chats_bot_id_status_idx ON chats (bot_id, status);

    Never flags an index that enforces uniqueness, a primary key or an exclusion constraint: a wider
    index does not enforce the same thing.
    """

    id = "redundant_index"
    name = "Redundant index"
    groups = ("hygiene", "indexes")
    dialects = frozenset({POSTGRES, SQLITE})
    severity = Severity.LOW
    severity_range = (Severity.LOW, Severity.MEDIUM)
    options = {"large_index_bytes": 100 << 20}

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        for table in snap.tables:
            indexes = [i for i in snap.indexes_of(table.key) if usable(i)]
            for narrow in indexes:
                if narrow.is_unique or backs_constraint(narrow):
                    continue
                wider = [w for w in indexes if w is not narrow and covers(w, narrow)]
                if wider:
                    yield self._finding(narrow, min(wider, key=lambda w: (len(w.keys), w.size_bytes, w.name)))

    def _finding(self, narrow: Index, wide: Index) -> Finding:
        return self.finding(
            narrow.qualname,
            title=f"Index {narrow.qualname} is covered by {wide.qualname}",
            detail=(
                f"The keys of {narrow.qualname} ({', '.join(narrow.key_labels)}) "
                + ("are the keys of " if len(narrow.keys) == len(wide.keys) else "are a leading prefix of ")
                + f"{wide.qualname} ({', '.join(wide.key_labels)})"
                + (" (a unique index)" if wide.is_unique and len(narrow.keys) == len(wide.keys) else "")
                + ", which serves the same lookups. Dropping it "
                f"saves {narrow.size_bytes:,} bytes and its write cost; lookups on the prefix alone may read "
                "a slightly larger index."
            ),
            severity=Severity.MEDIUM if narrow.size_bytes >= self.opts["large_index_bytes"] else Severity.LOW,
            table=narrow.table_qualname,
            columns=narrow.key_labels,
            index=narrow.qualname,
            evidence={
                "covered_by": wide.qualname,
                "covered_by_definition": wide.definition,
                "definition": narrow.definition,
                "size_bytes": narrow.size_bytes,
                "scans": narrow.idx_scan,
                "covering_scans": wide.idx_scan,
            },
            fix=drop_op(narrow),
        )
