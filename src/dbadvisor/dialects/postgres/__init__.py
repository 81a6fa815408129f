"""PostgreSQL: rendering of operations (``render``); connections, catalog collection, what-if costing,
EXPLAIN and online execution live beside it."""

from dbadvisor.dialects.postgres.render import DIALECT, PostgresDialect, concurrent_definition

__all__ = ["DIALECT", "PostgresDialect", "concurrent_definition"]
