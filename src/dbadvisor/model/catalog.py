"""The catalog snapshot: what a database looked like at one moment, as plain immutable values.

Objects are flat (a column names its table rather than living inside it) so that catalog rows map
straight onto them and a 1,000-table schema costs one query per object kind. ``Snapshot`` offers the
per-table lookups the checks need, built once and cached.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TypeVar

TableKey = tuple[str, str]
"""(schema, name): how tables, indexes and sequences are identified across the model."""


def qualname(schema: str, name: str) -> str:
    """The display form used in reports and the JSON contract: unquoted ``schema.name``."""
    return f"{schema}.{name}"


class TableKind(enum.StrEnum):
    PLAIN = "plain"
    PARTITIONED = "partitioned"
    PARTITION = "partition"
    MATVIEW = "matview"


class ConstraintType(enum.StrEnum):
    PRIMARY_KEY = "primary_key"
    FOREIGN_KEY = "foreign_key"
    UNIQUE = "unique"
    CHECK = "check"
    EXCLUSION = "exclusion"


@dataclass(frozen=True)
class Schema:
    name: str
    owner: str


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    kind: TableKind
    owner: str
    parent: str | None = None  # qualified name of the partitioned parent, for partitions
    partition_key: str | None = None  # "RANGE (created_at)" for partitioned tables
    partition_bound: str | None = None  # "FOR VALUES FROM (...) TO (...)" for partitions
    row_estimate: int | None = None  # reltuples; None when never analyzed/vacuumed
    pages: int = 0
    heap_bytes: int = 0
    index_bytes: int = 0
    toast_bytes: int = 0
    total_bytes: int = 0
    seq_scan: int = 0
    seq_tup_read: int = 0
    idx_scan: int = 0
    idx_tup_fetch: int = 0
    n_tup_ins: int = 0
    n_tup_upd: int = 0
    n_tup_del: int = 0
    n_tup_hot_upd: int = 0
    n_live_tup: int = 0
    n_dead_tup: int = 0
    n_mod_since_analyze: int = 0
    n_ins_since_vacuum: int = 0
    last_vacuum: datetime | None = None
    last_autovacuum: datetime | None = None
    last_analyze: datetime | None = None
    last_autoanalyze: datetime | None = None
    vacuum_count: int = 0
    autovacuum_count: int = 0
    analyze_count: int = 0
    autoanalyze_count: int = 0
    heap_blks_read: int = 0
    heap_blks_hit: int = 0
    idx_blks_read: int = 0
    idx_blks_hit: int = 0
    reloptions: Mapping[str, str] = field(default_factory=dict)
    rls_enabled: bool = False
    rls_forced: bool = False
    unlogged: bool = False
    replica_identity: str = "default"  # default | nothing | full | index

    @property
    def key(self) -> TableKey:
        return (self.schema, self.name)

    @property
    def qualname(self) -> str:
        return qualname(self.schema, self.name)

    @property
    def rows(self) -> int:
        """Best row count we have: live tuples from the stats collector, else the planner's estimate."""
        if self.n_live_tup:
            return self.n_live_tup
        return max(self.row_estimate or 0, 0)


@dataclass(frozen=True)
class ColumnStats:
    """A column's line in pg_stats: what the planner believes about its values."""

    null_frac: float
    avg_width: int
    n_distinct: float  # negative: a fraction of the row count, as in pg_stats
    correlation: float | None = None
    most_common_vals: tuple[str, ...] = ()
    most_common_freqs: tuple[float, ...] = ()
    histogram_bounds: tuple[str, ...] = ()

    def distinct_values(self, rows: int) -> float:
        """n_distinct resolved to an absolute number for a table of ``rows`` rows."""
        return -self.n_distinct * rows if self.n_distinct < 0 else self.n_distinct


@dataclass(frozen=True)
class Column:
    schema: str
    table: str
    name: str
    position: int
    type: str
    not_null: bool
    default: str | None = None
    identity: str | None = None  # "always" | "by default"
    generated: bool = False
    serial_sequence: str | None = None  # qualified name of the owned sequence (serial or identity)
    collation: str | None = None
    stats: ColumnStats | None = None

    @property
    def table_key(self) -> TableKey:
        return (self.schema, self.table)


@dataclass(frozen=True)
class IndexKey:
    """One key of an index: a column or an expression, with its ordering and non-default opclass."""

    expression: str  # the column name or expression text, as pg_get_indexdef prints it
    column: str | None = None  # the plain column name; None for an expression key
    descending: bool = False
    nulls_first: bool = False
    opclass: str | None = None  # only when it is not the type's default
    collation: str | None = None  # only when it differs from the column's

    @property
    def is_expression(self) -> bool:
        return self.column is None


@dataclass(frozen=True)
class Index:
    schema: str
    name: str
    table_schema: str
    table: str
    method: str
    keys: tuple[IndexKey, ...]
    definition: str
    include: tuple[str, ...] = ()
    predicate: str | None = None
    is_unique: bool = False
    is_primary: bool = False
    is_exclusion: bool = False
    is_valid: bool = True
    is_ready: bool = True
    size_bytes: int = 0
    idx_scan: int = 0
    idx_tup_read: int = 0
    idx_tup_fetch: int = 0
    idx_blks_read: int = 0
    idx_blks_hit: int = 0
    constraint: str | None = None  # name of the constraint this index backs
    constraint_type: ConstraintType | None = None

    @property
    def key(self) -> TableKey:
        return (self.schema, self.name)

    @property
    def qualname(self) -> str:
        return qualname(self.schema, self.name)

    @property
    def table_key(self) -> TableKey:
        return (self.table_schema, self.table)

    @property
    def table_qualname(self) -> str:
        return qualname(self.table_schema, self.table)

    @property
    def is_partial(self) -> bool:
        return self.predicate is not None

    @property
    def key_columns(self) -> tuple[str | None, ...]:
        """Column names in key order; None where the key is an expression."""
        return tuple(k.column for k in self.keys)

    @property
    def key_labels(self) -> tuple[str, ...]:
        """Column names, or the expression text for expression keys, in key order."""
        return tuple(k.column or k.expression for k in self.keys)


@dataclass(frozen=True)
class Constraint:
    schema: str
    table: str
    name: str
    type: ConstraintType
    columns: tuple[str, ...]
    definition: str
    validated: bool = True
    deferrable: bool = False
    inherited: bool = False  # cloned from a partitioned parent's constraint
    index: str | None = None  # qualified name of the backing index (PK, unique, exclusion)
    ref_schema: str | None = None
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()
    on_update: str | None = None  # "no action" | "restrict" | "cascade" | "set null" | "set default"
    on_delete: str | None = None

    @property
    def table_key(self) -> TableKey:
        return (self.schema, self.table)

    @property
    def ref_key(self) -> TableKey | None:
        if self.ref_schema is None or self.ref_table is None:
            return None
        return (self.ref_schema, self.ref_table)


@dataclass(frozen=True)
class Policy:
    """A row-level security policy (pg_policies)."""

    schema: str
    table: str
    name: str
    permissive: bool
    roles: tuple[str, ...]
    command: str  # ALL | SELECT | INSERT | UPDATE | DELETE
    using: str | None = None
    with_check: str | None = None

    @property
    def table_key(self) -> TableKey:
        return (self.schema, self.table)


@dataclass(frozen=True)
class Sequence:
    schema: str
    name: str
    data_type: str
    start_value: int
    min_value: int
    max_value: int
    increment: int
    cycle: bool
    last_value: int | None = None  # None: never used, or not readable by this role
    owned_by: str | None = None  # "schema.table.column" for serial/identity sequences

    @property
    def qualname(self) -> str:
        return qualname(self.schema, self.name)


@dataclass(frozen=True)
class Trigger:
    """A user trigger on a table (internal ones, which back foreign keys, are left out)."""

    schema: str
    table: str
    name: str
    definition: str  # pg_get_triggerdef
    enabled: bool = True

    @property
    def table_key(self) -> TableKey:
        return (self.schema, self.table)


@dataclass(frozen=True)
class Dependent:
    """A view or materialized view that reads a table: renaming or replacing the table breaks it."""

    schema: str
    table: str
    name: str  # schema.view
    kind: str  # view | matview

    @property
    def table_key(self) -> TableKey:
        return (self.schema, self.table)


@dataclass(frozen=True)
class Publication:
    """A table's membership of a logical replication publication (FOR ALL TABLES ones included)."""

    schema: str
    table: str
    name: str

    @property
    def table_key(self) -> TableKey:
        return (self.schema, self.table)


@dataclass(frozen=True)
class TimeProfile:
    """How a table's rows spread over one time column: rows per day, oldest first.

    ``method`` says where the counts come from: "counted" (one read-only GROUP BY over the table) or
    "estimated" (the column's pg_stats histogram, for a table too large to scan at analysis time)."""

    schema: str
    table: str
    column: str
    rows: int
    oldest: datetime | None
    newest: datetime | None
    days: tuple[tuple[str, int], ...] = ()  # (ISO date, rows that day)
    method: str = "counted"

    @property
    def table_key(self) -> TableKey:
        return (self.schema, self.table)


@dataclass(frozen=True)
class RelationBloat:
    """Measured (not estimated) bloat of one table or index, from the pgstattuple extension."""

    schema: str
    name: str
    kind: str  # "table" | "index"
    method: str  # "pgstattuple_approx" | "pgstatindex"
    size_bytes: int
    wasted_bytes: int  # dead tuples + free space (tables); space beyond the fillfactor's (indexes)
    dead_tuple_bytes: int = 0
    free_bytes: int = 0
    avg_leaf_density: float | None = None

    @property
    def key(self) -> TableKey:
        return (self.schema, self.name)


@dataclass(frozen=True)
class Setting:
    """A server setting (pg_settings), kept with its unit so that sizes and times can be compared."""

    name: str
    value: str
    unit: str | None = None
    source: str | None = None

    @property
    def bytes(self) -> int | None:
        """The value in bytes, for a size setting (shared_buffers, work_mem); None for anything else."""
        try:
            return int(self.value) * _UNIT_BYTES[self.unit or ""]
        except (KeyError, ValueError):
            return None


_UNIT_BYTES = {"8kB": 8192, "kB": 1024, "MB": 1 << 20, "B": 1, "": 1}


@dataclass(frozen=True)
class DatabaseInfo:
    dialect: str
    name: str
    server_version: str
    server_version_num: int
    size_bytes: int
    stats_reset: datetime | None = None  # None: never reset, counters run since the cluster was made
    collected_at: datetime | None = None
    server_started_at: datetime | None = None
    encoding: str | None = None
    xact_commit: int = 0
    xact_rollback: int = 0
    blks_read: int = 0
    blks_hit: int = 0
    temp_files: int = 0
    temp_bytes: int = 0
    deadlocks: int = 0

    @property
    def engine(self) -> str:
        """The engine's name as people write it, with its version: "PostgreSQL 15.8", "SQLite 3.40.1"."""
        return f"{ENGINES.get(self.dialect, self.dialect)} {self.server_version.split()[0]}"


ENGINES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


@dataclass(frozen=True)
class LintViolation:
    """A migration linter's complaint about one statement of one migration file (squawk's rules)."""

    migration: str
    line: int  # 1-based
    rule: str
    level: str  # "Warning" | "Error"
    message: str
    help: str | None = None
    table: str | None = None  # "schema.table" the statement acts on, when it can be told


@dataclass(frozen=True)
class Snapshot:
    """Everything collected from one database, plus the per-table lookups the checks share."""

    database: DatabaseInfo
    schemas: tuple[Schema, ...] = ()
    tables: tuple[Table, ...] = ()
    columns: tuple[Column, ...] = ()
    indexes: tuple[Index, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    policies: tuple[Policy, ...] = ()
    sequences: tuple[Sequence, ...] = ()
    settings: Mapping[str, Setting] = field(default_factory=dict)
    bloat: tuple[RelationBloat, ...] = ()  # only when pgstattuple is installed and readable
    # INVALID unique indexes -> how many key values their table holds more than once (a rebuild fails)
    unique_violations: Mapping[str, int] = field(default_factory=dict)
    # "relation:schema.name" / "constraint:schema.table.name" / "policy:..." -> where it came from (the
    # migration that created it, for a snapshot replayed from a migrations folder)
    origins: Mapping[str, str] = field(default_factory=dict)
    migrations: tuple[str, ...] = ()  # the replayed migrations, in the order they ran
    lint: tuple[LintViolation, ...] = ()  # the migrations' lint, for check migration_lint
    live_sizes: Mapping[str, int] = field(default_factory=dict)  # "schema.table" -> bytes on a live database
    triggers: tuple[Trigger, ...] = ()
    dependents: tuple[Dependent, ...] = ()
    publications: tuple[Publication, ...] = ()
    time_profiles: tuple[TimeProfile, ...] = ()  # time columns of tables large enough to partition
    # "schema.table" -> rows whose foreign keys point nowhere (SQLite, where enforcement is per connection;
    # counted up to a limit)
    foreign_key_violations: Mapping[str, int] = field(default_factory=dict)

    @cached_property
    def _tables(self) -> dict[TableKey, Table]:
        return {t.key: t for t in self.tables}

    @cached_property
    def _columns(self) -> dict[TableKey, tuple[Column, ...]]:
        return _group(self.columns, lambda c: c.table_key)

    @cached_property
    def _indexes(self) -> dict[TableKey, tuple[Index, ...]]:
        return _group(self.indexes, lambda i: i.table_key)

    @cached_property
    def _constraints(self) -> dict[TableKey, tuple[Constraint, ...]]:
        return _group(self.constraints, lambda c: c.table_key)

    @cached_property
    def _policies(self) -> dict[TableKey, tuple[Policy, ...]]:
        return _group(self.policies, lambda p: p.table_key)

    @cached_property
    def _referenced(self) -> dict[TableKey, tuple[Constraint, ...]]:
        fks = tuple(c for c in self.constraints if c.type == ConstraintType.FOREIGN_KEY and c.ref_key)
        return _group(fks, lambda c: c.ref_key or ("", ""))

    def table(self, key: TableKey) -> Table | None:
        return self._tables.get(key)

    def columns_of(self, key: TableKey) -> tuple[Column, ...]:
        return self._columns.get(key, ())

    def column(self, key: TableKey, name: str) -> Column | None:
        return next((c for c in self.columns_of(key) if c.name == name), None)

    def indexes_of(self, key: TableKey) -> tuple[Index, ...]:
        return self._indexes.get(key, ())

    def constraints_of(self, key: TableKey) -> tuple[Constraint, ...]:
        return self._constraints.get(key, ())

    def policies_of(self, key: TableKey) -> tuple[Policy, ...]:
        return self._policies.get(key, ())

    def referenced_by(self, key: TableKey) -> tuple[Constraint, ...]:
        """Foreign keys of other tables (or of this one) that point to the table ``key``."""
        return self._referenced.get(key, ())

    def triggers_of(self, key: TableKey) -> tuple[Trigger, ...]:
        return tuple(t for t in self.triggers if t.table_key == key)

    def dependents_of(self, key: TableKey) -> tuple[Dependent, ...]:
        return tuple(d for d in self.dependents if d.table_key == key)

    def publications_of(self, key: TableKey) -> tuple[Publication, ...]:
        return tuple(p for p in self.publications if p.table_key == key)

    def time_profile(self, key: TableKey, column: str | None = None) -> TimeProfile | None:
        return next((p for p in self.time_profiles if p.table_key == key and column in (None, p.column)), None)

    @cached_property
    def _bloat(self) -> dict[tuple[str, str, str], RelationBloat]:
        return {(b.kind, b.schema, b.name): b for b in self.bloat}

    def measured_bloat(self, kind: str, key: TableKey) -> RelationBloat | None:
        return self._bloat.get((kind, *key))

    def setting(self, name: str) -> str | None:
        s = self.settings.get(name)
        return s.value if s else None


_V = TypeVar("_V")


def _group(items: tuple[_V, ...], key_of: Callable[[_V], TableKey]) -> dict[TableKey, tuple[_V, ...]]:
    groups: defaultdict[TableKey, list[_V]] = defaultdict(list)
    for item in items:
        groups[key_of(item)].append(item)
    return {k: tuple(v) for k, v in groups.items()}
