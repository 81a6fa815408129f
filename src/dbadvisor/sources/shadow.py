"""A shadow database: a private, throwaway PostgreSQL database that an offline source (a migrations
folder, ORM models) builds its schema in, so that the catalog dbadvisor reads is PostgreSQL's own
(types, defaults and index definitions printed by the server, names folded as it folds them)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from dbadvisor.dialects.postgres.cluster import PrivateCluster
from dbadvisor.dialects.postgres.connection import connect
from dbadvisor.dialects.postgres.queries import USER_TABLE_COUNT
from dbadvisor.errors import UsageError


@contextlib.contextmanager
def shadow_database(shadow_dsn: str | None = None, say: Callable[[str], None] | None = None) -> Iterator[str]:
    """The DSN of an empty database to build in: ``shadow_dsn`` (checked empty), or a private server's,
    stopped and removed when the block ends."""
    if shadow_dsn is not None:
        with connect(shadow_dsn) as conn:
            row = conn.execute(USER_TABLE_COUNT.sql).fetchone()
        if row is None or row[0]:
            raise UsageError("--shadow-dsn must be an empty database: the schema is built in it")
        yield shadow_dsn
        return
    if say:
        say("start a shadow server")
    with PrivateCluster() as cluster:
        yield cluster.create_database("shadow", extensions=())
