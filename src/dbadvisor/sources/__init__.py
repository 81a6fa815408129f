"""Sources: where a schema and its statistics come from. A live database (``live``), a snapshot file a
DBA handed over instead of credentials (``snapshot``), and, as they land, a migrations folder replayed
into a shadow database and ORM models; a saved report (``saved_report``) is the source of the acting
stages.

A source opens into an ``Opened``: the collected catalog and capabilities, and a read-only session when
the source is a live database (the index advisor's what-if costing and pg_stat_statements need one).
The capabilities say whether live statistics exist, so that checks reading activity counters are
skipped, with the reason, where there are none.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg

from dbadvisor.model.collected import Collected

Progress = Callable[[str], None]


@dataclass
class Opened:
    collected: Collected
    conn: psycopg.Connection[Any] | None = None  # a live read-only session; None for an offline source
    file: Path | None = None  # a database that is a file (SQLite): its advisor costs on a private copy


class Source(Protocol):
    @property
    def label(self) -> str:
        """What the source is, for messages (never a password)."""
        ...

    def open(self, progress: Progress | None = None) -> AbstractContextManager[Opened]:
        """Collect the source (and keep a live session open for as long as the block lasts)."""
        ...
