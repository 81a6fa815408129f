"""Named, versioned catalog queries (in the manner of pgcli's pgspecial).

Every SQL text dbadvisor sends to collect facts lives in a module of this package under a name. A name
may have several variants for different server versions; ``get`` picks the newest one the server can run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    min_version: int = 0  # server_version_num from which this variant works


class QueryRegistry:
    def __init__(self) -> None:
        self._variants: dict[str, list[Query]] = {}

    def add(self, name: str, text: str, min_version: int = 0) -> Query:
        q = Query(name, text.strip(), min_version)
        variants = self._variants.setdefault(name, [])
        variants.append(q)
        variants.sort(key=lambda v: v.min_version, reverse=True)
        return q

    def get(self, name: str, server_version_num: int) -> Query:
        for q in self._variants[name]:
            if server_version_num >= q.min_version:
                return q
        raise LookupError(f"query {name!r} has no variant for server version {server_version_num}")

    def names(self) -> list[str]:
        return sorted(self._variants)
