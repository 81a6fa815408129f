"""A shadow database: a private, throwaway PostgreSQL database that an offline source (a migrations
folder, ORM models) builds its schema in, so that the catalog dbadvisor reads is PostgreSQL's own
(types, defaults and index definitions printed by the server, names folded as it folds them)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator

import psycopg

from dbadvisor.dialects.postgres.catalog import Collected, collect
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


def offline(collected: Collected, source: str) -> Collected:
    """``collected`` as an offline source's: no live statistics, no live connection, named ``source``."""
    caps = dataclasses.replace(collected.capabilities, live_statistics=False, connected=False, source=source)
    return Collected(collected.snapshot, caps, collected.problems)


def built_schema(label: str, build: Callable[[str], None], shadow_dsn: str | None = None,
                 say: Callable[[str], None] | None = None) -> Collected:
    """What ``build`` (given the shadow's DSN) creates in a shadow database, collected as an offline source."""
    with shadow_database(shadow_dsn, say) as dsn:
        build(dsn)
        with connect(dsn) as conn:
            return offline(collect(conn), label)


def run_ddl(dsn: str, statements: list[str], label: str) -> None:
    """Generated DDL (our own, from a schema the user gave) run in the shadow; a failure is one line."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            try:
                conn.execute(statement.encode())
            except psycopg.Error as exc:
                raise UsageError(f"{label}: its DDL fails on PostgreSQL: {str(exc).strip().splitlines()[0]}") from None
