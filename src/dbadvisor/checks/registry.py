"""The one place where checks are registered: the built-in list, plus plugins.

A plugin package exposes its check classes under the ``dbadvisor.checks`` entry-point group
(``name = "package.module:CheckClass"``); they join the built-ins, and ids must stay unique.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from dbadvisor.checks.autovacuum_settings import AutovacuumSettings
from dbadvisor.checks.base import Check
from dbadvisor.checks.duplicate_index import DuplicateIndex
from dbadvisor.checks.index_bloat import IndexBloat
from dbadvisor.checks.invalid_index import InvalidIndex
from dbadvisor.checks.low_cache_hit_ratio import LowCacheHitRatio
from dbadvisor.checks.migration_lint import MigrationLint
from dbadvisor.checks.missing_index import MissingIndex
from dbadvisor.checks.missing_primary_key import MissingPrimaryKey
from dbadvisor.checks.n_plus_one import NPlusOne
from dbadvisor.checks.partition_by_time import PartitionByTime
from dbadvisor.checks.pg_stat_statements_missing import PgStatStatementsMissing
from dbadvisor.checks.redundant_index import RedundantIndex
from dbadvisor.checks.retention_policy import RetentionPolicy
from dbadvisor.checks.rls_per_row_function import RlsPerRowFunction
from dbadvisor.checks.rls_unindexed_policy_column import RlsUnindexedPolicyColumn
from dbadvisor.checks.seq_scan_heavy_table import SeqScanHeavyTable
from dbadvisor.checks.sequence_exhaustion import SequenceExhaustion
from dbadvisor.checks.sqlite_foreign_keys import SqliteForeignKeys
from dbadvisor.checks.sqlite_freelist import SqliteFreelist
from dbadvisor.checks.sqlite_journal_mode import SqliteJournalMode
from dbadvisor.checks.sqlite_like_collation import SqliteLikeCollation
from dbadvisor.checks.sqlite_rowid_alias import SqliteRowidAlias
from dbadvisor.checks.sqlite_statistics import SqliteStatistics
from dbadvisor.checks.table_bloat import TableBloat
from dbadvisor.checks.unindexed_foreign_key import UnindexedForeignKey
from dbadvisor.checks.unused_index import UnusedIndex
from dbadvisor.errors import UsageError

BUILTIN: tuple[type[Check], ...] = (
    AutovacuumSettings,
    DuplicateIndex,
    IndexBloat,
    InvalidIndex,
    LowCacheHitRatio,
    MigrationLint,
    MissingIndex,
    MissingPrimaryKey,
    NPlusOne,
    PartitionByTime,
    PgStatStatementsMissing,
    RedundantIndex,
    RetentionPolicy,
    RlsPerRowFunction,
    RlsUnindexedPolicyColumn,
    SeqScanHeavyTable,
    SequenceExhaustion,
    SqliteForeignKeys,
    SqliteFreelist,
    SqliteJournalMode,
    SqliteLikeCollation,
    SqliteRowidAlias,
    SqliteStatistics,
    TableBloat,
    UnindexedForeignKey,
    UnusedIndex,
)

ENTRY_POINT_GROUP = "dbadvisor.checks"


@cache
def all_checks() -> tuple[type[Check], ...]:
    """Built-in and plugin checks, ordered by id."""
    found: dict[str, type[Check]] = {}
    plugins: list[type[Check]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if isinstance(obj, type) and issubclass(obj, Check):
            plugins.append(obj)
    for cls in (*BUILTIN, *plugins):
        if cls.id in found and found[cls.id] is not cls:
            raise UsageError(f"two checks share the id {cls.id!r}: {found[cls.id].__module__}, {cls.__module__}")
        found[cls.id] = cls
    return tuple(found[k] for k in sorted(found))


def select(only: Iterable[str] = (), skip: Iterable[str] = ()) -> tuple[type[Check], ...]:
    """Checks chosen by ``--only`` / ``--skip``; an unknown id is a usage error, not a silent no-op."""
    checks = all_checks()
    known = {c.id for c in checks}
    only, skip = set(only), set(skip)
    unknown = (only | skip) - known
    if unknown:
        raise UsageError(
            f"unknown check id(s): {', '.join(sorted(unknown))} (see `dbadvisor checks` for the list)"
        )
    return tuple(c for c in checks if (not only or c.id in only) and c.id not in skip)


def validate_options(options: Mapping[str, Mapping[str, Any]]) -> None:
    """``--set check.option=value`` must name a real check and one of its declared options."""
    by_id = {c.id: c for c in all_checks()}
    for check_id, values in options.items():
        cls = by_id.get(check_id)
        if cls is None:
            raise UsageError(f"--set names unknown check {check_id!r}")
        unknown = sorted(set(values) - set(cls.options))
        if unknown:
            known = ", ".join(sorted(cls.options)) or "none"
            raise UsageError(f"check {check_id} has no option {', '.join(unknown)} (options: {known})")
        for name, value in values.items():
            default = cls.options[name]
            if not _same_type(value, default):
                raise UsageError(f"--set {check_id}.{name}={value!r}: expected a value like {default!r}")


def _same_type(value: Any, default: Any) -> bool:
    """Whether ``value`` may replace ``default``: the same type, an integer for a float, anything for a
    None default (an optional limit)."""
    if default is None:
        return value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))
