"""An application's SQLite file, read through a read-only connection: the file stays byte-identical and
nothing is left beside it (see ``dialects.sqlite.connection``)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dbadvisor.dialects.sqlite.catalog import collect
from dbadvisor.dialects.sqlite.connection import open_read_only, path_of
from dbadvisor.errors import CollectError
from dbadvisor.sources import Opened, Progress


@dataclass(frozen=True)
class SqliteSource:
    path: Path

    @classmethod
    def of(cls, target: str) -> SqliteSource:
        return cls(path_of(target))

    @property
    def label(self) -> str:
        return f"SQLite file {self.path}"

    @contextlib.contextmanager
    def open(self, progress: Progress | None = None) -> Iterator[Opened]:
        conn = open_read_only(self.path)
        try:
            if progress:
                progress("collect sqlite catalog")
            try:
                collected = collect(conn, self.path)
            except sqlite3.Error as exc:
                raise CollectError(f"cannot read {self.path}: {exc}") from None
            yield Opened(collected, None, self.path)
        finally:
            conn.close()
