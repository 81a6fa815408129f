"""What the connected server and role can do. Checks declare what they need; the engine asks here.

Capabilities are asked of the server, never assumed: an extension may be available but not installed,
installed but not preloaded, or preloaded but unreadable for a role without pg_read_all_stats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PG_STAT_STATEMENTS = "pg_stat_statements"
HYPOPG = "hypopg"
PGSTATTUPLE = "pgstattuple"
PG_TRGM = "pg_trgm"
PG_PARTMAN = "pg_partman"  # time partitions made ahead and dropped past retention, by its maintenance
PG_CRON = "pg_cron"  # jobs inside the server (only in the database named by cron.database_name)
PG_QUALSTATS = "pg_qualstats"  # the constants of each predicate, which pg_stat_statements normalizes away
READ_ALL_STATS = "read_all_stats"
# Activity counters (scans, tuples, blocks, dead rows) that only a database in use has: a schema replayed
# into an empty shadow database has none, and checks that read them are skipped there.
LIVE_STATISTICS = "live_statistics"
# A session on the live server itself (what-if costing, pg_stat_statements): a snapshot file has none.
LIVE_CONNECTION = "live_connection"


@dataclass(frozen=True)
class Capabilities:
    server_version_num: int
    current_user: str = ""
    is_superuser: bool = False
    can_read_all_stats: bool = False
    installed_extensions: Mapping[str, str] = field(default_factory=dict)  # name -> version
    extension_schemas: Mapping[str, str] = field(default_factory=dict)  # name -> the schema it lives in
    available_extensions: frozenset[str] = frozenset()
    preload_libraries: tuple[str, ...] | None = ()  # None: this role may not read the setting
    pg_stat_statements_readable: bool = False
    live_statistics: bool = True  # False for a source without activity (a migrations folder's shadow)
    source: str = "live database"  # what the snapshot was taken from, for the reasons below
    connected: bool = True  # False when analysing an offline source (a snapshot file, a replayed folder)

    def extension_schema(self, name: str) -> str | None:
        """The schema extension ``name`` is installed in, or None when it is not installed."""
        return self.extension_schemas.get(name) if name in self.installed_extensions else None

    def missing(self, need: str) -> str | None:
        """Why ``need`` is not usable here, or None when it is. The reason says how to get it."""
        if need == LIVE_STATISTICS:
            if self.live_statistics:
                return None
            return f"no live statistics: the source is {self.source}, whose tables have never been used"
        if need == LIVE_CONNECTION:
            return None if self.connected else f"needs a live database; the source is {self.source} (offline)"
        if need == READ_ALL_STATS:
            if self.can_read_all_stats:
                return None
            return (
                f"role {self.current_user!r} cannot read other sessions' statistics; "
                "GRANT pg_read_all_stats TO it"
            )
        if need == PG_STAT_STATEMENTS:
            if self.preload_libraries is not None and PG_STAT_STATEMENTS not in self.preload_libraries:
                return (
                    "pg_stat_statements is not in shared_preload_libraries "
                    "(add it and restart the server, then CREATE EXTENSION pg_stat_statements)"
                )
            if PG_STAT_STATEMENTS not in self.installed_extensions:
                return "pg_stat_statements is preloaded but not installed: CREATE EXTENSION pg_stat_statements"
            if not self.pg_stat_statements_readable:
                return (
                    "pg_stat_statements is installed but cannot be read "
                    "(not in shared_preload_libraries, or this role lacks privileges)"
                )
            return None
        if need == PG_QUALSTATS and need in self.installed_extensions and self.preload_libraries is not None \
                and need not in self.preload_libraries:
            return "pg_qualstats is installed but not in shared_preload_libraries (add it and restart the server)"
        if need in self.installed_extensions:
            return None
        if need in self.available_extensions:
            return f"extension {need} is available but not installed: CREATE EXTENSION {need}"
        return f"extension {need} is not available on the server (install its package)"

    def has(self, need: str) -> bool:
        return self.missing(need) is None

    @property
    def major_version(self) -> int:
        return self.server_version_num // 10000
