"""A live PostgreSQL database, read through one read-only, bounded session."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg

from dbadvisor.dialects.postgres import dsn as dsnlib
from dbadvisor.dialects.postgres.catalog import collect
from dbadvisor.dialects.postgres.connection import SessionSettings, connect
from dbadvisor.errors import CollectError
from dbadvisor.sources import Opened, Progress


@dataclass(frozen=True)
class LiveSource:
    dsn: str
    settings: SessionSettings = field(default_factory=SessionSettings)

    @property
    def label(self) -> str:
        return dsnlib.describe(self.dsn)

    @contextlib.contextmanager
    def open(self, progress: Progress | None = None) -> Iterator[Opened]:
        with connect(self.dsn, self.settings) as conn:
            try:
                collected = collect(conn, progress=(lambda name: progress(f"collect {name}")) if progress else None)
            except psycopg.Error as exc:  # a timeout or a lost connection: one line, not a traceback
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise CollectError(f"cannot read the catalog: {first}") from None
            yield Opened(collected, conn)
