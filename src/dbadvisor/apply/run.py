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
from dbadvisor.apply.executor import ApplyError, RetryPolicy, execute, is_done
from dbadvisor.apply.history import Action, History, HistoryError
from dbadvisor.collect import dsn as dsnlib
from dbadvisor.collect.connection import SessionSettings, connect
from dbadvisor.collect.postgres import collect
from dbadvisor.migrations import Step
from dbadvisor.model.ddl import CreateIndex, Operation, operation_from_dict
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


@dataclass
class StepResult:
    step: Step
    status: str  # applied | already applied | failed | regressed, reverted | regressed
    action_id: int | None = None
    attempts: int = 0
    measured: dict[str, Any] | None = None
    error: str | None = None


class _Session:
    """A writable session holding the advisory lock for as long as it lives."""

    def __init__(self, dsn: str, opts: ApplyOptions) -> None:
        settings = SessionSettings(read_only=False, statement_timeout_ms=opts.statement_timeout_ms,
                                   lock_timeout_ms=opts.policy.lock_timeout_ms)
        self.conn = connect(dsn, settings)
        self.conn.execute("SET idle_in_transaction_session_timeout = 0")
        row = self.conn.execute("SELECT pg_try_advisory_lock(%s), current_database()", (LOCK_KEY,)).fetchone()
        assert row is not None
        if not row[0]:
            self.conn.close()
            raise ApplyError("another dbadvisor apply or revert holds the lock on this database; try again later")
        self.database = str(row[1])

    def close(self) -> None:
        if not self.conn.closed:
            with contextlib.suppress(psycopg.Error):  # the lock goes with the session anyway
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            self.conn.close()


def apply(dsn: str, steps: list[Step], history: History | Callable[[psycopg.Connection[Any]], History],
          opts: ApplyOptions | None = None, log: Log | None = None) -> list[StepResult]:
    """Apply ``steps`` in order; stops at the first failure (a rerun picks up where it stopped).

    ``history`` may be a factory taking the apply session, for the history kept in the target."""
    opts = opts or ApplyOptions()
    say = log or (lambda _: None)
    session = _Session(dsn, opts)
    conn = session.conn
    store = history if isinstance(history, History) else history(conn)
    results: list[StepResult] = []
    try:
        snapshot = collect(conn).snapshot if opts.measure else None
        for step in steps:
            result = StepResult(step, "applied")
            results.append(result)
            done = is_done(conn, step.op)
            if done or (done is None and store.succeeded(step.finding.id, step.op.to_sql(), session.database)):
                result.status = "already applied"
                say(f"already applied: {step.label}")
                continue
            runs = affected_queries(step.finding, snapshot) if snapshot and isinstance(step.op, CreateIndex) else []
            measure_all(conn, runs, opts.runs, "before")
            result.action_id = store.record(
                kind="apply", finding_id=step.finding.id, check_id=step.finding.check, title=step.finding.title,
                why=step.finding.detail, target=dsnlib.describe(dsn), database=session.database,
                sql=step.op.to_sql(), rollback_sql=step.reverse.to_sql() if step.reverse else None,
                operation=step.op.to_dict(),
                estimate=step.finding.estimate.to_dict() if step.finding.estimate else None,
                tool_version=__version__)
            say(f"applying: {step.label}")
            try:
                result.attempts = execute(conn, step.op, opts.policy, say)
            except (ApplyError, psycopg.OperationalError) as exc:
                result.status, result.error = "failed", _reason(exc)
                with contextlib.suppress(HistoryError):  # a history kept in the lost session is out of reach
                    store.finish(result.action_id, "failed", result.error)
                raise ApplyError(f"{step.finding.id}: {result.error}") from None
            if runs:
                measure_all(conn, runs, opts.runs, "after")
                name = step.op.name if isinstance(step.op, CreateIndex) else ""
                used = any(r.after is not None and name in r.after.indexes for r in runs)
                outcome = Outcome(runs, used, {"runs": opts.runs, "where": "target, after apply"})
                result.measured = outcome.summarize(0.0) | {"queries": [r.to_dict() for r in runs]}
                if _regressed(result.measured, opts):
                    result.status = "regressed"
                    if opts.revert_regressions and step.reverse is not None:
                        say(f"regressed, reverting: {step.label}")
                        execute(conn, step.reverse, opts.policy, say)
                        result.status = "regressed, reverted"
            store.finish(result.action_id, result.status, measured=result.measured)
    finally:
        session.close()
    return results


def _regressed(m: dict[str, Any], opts: ApplyOptions) -> bool:
    before, after = m.get("weighted_before_ms") or 0.0, m.get("weighted_after_ms") or 0.0
    return (bool(m.get("statements_measured")) and after > before * (1 + opts.regression_tolerance)
            and after - before > opts.regression_min_ms)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, psycopg.OperationalError):
        return ("connection lost mid-statement (" + (str(exc).strip().splitlines() or ["closed"])[0]
                + "); rerun apply: it drops the INVALID leftover and builds again")
    return str(exc)


def revert(dsn: str, action_id: int, history: History | Callable[[psycopg.Connection[Any]], History],
           opts: ApplyOptions | None = None, log: Log | None = None) -> Action:
    """Undo an applied action with its rollback operation; recorded as an action of its own."""
    opts = opts or ApplyOptions()
    say = log or (lambda _: None)
    session = _Session(dsn, opts)
    try:
        store = history if isinstance(history, History) else history(session.conn)
        action = store.get(action_id)
        if action is None:
            raise ApplyError(f"no action {action_id} in the history ({store.where})")
        if action.kind != "apply" or action.status not in ("applied", "regressed"):
            raise ApplyError(f"action {action_id} is {action.kind}/{action.status}: "
                             "only applied actions can be reverted")
        saved = operation_from_dict(json.loads(action.operation)) if action.operation else None
        op: Operation | None = saved.reverse() if saved else None
        if op is None:
            raise ApplyError(f"action {action_id} ({action.title}) has no rollback")
        if session.database != action.database:
            raise ApplyError(f"action {action_id} was applied to database {action.database!r}, "
                             f"not {session.database!r}")
        revert_id = store.record(
            kind="revert", finding_id=action.finding_id, check_id=action.check_id, title=f"revert: {action.title}",
            why=f"revert of action {action_id}", target=dsnlib.describe(dsn), database=session.database,
            sql=op.to_sql(), rollback_sql=action.sql, operation=op.to_dict(), tool_version=__version__,
            reverts=action_id)
        say(f"reverting action {action_id}: {op.to_sql()}")
        try:
            if not is_done(session.conn, op):
                execute(session.conn, op, opts.policy, say)
        except (ApplyError, psycopg.OperationalError) as exc:
            store.finish(revert_id, "failed", _reason(exc))
            raise ApplyError(f"revert of action {action_id}: {_reason(exc)}") from None
        store.finish(revert_id, "applied")
        store.finish(action_id, "reverted")
        result = store.get(revert_id)
    finally:
        session.close()
    if result is None:  # pragma: no cover - we just wrote it
        raise HistoryError("the revert was applied but its record cannot be read back")
    return result
