"""``dbadvisor apply`` and ``revert`` on a SQLite file: the same operations, preflight and history as on
PostgreSQL, with SQLite's own locking.

SQLite has no CONCURRENTLY: each step takes the file's write lock (``BEGIN IMMEDIATE``, waiting at most the
lock timeout for other writers, as ``busy_timeout``) for as long as it runs; readers go on in WAL mode. A
step is skipped when the file shows it done, refused ("stale report") when the file no longer holds what
the report described, and recorded in the history before it runs. The file is identified by its path and
its inode, so a revert acts only on that very file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from dbadvisor import __version__
from dbadvisor.apply.history import Action, History, HistoryError, ServerIdentity
from dbadvisor.apply.run import StepResult
from dbadvisor.dialects.sqlite import DIALECT
from dbadvisor.errors import ApplyError, StaleReport
from dbadvisor.migrations import Step
from dbadvisor.model.ddl import CreateIndex, DropIndex, Operation, RecreateIndex, SetPragma, operation_from_dict

Log = Callable[[str], None]
APPLICABLE = frozenset({"create_index", "drop_index", "recreate_index", "analyze_tables", "set_pragma", "vacuum_table"})


def identity(path: Path) -> ServerIdentity:
    return ServerIdentity(None, str(path), path.stat().st_ino, "sqlite", "")


def _index_sql(conn: sqlite3.Connection, name: str) -> tuple[str, str] | None:
    row = conn.execute("SELECT tbl_name, sql FROM sqlite_schema WHERE type = 'index' AND name = ?", (name,)).fetchone()
    return (str(row[0]), " ".join(str(row[1] or "").split())) if row else None


def preflight(conn: sqlite3.Connection, op: Operation) -> bool | None:
    """Whether the file shows ``op`` done (None: it cannot tell); StaleReport when it differs from the report."""
    if isinstance(op, CreateIndex):
        have = _index_sql(conn, op.name)
        if have is None:
            return False
        if have[0] != op.table:
            raise StaleReport(f"stale report: an index named {op.name} exists on {have[0]}, not {op.table}; "
                              "nothing done")
        return True
    if isinstance(op, DropIndex | RecreateIndex):
        have = _index_sql(conn, op.name)
        if isinstance(op, RecreateIndex):
            return have is not None
        if have is None:
            return True
        if op.definition is not None and have[1].lower() != " ".join(op.definition.split()).lower():
            raise StaleReport(f"stale report: {op.name} is no longer the index the report described "
                              f"(now: {have[1]}); nothing done")
        return False
    if isinstance(op, SetPragma):
        row = conn.execute(f"PRAGMA {op.name}").fetchone()  # a name SetPragma validated
        value = str(row[0]).lower() if row else ""
        names = {"0": "none", "1": "full", "2": "incremental"} if op.name == "auto_vacuum" else {}
        value = names.get(value, value)
        if value == op.value:
            return True
        if value != op.previous:
            raise StaleReport(f"stale report: {op.name} is now {value}, not {op.previous}; nothing done")
        return False
    return None


def run(conn: sqlite3.Connection, op: Operation) -> None:
    """Each statement under the write lock: transactional ones in a BEGIN IMMEDIATE of their own."""
    for statement, transactional in DIALECT.statements(op):
        if transactional:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        else:
            conn.execute(statement)


def _open(path: Path, lock_timeout_ms: int) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, timeout=lock_timeout_ms / 1000)


def apply(path: Path, steps: list[Step], history: History, lock_timeout_ms: int = 5000,
          log: Log | None = None) -> list[StepResult]:
    say = log or (lambda _: None)
    server = identity(path)
    for a in history.interrupt_unfinished(server):
        say(f"action {a.id} ({a.finding_id}) was left running by a run that died: marked interrupted")
    conn = _open(path, lock_timeout_ms)
    results: list[StepResult] = []
    try:
        for step in steps:
            result = StepResult(step, "applied")
            results.append(result)
            op = step.op
            if op.kind not in APPLICABLE:
                raise ApplyError(f"{step.finding.id}: apply does not run {op.kind} fixes on SQLite")
            done = preflight(conn, op)
            if done or (done is None and history.succeeded(step.finding.id, DIALECT.sql(op), server)):
                result.status = "already applied"
                say(f"already applied: {step.label}")
                continue
            reverse = op.reverse()
            result.action_id = history.record(
                kind="apply", finding_id=step.finding.id, check_id=step.finding.check, title=step.finding.title,
                why=step.finding.detail, target=f"sqlite:///{path}", database=str(path), sql=DIALECT.sql(op),
                rollback_sql=DIALECT.sql(reverse), operation=DIALECT.fix_dict(op),
                estimate=step.finding.estimate.to_dict() if step.finding.estimate else None,
                server=server.to_json(), tool_version=__version__)
            say(f"applying: {step.label}")
            try:
                run(conn, op)
            except sqlite3.Error as exc:
                result.status, result.error = "failed", str(exc)
                history.finish(result.action_id, "failed", str(exc))
                raise ApplyError(f"{step.finding.id}: {exc}") from None
            result.attempts = 1
            history.finish(result.action_id, "applied")
    finally:
        conn.close()
    return results


def revert(path: Path, action_id: int, history: History, lock_timeout_ms: int = 5000,
           log: Log | None = None) -> Action:
    say = log or (lambda _: None)
    action = history.get(action_id)
    if action is None:
        raise ApplyError(f"no action {action_id} in the history ({history.where})")
    if action.kind != "apply" or action.status != "applied":
        raise ApplyError(f"action {action_id} is {action.kind}/{action.status}: only applied actions can be reverted")
    recorded = action.identity
    if recorded is None or (why := recorded.differs(identity(path))) is not None:
        raise ApplyError(f"action {action_id} was applied to {action.target}; this is "
                         f"{why or 'a file the history cannot prove is that one'}: nothing done")
    saved = operation_from_dict(json.loads(action.operation)) if action.operation else None
    op = saved.reverse() if saved else None
    if op is None:
        raise ApplyError(f"action {action_id} ({action.title}) has no rollback")
    conn = _open(path, lock_timeout_ms)
    try:
        done = preflight(conn, op)
        revert_id = history.record(kind="revert", finding_id=action.finding_id, check_id=action.check_id,
                                   title=f"revert: {action.title}", why=f"revert of action {action_id}",
                                   target=action.target, database=str(path), sql=DIALECT.sql(op),
                                   rollback_sql=action.sql, operation=DIALECT.fix_dict(op),
                                   reverts=action_id, server=identity(path).to_json(), tool_version=__version__)
        say(f"reverting action {action_id}: {DIALECT.sql(op)}")
        try:
            if not done:
                run(conn, op)
        except sqlite3.Error as exc:
            history.finish(revert_id, "failed", str(exc))
            raise ApplyError(f"revert of action {action_id}: {exc}") from None
        history.finish(revert_id, "applied")
        history.finish(action_id, "reverted")
    finally:
        conn.close()
    result = history.get(revert_id)
    if result is None:  # pragma: no cover - we just wrote it
        raise HistoryError("the revert was applied but its record cannot be read back")
    return result

