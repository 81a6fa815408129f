"""Dialects: what differs between database engines, behind one interface.

A dialect renders the model's operations as its own SQL (as Alembic dispatches rendering per dialect
impl), quotes names and literals, and checks that a saved report's SQL is what its fixes render. The
model stays pure data; everything engine-specific (connections, catalog queries, what-if costing,
EXPLAIN, online execution) lives in a dialect's package: PostgreSQL's in ``dialects.postgres``, SQLite's in
``dialects.sqlite``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, overload

from dbadvisor.errors import UsageError
from dbadvisor.model.ddl import Operation
from dbadvisor.model.sqltext import FragmentError

Statement = tuple[str, bool]  # one SQL statement, and whether it may run inside a transaction block


class Dialect:
    """Rendering of operations for one engine. Subclasses give ``statements``, ``quote`` and
    ``literal``; the rest is derived from them, so every caller renders the same way."""

    name: str = ""
    sqlglot: str = ""  # the name sqlglot knows the dialect by, for reading statements

    def statements(self, op: Operation) -> list[Statement]:
        """The statements that carry out ``op``, to run one at a time."""
        raise NotImplementedError

    def quote(self, *parts: str) -> str:
        """A (possibly qualified) name, quoted."""
        raise NotImplementedError

    def literal(self, value: object) -> str:
        raise NotImplementedError

    @overload
    def sql(self, op: Operation) -> str: ...

    @overload
    def sql(self, op: None) -> None: ...

    @overload
    def sql(self, op: Operation | None) -> str | None: ...

    def sql(self, op: Operation | None) -> str | None:
        """``op`` as one SQL text (statements on their own lines), or None for no operation."""
        return None if op is None else "\n".join(s for s, _ in self.statements(op))

    def transactional(self, op: Operation) -> bool:
        """Whether every statement of ``op`` may run inside a transaction block."""
        return all(t for _, t in self.statements(op))

    def fix_dict(self, op: Operation) -> dict[str, Any]:
        """The report's ``fix`` field: the operation's fields plus what this dialect renders of them."""
        return op.to_dict() | {"transactional": self.transactional(op), "sql": self.sql(op),
                               "reverse_sql": self.sql(op.reverse())}

    def check_saved(self, op: Operation, fix: Mapping[str, Any], sql: object, rollback_sql: object) -> None:
        """Refuse a saved fix whose shown SQL is not what its fields render: what was reviewed must be
        what runs, whichever of the two someone edited."""
        rendered = self.fix_dict(op)
        for name in ("transactional", "sql", "reverse_sql"):
            if name in fix and fix[name] != rendered[name]:
                raise FragmentError(f"{op.kind}: the saved {name} is not what its fields render (edited by hand?)")
        if sql != rendered["sql"] or rollback_sql != rendered["reverse_sql"]:
            raise FragmentError(f"{op.kind}: the finding's sql is not what its fix renders (edited by hand?)")


_MODULES = {"postgresql": "dbadvisor.dialects.postgres", "sqlite": "dbadvisor.dialects.sqlite"}


def get(name: str = "postgresql") -> Dialect:
    """The dialect called ``name`` (as ``database.dialect`` in a report names it)."""
    module = _MODULES.get(name)
    if module is None:
        raise UsageError(f"unknown dialect {name!r} (known: {', '.join(sorted(_MODULES))})")
    dialect: Dialect = importlib.import_module(module).DIALECT
    return dialect
