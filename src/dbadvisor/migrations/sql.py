"""Plain SQL migrations: ``up.sql`` and ``down.sql``, for psql or any tool that runs statements one by one.

CONCURRENTLY builds refuse a transaction block, so the files must not be run with ``--single-transaction``;
each statement stands alone, bounded by ``lock_timeout`` so that it never queues behind a long
transaction while blocking the application's queries behind itself.
"""

from __future__ import annotations

from pathlib import Path

from dbadvisor import dialects
from dbadvisor.dialects import Dialect
from dbadvisor.migrations import Plan

HEADER = """\
-- dbadvisor {version}: {what} for {count} action(s) from {source}.
-- Run with: psql -v ON_ERROR_STOP=1 -f {name}
-- Not in one transaction (no -1 / --single-transaction): CONCURRENTLY statements refuse a transaction block.
-- A concurrent build interrupted half-way leaves an INVALID index behind that IF NOT EXISTS would keep:
-- drop it (DROP INDEX CONCURRENTLY) before rerunning, or use `dbadvisor apply`, which does so itself.
SET lock_timeout = {lock_timeout};
SET statement_timeout = 0;
"""
SQLITE_HEADER = """\
-- dbadvisor {version}: {what} for {count} action(s) from {source}.
-- Run with: sqlite3 FILE < {name} (each statement takes the file's write lock while it runs).
"""


def _comment(text: str) -> str:
    return "\n".join(f"-- {line}" for line in text.splitlines() or [""])


def render(plan: Plan, version: str, source: str, lock_timeout_ms: int = 5000,
           dialect: Dialect | None = None) -> dict[str, str]:
    """{file name: text} for ``up.sql`` and ``down.sql``."""
    dialect = dialect or dialects.get(plan.dialect)
    header = SQLITE_HEADER if dialect.name == "sqlite" else HEADER
    files = {}
    steps = plan.steps
    held = [_comment(f"held back: {h.finding.id}: {h.reason}") for h in plan.held]
    for name, what, ordered in (("up.sql", "migration", steps), ("down.sql", "rollback", steps[::-1])):
        parts = [header.format(version=version, what=what, count=len(steps), source=source, name=name,
                               lock_timeout=dialect.literal(f"{lock_timeout_ms}ms")), *held]
        for i, step in enumerate(ordered, 1):
            op = step.op if name == "up.sql" else step.reverse
            parts.append(_comment(f"[{i}/{len(ordered)}] {step.label}"))
            parts.append(dialect.sql(op) or "-- (no rollback: this action cannot be undone)")
            parts.append("")
        files[name] = "\n".join(parts)
    return files


def write(plan: Plan, out: Path, version: str, source: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render(plan, version, source).items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
