"""duplicate_index: indexes identical to another one on the same table, names aside."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from dbadvisor.checks.base import POSTGRES, SQLITE, Check
from dbadvisor.model.catalog import Index
from dbadvisor.model.findings import Finding, Severity
from dbadvisor.model.indexing import backs_constraint, drop_op, signature, usable


class DuplicateIndex(Check):
    """Two indexes with the same method, keys (order, opclass, collation, direction), INCLUDE and
    predicate: every write maintains both, and the planner only ever needs one.

    Bad::

        CREATE INDEX chats_bot_id_idx ON chats (bot_id);
        CREATE INDEX idx_chats_bot ON chats (bot_id);

    Good::

        CREATE INDEX chats_bot_id_idx ON chats (bot_id);
    """

    id = "duplicate_index"
    name = "Duplicate index"
    groups = ("hygiene", "indexes")
    dialects = frozenset({POSTGRES, SQLITE})
    severity = Severity.MEDIUM
    severity_range = (Severity.MEDIUM, Severity.HIGH)
    options = {"large_index_bytes": 1 << 30}

    def run(self) -> Iterator[Finding]:
        groups: defaultdict[tuple[object, ...], list[Index]] = defaultdict(list)
        for index in self.ctx.snapshot.indexes:
            if usable(index):
                groups[signature(index)].append(index)
        for twins in groups.values():
            if len(twins) < 2:
                continue
            # Keep the one a constraint needs; then the most used; then the first by name.
            keep = min(twins, key=lambda i: (not backs_constraint(i), -i.idx_scan, i.name))
            for dup in twins:
                if dup is not keep and not backs_constraint(dup):
                    yield self._finding(dup, keep)

    def _finding(self, dup: Index, keep: Index) -> Finding:
        big = dup.size_bytes >= self.opts["large_index_bytes"]
        return self.finding(
            dup.qualname,
            title=f"Index {dup.qualname} duplicates {keep.qualname}",
            detail=(
                f"{dup.qualname} has the same definition as {keep.qualname} on {dup.table_qualname}; "
                f"drop it to save {dup.size_bytes:,} bytes and the cost of maintaining it on every write. "
                f"{keep.qualname} is kept" + (" (it backs a constraint)." if backs_constraint(keep) else ".")
            ),
            severity=Severity.HIGH if big else Severity.MEDIUM,
            table=dup.table_qualname,
            columns=dup.key_labels,
            index=dup.qualname,
            evidence={
                "duplicate_of": keep.qualname,
                "definition": dup.definition,
                "kept_definition": keep.definition,
                "size_bytes": dup.size_bytes,
                "scans": dup.idx_scan,
                "kept_scans": keep.idx_scan,
            },
            fix=drop_op(dup),
        )
