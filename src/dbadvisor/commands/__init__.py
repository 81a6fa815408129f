"""What each command does, apart from how it is asked for: the CLI (``dbadvisor.cli``) parses flags and
prints; everything between is here, as plain functions that take typed requests and return results, so
that another front end (a scheduler, a service) runs the very same steps.

Errors are ``DbAdvisorError`` subclasses with a message fit for the user; the CLI has one handler for
them (and for a driver error that escapes), which prints one line and exits 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbadvisor.errors import DbAdvisorError, UsageError
from dbadvisor.model.ddl import Operation
from dbadvisor.model.findings import Report, Severity

if TYPE_CHECKING:
    from dbadvisor.apply.history import Action, History, SqliteHistory
    from dbadvisor.apply.maintain import Maintained
    from dbadvisor.apply.run import StepResult
    from dbadvisor.migrations import Plan
    from dbadvisor.verify.run import VerifyOptions, VerifyResult

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
Log = Callable[[str], None]


def split_ids(values: Sequence[str] | None) -> tuple[str, ...]:
    """``--only a,b --only c`` -> ``("a", "b", "c")``."""
    return tuple(x.strip() for v in values or () for x in v.split(",") if x.strip())


def parse_check_options(values: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """``--set check_id.option=value`` (repeatable); values are JSON when they parse, else strings."""
    out: dict[str, dict[str, Any]] = {}
    for item in values or ():
        key, sep, raw = item.partition("=")
        check, dot, option = key.strip().partition(".")
        if not sep or not dot or not check or not option:
            raise UsageError(f"--set expects CHECK.OPTION=VALUE, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(check, {})[option] = value
    return out


_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_bytes(text: str) -> int:
    """``500MB`` -> 500,000,000 (decimal units, as the TPC-H budgets are given); KiB/MiB/GiB are binary."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise UsageError(f"cannot read {text!r} as a size (examples: 500000000, 500MB, 1.5GB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def exit_code(report: Report, fail_on: Severity | None) -> int:
    worst = report.worst()
    if fail_on is not None and worst is not None and worst.at_least(fail_on):
        return EXIT_FINDINGS
    return EXIT_OK


def parse_severity(text: str | None) -> Severity | None:
    try:
        return Severity.parse(text) if text else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# -- analyze -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnalyzeRequest:
    dsn: str = ""
    only: Sequence[str] = ()
    skip: Sequence[str] = ()
    set_: Sequence[str] = ()
    statement_timeout_ms: int = 30_000
    workload: Sequence[Path] = ()
    budget: str | None = None
    max_indexes: int | None = None
    weight: str = "time"
    scratch_dsn: str | None = None
    snapshot: Path | None = None  # analyse this snapshot file instead of a live database
    migrations: Path | None = None  # or this migrations folder, replayed into a shadow database
    shadow_dsn: str | None = None  # replay into this empty database instead of a private server
    since: str | None = None  # with migrations: only what the migrations after this one introduced
    baseline: Path | None = None  # findings this file already has are left out (CI fails only on new ones)
    sample_activity: float = 0.0  # seconds of pg_stat_activity sampling for the workload's constants
    postgres_readiness: bool = False  # a SQLite file: load it into a private PostgreSQL and compare


def analyze(req: AnalyzeRequest, progress: Log | None = None, verify_progress: Log | None = None) -> Report:
    """The analysis a request asks for; with ``scratch_dsn``, its index recommendations then measured."""
    from dbadvisor.advisor.advise import AdvisorOptions
    from dbadvisor.analysis import AnalyzeOptions
    from dbadvisor.analysis import analyze as run_analysis
    from dbadvisor.dialects.postgres.connection import SessionSettings

    if req.sample_activity < 0:
        raise UsageError("--sample-activity takes a number of seconds, 0 or more")
    if req.weight not in ("time", "cost"):
        raise UsageError(f"--weight must be time or cost, not {req.weight!r}")
    paths = tuple(p for p in req.workload if str(p) != "pg_stat_statements")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"--workload path not found: {', '.join(missing)}")
    options = AnalyzeOptions(
        only=split_ids(req.only),
        skip=split_ids(req.skip),
        check_options=parse_check_options(req.set_),
        session=SessionSettings(statement_timeout_ms=req.statement_timeout_ms),
        workload=paths,
        since=req.since,
        sample_activity=req.sample_activity,
        advisor=AdvisorOptions(budget_bytes=parse_bytes(req.budget) if req.budget else None,
                               max_indexes=req.max_indexes, weight=req.weight),
    )
    source: Any = req.dsn
    offline = [flag for flag, given in (("--snapshot", req.snapshot), ("--migrations", req.migrations)) if given]
    if len(offline) > 1 or (req.snapshot and req.dsn):
        raise UsageError("give one of a DSN, --snapshot FILE or --migrations DIR (a DSN beside --migrations "
                         "only lends its live table sizes to the lint)")
    if offline and req.scratch_dsn is not None:
        raise UsageError(f"--scratch-dsn measures on a live target: it does not go with {offline[0]}")
    if (req.since or req.shadow_dsn) and req.migrations is None:
        raise UsageError("--since and --shadow-dsn go with --migrations DIR")
    if req.snapshot is not None:
        from dbadvisor.sources.snapshot import SnapshotSource

        source = SnapshotSource(req.snapshot)
    elif req.migrations is not None:
        from dbadvisor.sources.migrations import MigrationsSource

        source = MigrationsSource(req.migrations, req.shadow_dsn, live_sizes=live_sizes(req.dsn) if req.dsn else {})
    elif req.dsn and sqlite_target(req.dsn) and req.scratch_dsn is not None:  # (analyze opens the file itself)
        raise UsageError("--scratch-dsn is for PostgreSQL: a SQLite file's advice is measured on a private copy")
    if req.postgres_readiness and not (req.dsn and sqlite_target(req.dsn)):
        raise UsageError("--postgres-readiness is for a SQLite file (sqlite:////path/app.db)")
    report = run_analysis(source, options, progress=progress)
    if req.postgres_readiness:
        from dbadvisor import workload as workloads
        from dbadvisor.verify.readiness import measure

        if progress:
            progress("postgres readiness: load, replay, writers")
        from dbadvisor.dialects.sqlite.connection import path_of

        found = measure(path_of(req.dsn), report.snapshot, workloads.from_paths(paths) if paths else None)
        report = dataclasses.replace(report, readiness=found.to_dict())
    if req.scratch_dsn is not None:
        report = verify(req.dsn, req.scratch_dsn, report, progress=verify_progress).report
    return with_baseline(report, req.baseline)


def sqlite_target(dsn: str) -> bool:
    from dbadvisor.dialects.sqlite.connection import is_target

    return is_target(dsn)


def live_sizes(dsn: str) -> dict[str, int]:
    """Every table's size on a live database (read-only, one query, locked tables left out), for
    weighing a migration's locks: not a whole catalog collection."""
    from dbadvisor.dialects.postgres.catalog import locked_relations
    from dbadvisor.dialects.postgres.connection import connect
    from dbadvisor.dialects.postgres.queries import TABLE_SIZES

    with connect(dsn) as conn:
        locked = sorted(locked_relations(conn, []))
        rows = conn.execute(TABLE_SIZES.sql, {"locked": locked}).fetchall()
        return {str(name): int(str(size)) for name, size in rows}


def snapshot(dsn: str, output: Path, statement_timeout_ms: int = 30_000, progress: Log | None = None) -> int:
    """Write the catalog, statistics and capabilities of ``dsn`` to ``output``; returns the table count."""
    from dbadvisor.dialects.postgres.connection import SessionSettings
    from dbadvisor.sources import snapshot as snapshots
    from dbadvisor.sources.live import LiveSource

    with LiveSource(dsn, SessionSettings(statement_timeout_ms=statement_timeout_ms)).open(progress) as opened:
        snapshots.save(opened.collected, output)
        return len(opened.collected.snapshot.tables)


def source_of(spec: str, statement_timeout_ms: int = 30_000) -> Any:
    """A drift side: ``migrations:DIR``, ``snapshot:FILE``, ``sqlalchemy:models.py[:Base]``, or a DSN."""
    kind, _, rest = spec.partition(":")
    if kind == "migrations":
        from dbadvisor.sources.migrations import MigrationsSource

        return MigrationsSource(Path(rest))
    if kind == "snapshot":
        from dbadvisor.sources.snapshot import SnapshotSource

        return SnapshotSource(Path(rest))
    if kind == "sqlalchemy":
        from dbadvisor.sources.orm import SqlAlchemySource

        path, sep, attr = rest.rpartition(":")
        if not sep or not attr.isidentifier():
            path, attr = rest, "Base"
        return SqlAlchemySource(Path(path), attr)
    if kind == "prisma":
        from dbadvisor.sources.prisma import PrismaSource

        return PrismaSource(Path(rest))
    if kind == "drizzle":
        from dbadvisor.sources.drizzle import DrizzleSource

        return DrizzleSource(Path(rest))
    from dbadvisor.dialects.postgres.connection import SessionSettings
    from dbadvisor.sources.live import LiveSource

    return LiveSource(spec, SessionSettings(statement_timeout_ms=statement_timeout_ms))


def drift(a: str, b: str, progress: Log | None = None) -> Report:
    """Findings ``schema_drift`` of ``b`` against the reference ``a`` (both only read)."""
    from datetime import UTC, datetime

    from dbadvisor import __version__
    from dbadvisor.checks.schema_drift import CHECK_ID, Sides, compare

    left, right = source_of(a), source_of(b)
    with left.open(progress) as opened_a:
        ref = opened_a.collected
    with right.open(progress) as opened_b:
        other = opened_b.collected
    findings = compare(ref.snapshot, other.snapshot, Sides(left.label, right.label))
    return Report(__version__, ref.snapshot, ref.capabilities, tuple(findings), (*ref.problems, *other.problems),
                  (CHECK_ID,), datetime.now(UTC))


def baseline_ids(path: Path) -> set[str]:
    """The finding ids a baseline file holds: a dbadvisor JSON report (saved once with ``-f json``), or
    ``{"ids": [...]}``; what it holds is accepted, so CI fails only on what is new."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--baseline {path}: cannot be read ({type(exc).__name__})") from None
    if isinstance(data, dict) and isinstance(data.get("ids"), list):
        return {str(i) for i in data["ids"]}
    if isinstance(data, dict) and isinstance(data.get("findings"), list):
        return {str(f["id"]) for f in data["findings"] if isinstance(f, dict) and "id" in f}
    raise UsageError(f"--baseline {path}: not a dbadvisor JSON report nor {{\"ids\": [...]}}")


def with_baseline(report: Report, path: Path | None) -> Report:
    """``report`` without the findings (or merged reasons) the baseline already knows."""
    if path is None:
        return report
    from dataclasses import replace as _replace

    from dbadvisor.model.findings import reasons

    known = baseline_ids(path)
    kept = tuple(f for f in report.findings if not {r[0] for r in reasons(f)} & known)
    left = tuple(f.id for f in report.findings if f not in kept)
    return _replace(report, findings=kept, baselined=left)


def render(report: Report, format: str) -> str:
    """The report in one of the file formats (markdown, json, html)."""
    from dbadvisor.report import FORMATS

    return FORMATS[format](report)


def write_report(report: Report, format: str, output: Path) -> None:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(render(report, format), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None


# -- verify, migrations --------------------------------------------------------------------------------
def verify(dsn: str, scratch_dsn: str, source: Report | Path | None, opts: VerifyOptions | None = None,
           progress: Log | None = None) -> VerifyResult:
    from dbadvisor.verify.run import verify as run_verify

    if opts is not None and (opts.runs < 1 or not 0 <= opts.min_gain < 1):
        raise UsageError("--runs must be at least 1 and --min-gain between 0 and 1")
    if sqlite_target(dsn):
        from dbadvisor.dialects.sqlite.connection import path_of
        from dbadvisor.verify.sqlite import verify as verify_sqlite

        if not isinstance(source, Path):
            raise UsageError("verify on a SQLite file needs --report REPORT.json (its advice is measured already)")
        return verify_sqlite(path_of(dsn), source, opts)
    if not scratch_dsn:
        raise UsageError("--scratch-dsn is required: verify builds and drops indexes there, never on the target")
    return run_verify(dsn, scratch_dsn, source, opts, progress=progress)


def plan(report: Path, only: Sequence[str] = ()) -> Plan:
    """The fixes of a saved report that ``migrations`` writes and ``apply`` runs, in dependency order."""
    from dbadvisor.migrations import plan_of
    from dbadvisor.sources import saved_report

    saved = saved_report.load(report)
    return plan_of(saved.actionable(split_ids(only)), str(saved.database.get("dialect") or "postgresql"))


def migrations(report: Path, format: str, out: Path, only: Sequence[str] = (),
               down_revision: str | None = None) -> tuple[Plan, list[Path]]:
    from dbadvisor import __version__
    from dbadvisor.migrations import alembic
    from dbadvisor.migrations import sql as sqlfiles

    steps = plan(report, only)
    if not steps.steps:
        raise UsageError(f"{report} has no finding with a fix" + (" among --only" if only else ""))
    try:
        if format == "sql":
            return steps, sqlfiles.write(steps, out, __version__, report.name)
        return steps, alembic.write(steps, out, down_revision)
    except OSError as exc:
        raise UsageError(f"cannot write into {out}: {exc.strerror or exc}") from None


# -- apply, history, revert ------------------------------------------------------------------------------
def history_file(path: Path | None) -> SqliteHistory:
    from dbadvisor.apply.history import SqliteHistory, default_path

    return SqliteHistory(path or default_path())


@contextlib.contextmanager
def history_reader(path: Path | None, dsn: str | None) -> Iterator[History]:
    """The history to read: the target's ``dbadvisor`` schema when ``dsn`` is given, else the file."""
    from dbadvisor.apply.history import PostgresHistory
    from dbadvisor.dialects.postgres.connection import connect

    if dsn is not None:
        with connect(dsn) as conn:
            yield PostgresHistory(conn, create=False)
        return
    store = history_file(path)
    try:
        yield store
    finally:
        store.close()


@dataclass(frozen=True)
class ApplyRequest:
    dsn: str
    history: Path | None = None
    history_in_db: bool = False
    lock_timeout_ms: int = 5000
    retries: int = 5
    measure: bool = True
    keep_regressions: bool = False
    archive_dir: Path | None = None  # where a retention policy's removed rows are archived first
    archive_table: bool = False  # or the table they are moved into


def apply(req: ApplyRequest, steps: Plan, log: Log | None = None) -> list[StepResult]:
    from dbadvisor.apply.history import PostgresHistory
    from dbadvisor.apply.run import ApplyOptions
    from dbadvisor.apply.run import apply as run_apply
    from dbadvisor.dialects.postgres.maintenance import MaintainOptions
    from dbadvisor.dialects.postgres.online import RetryPolicy

    opts = ApplyOptions(RetryPolicy(req.lock_timeout_ms, req.retries), measure=req.measure,
                        revert_regressions=not req.keep_regressions,
                        maintain=MaintainOptions(archive_dir=req.archive_dir, archive_table=req.archive_table))
    if sqlite_target(req.dsn):
        from dbadvisor.apply import sqlite as sqlite_apply
        from dbadvisor.dialects.sqlite.connection import path_of

        if req.history_in_db:
            raise UsageError("--history-in-db is for PostgreSQL; a SQLite file's history is kept in --history FILE")
        return sqlite_apply.apply(path_of(req.dsn), list(steps.steps), history_file(req.history), req.lock_timeout_ms,
                                  log=log)
    store = PostgresHistory if req.history_in_db else history_file(req.history)
    return run_apply(req.dsn, list(steps.steps), store, opts, log=log)


def history(path: Path | None, dsn: str | None) -> list[Action]:
    with history_reader(path, dsn) as store:
        return store.list()


def find_action(req: ApplyRequest, action_id: int) -> Action:
    with history_reader(req.history, req.dsn if req.history_in_db else None) as reader:
        action = reader.get(action_id)
    if action is None:
        raise UsageError(f"no action {action_id} in the history")
    return action


def revert(req: ApplyRequest, action_id: int, log: Log | None = None) -> Action:
    from dbadvisor.apply.history import PostgresHistory
    from dbadvisor.apply.run import ApplyOptions
    from dbadvisor.apply.run import revert as run_revert
    from dbadvisor.dialects.postgres.online import RetryPolicy

    if sqlite_target(req.dsn):
        from dbadvisor.apply import sqlite as sqlite_apply
        from dbadvisor.dialects.sqlite.connection import path_of

        return sqlite_apply.revert(path_of(req.dsn), action_id, history_file(req.history), req.lock_timeout_ms, log=log)
    store = PostgresHistory if req.history_in_db else history_file(req.history)
    return run_revert(req.dsn, action_id, store, ApplyOptions(RetryPolicy(req.lock_timeout_ms, req.retries)),
                      log=log)


__all__ = ["EXIT_ERROR", "EXIT_FINDINGS", "EXIT_OK", "DbAdvisorError"]


def maintain(dsn: str, dry_run: bool = False, archive_dir: Path | None = None, only: tuple[str, ...] = (),
             archive_table: bool = False, log: Log | None = None) -> list[Maintained]:
    from dbadvisor.apply.maintain import maintain as run_maintain
    from dbadvisor.dialects.postgres.maintenance import MaintainOptions

    return run_maintain(dsn, MaintainOptions(dry_run=dry_run, archive_dir=archive_dir, archive_table=archive_table),
                        only, log)


def describe_step(op: Operation) -> str:
    """A plan line: the SQL, or for an online table rebuild what it does (its migration form is long)."""
    from dbadvisor.dialects.postgres import DIALECT
    from dbadvisor.model.ddl import RebuildTable

    if isinstance(op, RebuildTable):
        shape = f"by RANGE ({op.column}), {op.interval} partitions" if op.partitioned else "as a plain table"
        return (f"rebuild {op.schema}.{op.table} {shape}, primary key ({', '.join(op.primary_key)}): "
                "shadow table, capture trigger, batched backfill, swap")
    return DIALECT.sql(op)


def how_online(op: Operation) -> str:
    from dbadvisor.dialects.postgres import DIALECT
    from dbadvisor.model.ddl import RebuildTable

    if isinstance(op, RebuildTable):
        return "yes (writers wait at most the lock timeout)"
    return "in a transaction" if DIALECT.transactional(op) else "yes"
