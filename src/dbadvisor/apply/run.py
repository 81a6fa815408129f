"""``dbadvisor apply`` and ``dbadvisor revert``: the report's fixes on the live database, one at a time.

An advisory lock keeps two appliers off the same database. Each step is skipped when the catalog shows
it done (so a rerun does nothing more), recorded in the history before it starts and finished there with
its result, and, for a new index, judged by re-measuring the statements it is meant to help: one that
makes them slower is reverted with its rollback operation unless told otherwise.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from dbadvisor import __version__
from dbadvisor.apply.history import Action, History, HistoryError, ServerIdentity
from dbadvisor.dialects.postgres import DIALECT
from dbadvisor.dialects.postgres import dsn as dsnlib
from dbadvisor.dialects.postgres.catalog import collect
from dbadvisor.dialects.postgres.connection import SessionSettings, connect
from dbadvisor.dialects.postgres.maintenance import MaintainOptions, MaintenanceError, expire
from dbadvisor.dialects.postgres.online import ApplyError, RetryPolicy, StaleReport, execute, leftovers, preflight, run
from dbadvisor.dialects.postgres.online_rebuild import RebuildError, RebuildOptions, rebuild
from dbadvisor.migrations import Step
from dbadvisor.model.ddl import CreateIndex, Operation, RebuildTable, SetRetention, operation_from_dict
from dbadvisor.verify.run import Outcome, affected_queries, measure_all

LOCK_KEY = 0x64626164  # "dbad": one advisory lock per database for every dbadvisor writer
Log = Callable[[str], None]


@dataclass(frozen=True)
class ApplyOptions:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    statement_timeout_ms: int = 0  # index builds on large tables take long; lock_timeout bounds the waits
    measure: bool = True  # re-measure the statements a new index is meant to help, before and after
    runs: int = 5
    revert_regressions: bool = True
    regression_tolerance: float = 0.25  # slower than before by more than this share ...
    regression_min_ms: float = 1.0  # ... and by more than this many ms (timing noise on fast statements)
    rebuild: RebuildOptions = field(default_factory=RebuildOptions)  # online partitioning
    maintain: MaintainOptions = field(default_factory=MaintainOptions)  # retention, once its policy is set


@dataclass
class StepResult:
    step: Step
    status: str  # applied | already applied | failed | regressed, reverted | regressed
    action_id: int | None = None
    attempts: int = 0
    measured: dict[str, Any] | None = None
    error: str | None = None


class _Session:
    """A writable session holding the advisory lock for as long as it lives.

    It is opened for writing, explicitly, and used for nothing else: what the steps measure and read
    comes from a separate read-only session, so no analysis setting (READ ONLY above all) leaks into it."""

    def __init__(self, dsn: str, opts: ApplyOptions) -> None:
        settings = SessionSettings(read_only=False, statement_timeout_ms=opts.statement_timeout_ms,
                                   lock_timeout_ms=opts.policy.lock_timeout_ms, idle_in_transaction_timeout_s=0)
        self.conn = connect(dsn, settings)
        row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        assert row is not None
        if not row[0]:
            self.conn.close()
            raise ApplyError("another dbadvisor apply or revert holds the lock on this database; try again later")
        self.server = ServerIdentity.of(self.conn)
        self.database = self.server.database

    def close(self) -> None:
        if not self.conn.closed:
            with contextlib.suppress(psycopg.Error):  # the lock goes with the session anyway
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            self.conn.close()


class _Run:
    """One apply or revert: the session, the history, and the records it keeps as it goes."""

    def __init__(self, dsn: str, session: _Session, store: History, opts: ApplyOptions, say: Log) -> None:
        self.dsn, self.session, self.store, self.opts, self.say = dsn, session, store, opts, say
        self.open: int | None = None  # the action being run, to finish as interrupted if we are stopped
        for a in store.interrupt_unfinished(session.server):
            say(f"action {a.id} ({a.finding_id}) was left running by a run that died: marked interrupted")

    def record(self, track: bool = True, **values: Any) -> int:
        """Record an action before it runs; ``track``: it is the one to finish as interrupted if we stop
        (a cleanup inside an action's attempt is not: the action stays the open one)."""
        action_id = self.store.record(target=dsnlib.describe(self.dsn), database=self.session.database,
                                      server=self.session.server.to_json(), tool_version=__version__, **values)
        if track:
            self.open = action_id
        return action_id

    def finish(self, action_id: int, status: str, error: str | None = None,
               measured: dict[str, Any] | None = None) -> None:
        self.store.finish(action_id, status, error, measured)
        if self.open == action_id:
            self.open = None

    def interrupted(self) -> None:
        if self.open is not None:
            with contextlib.suppress(HistoryError):
                self.store.finish(self.open, "interrupted", "interrupted before it finished; rerun to complete")

    def carry_out(self, op: Operation, action_id: int,
                  cleanup: Callable[[], None] | None) -> tuple[int, dict[str, Any] | None]:
        """Run one operation: a table rebuild online (its phases recorded), a retention policy set and
        then enforced once, anything else statement by statement with retries. (attempts, figures)."""
        conn, say = self.session.conn, self.say
        try:
            if isinstance(op, RebuildTable):
                figures = rebuild(conn, op, self.opts.rebuild, say,
                                  phase=lambda name, **detail: self.store.phase(action_id, name, **detail))
                return 1, figures
            attempts = execute(conn, op, self.opts.policy, say, cleanup)
            if isinstance(op, SetRetention):
                expired = expire(conn, op.schema, op.table, op.column, op.keep, op.batch_rows,
                                 self.opts.maintain, say)
                return attempts, expired.to_dict()
            return attempts, None
        except (RebuildError, MaintenanceError) as exc:
            raise ApplyError(str(exc)) from None

    def cleaner(self, op: Operation, finding_id: str) -> Callable[[], None]:
        """Before each attempt of ``op``: drop the INVALID leftovers of earlier attempts, but only those the
        history proves are ours (an attempt of this very statement on this very database was recorded)."""
        proven = any(a.kind in ("apply", "revert") for a in self.store.on(self.session.server, DIALECT.sql(op)))
        if not proven:
            for drop in leftovers(self.session.conn, op):
                raise StaleReport(f"an INVALID index {drop.schema}.{drop.name} exists that dbadvisor did not "
                                  "create (no attempt of it in the history): nothing dropped, nothing done; "
                                  "drop or rebuild it yourself")

        def clean() -> None:  # from here on, INVALID leftovers are our own attempts' (recorded before each)
            for drop in leftovers(self.session.conn, op):
                action = self.record(False, kind="apply", finding_id=finding_id, check_id="cleanup",
                                     title=f"drop INVALID leftover {drop.schema}.{drop.name}",
                                     why=f"left by an interrupted attempt of: {DIALECT.sql(op)}", sql=DIALECT.sql(drop),
                                     rollback_sql=DIALECT.sql(drop.reverse()), operation=DIALECT.fix_dict(drop))
                self.say(f"dropping INVALID leftover of an interrupted build: {drop.schema}.{drop.name}")
                run(self.session.conn, drop)
                self.finish(action, "applied")
        return clean


def apply(dsn: str, steps: list[Step], history: History | Callable[[psycopg.Connection[Any]], History],
          opts: ApplyOptions | None = None, log: Log | None = None) -> list[StepResult]:
    """Apply ``steps`` in order; stops at the first failure (a rerun picks up where it stopped).

    ``history`` may be a factory taking the apply session, for the history kept in the target."""
    opts = opts or ApplyOptions()
    say = log or (lambda _: None)
    session = _Session(dsn, opts)
    conn = session.conn
    results: list[StepResult] = []
    job: _Run | None = None
    try:
        store = history if isinstance(history, History) else history(conn)
        job = _Run(dsn, session, store, opts, say)
        snapshot = None
        if opts.measure:
            with connect(dsn) as reader:  # its own read-only session: the write session stays as configured
                snapshot = collect(reader).snapshot
        for step in steps:
            result = StepResult(step, "applied")
            results.append(result)
            if step.op.kind not in APPLICABLE:
                raise ApplyError(f"{step.finding.id}: apply does not run {step.op.kind} fixes")
            op, done = preflight(conn, step.op)
            if done or (done is None and store.succeeded(step.finding.id, DIALECT.sql(op), session.server)):
                result.status = "already applied"
                for a in store.on(session.server, DIALECT.sql(op)):
                    if a.kind == "apply" and a.status == "interrupted":
                        job.finish(a.id, "applied", "completed before its run was interrupted (found done)")
                say(f"already applied: {step.label}")
                continue
            cleanup = job.cleaner(op, step.finding.id)  # refuses a user's INVALID index before anything is recorded
            runs = affected_queries(step.finding, snapshot) if snapshot and isinstance(op, CreateIndex) else []
            bystanders = affected_queries(step.finding, snapshot, "bystanders") if runs and snapshot else []
            measure_all(conn, runs, opts.runs, "before")
            measure_all(conn, bystanders, opts.runs, "before")
            reverse = op.reverse()
            result.action_id = job.record(
                kind="apply", finding_id=step.finding.id, check_id=step.finding.check, title=step.finding.title,
                why=step.finding.detail, sql=DIALECT.sql(op), rollback_sql=DIALECT.sql(reverse),
                operation=DIALECT.fix_dict(op),
                estimate=step.finding.estimate.to_dict() if step.finding.estimate else None)
            say(f"applying: {step.label}")
            try:
                result.attempts, result.measured = job.carry_out(op, result.action_id, cleanup)
            except (ApplyError, psycopg.OperationalError) as exc:
                result.status, result.error = "failed", _reason(exc, op)
                with contextlib.suppress(HistoryError):  # a history kept in the lost session is out of reach
                    job.finish(result.action_id, "failed", result.error)
                raise ApplyError(f"{step.finding.id}: {result.error}") from None
            if runs:
                measure_all(conn, runs, opts.runs, "after")
                measure_all(conn, bystanders, opts.runs, "after")
                name = op.name if isinstance(op, CreateIndex) else ""
                used = any(r.after is not None and name in r.after.indexes for r in runs)
                outcome = Outcome(runs, used, {"runs": opts.runs, "where": "target, after apply"}, bystanders, name)
                result.measured = outcome.summarize(0.0) | {"queries": [r.to_dict() for r in runs]}
                if _regressed(result.measured, opts):
                    result.status = "regressed"
                    if opts.revert_regressions and reverse is not None:
                        say(f"regressed, reverting: {step.label}")
                        execute(conn, reverse, opts.policy, say)
                        result.status = "regressed, reverted"
            job.finish(result.action_id, result.status, measured=result.measured)
    except BaseException:
        if job is not None:
            job.interrupted()
        raise
    finally:
        session.close()
    return results


# What apply runs from a report. The others (the reverses) are run by revert from its own history.
APPLICABLE = frozenset({"create_index", "drop_index", "reindex_index", "set_table_options", "reset_table_options",
                        "vacuum_table", "add_primary_key_using_index", "add_identity_primary_key", "batch",
                        "alter_column_type", "alter_sequence_type", "alter_policy", "create_extension",
                        "alter_system_set", "partition_table", "set_retention"})


def _regressed(m: dict[str, Any], opts: ApplyOptions) -> bool:
    # The statements it slowed down that it was not meant to help count too (do no harm).
    before = m.get("weighted_before_ms") or 0.0
    after = (m.get("weighted_after_ms") or 0.0) + (m.get("weighted_harm_ms") or 0.0)
    return (bool(m.get("statements_measured")) and after > before * (1 + opts.regression_tolerance)
            and after - before > opts.regression_min_ms)


def _reason(exc: BaseException, op: Operation | None = None) -> str:
    if isinstance(exc, psycopg.OperationalError):
        then = ("it resumes the rebuild from its last batch" if isinstance(op, RebuildTable)
                else "it drops the INVALID leftover and builds again")
        lost = (str(exc).strip().splitlines() or ["closed"])[0]
        return f"connection lost mid-statement ({lost}); rerun apply: {then}"
    return str(exc)


def revert(dsn: str, action_id: int, history: History | Callable[[psycopg.Connection[Any]], History],
           opts: ApplyOptions | None = None, log: Log | None = None) -> Action:
    """Undo an applied action with its rollback operation; recorded as an action of its own. Only on the
    very database the action ran on (system identifier, database oid), never on a namesake."""
    opts = opts or ApplyOptions()
    say = log or (lambda _: None)
    session = _Session(dsn, opts)
    job: _Run | None = None
    try:
        store = history if isinstance(history, History) else history(session.conn)
        job = _Run(dsn, session, store, opts, say)
        action = store.get(action_id)
        if action is None:
            raise ApplyError(f"no action {action_id} in the history ({store.where})")
        if action.kind != "apply" or action.status not in ("applied", "regressed"):
            raise ApplyError(f"action {action_id} is {action.kind}/{action.status}: "
                             "only applied actions can be reverted")
        recorded = action.identity
        if recorded is None:
            raise ApplyError(f"action {action_id} was recorded without the server's identity (before 0.2): "
                             "dbadvisor cannot prove this is the database it ran on, so it does not revert it")
        if (why := recorded.differs(session.server)) is not None:
            raise ApplyError(f"action {action_id} was applied to {action.target}; this is {why}: nothing done")
        try:
            saved = operation_from_dict(json.loads(action.operation)) if action.operation else None
        except (ValueError, TypeError) as exc:
            raise ApplyError(f"action {action_id}'s recorded operation cannot be read: {exc}") from None
        op: Operation | None = saved.reverse() if saved else None
        if op is None:
            raise ApplyError(f"action {action_id} ({action.title}) has no rollback")
        op, done = preflight(session.conn, op)
        revert_id = job.record(
            kind="revert", finding_id=action.finding_id, check_id=action.check_id, title=f"revert: {action.title}",
            why=f"revert of action {action_id}", sql=DIALECT.sql(op), rollback_sql=action.sql,
            operation=DIALECT.fix_dict(op), reverts=action_id)
        say(f"reverting action {action_id}: {DIALECT.sql(op)}")
        measured = None
        try:
            if not done:
                _, measured = job.carry_out(op, revert_id, job.cleaner(op, action.finding_id))
        except (ApplyError, psycopg.OperationalError) as exc:
            job.finish(revert_id, "failed", _reason(exc, op))
            raise ApplyError(f"revert of action {action_id}: {_reason(exc)}") from None
        job.finish(revert_id, "applied", measured=measured)
        job.finish(action_id, "reverted")
        result = store.get(revert_id)
    except BaseException:
        if job is not None:
            job.interrupted()
        raise
    finally:
        session.close()
    if result is None:  # pragma: no cover - we just wrote it
        raise HistoryError("the revert was applied but its record cannot be read back")
    return result
