"""Alembic revisions: one file per action, chained in dependency order, ready for ``alembic upgrade``.

Statements that refuse a transaction block (CONCURRENTLY builds) run inside Alembic's
``autocommit_block()``; an INVALID index left by an interrupted concurrent build of the same name is
dropped before the build is retried, since ``IF NOT EXISTS`` would otherwise keep the broken one.
Statements go through ``sa.text`` with colons escaped, so a literal such as ``'a:b'`` in a predicate is
not taken for a bind parameter. Every string is written with ``repr``: names that need quoting stay names.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

from dbadvisor import dialects
from dbadvisor.dialects import Dialect
from dbadvisor.migrations import Plan
from dbadvisor.model.ddl import CreateIndex, Operation

TEMPLATE = '''"""dbadvisor: {title}

Finding: {finding}
Revision ID: {revision}
Revises: {down_revision}
Create Date: {created}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None

LOCK_TIMEOUT = {lock_timeout!r}


def _run(statement: str, transactional: bool) -> None:
    op.execute(sa.text("SET lock_timeout = " + repr(LOCK_TIMEOUT)))
    if transactional:
        op.execute(sa.text(statement.replace(":", "\\\\:")))
    else:
        with op.get_context().autocommit_block():
            op.execute(sa.text(statement.replace(":", "\\\\:")))


def _drop_invalid(schema: str, name: str) -> None:
    """An interrupted CONCURRENTLY build leaves an INVALID index that IF NOT EXISTS would keep."""
    invalid = op.get_bind().execute(sa.text(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid AND n.nspname = :schema AND c.relname = :name"
    ), {{"schema": schema, "name": name}}).first()
    if invalid is not None:
        _run({drop_invalid!r}, False)


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def revision_id(finding_id: str) -> str:
    """Deterministic, so that regenerating the files for the same report gives the same chain."""
    return hashlib.sha1(finding_id.encode()).hexdigest()[:12]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "action"


def _docstring_safe(text: str) -> str:
    return " ".join(text.split()).replace("\\", "/").replace('"""', "'''").rstrip('"')


def _call(op: Operation | None, dialect: Dialect) -> str:
    if op is None:
        return "    pass  # this action cannot be undone"
    return "\n".join(f"    _run({statement!r}, {transactional!r})"
                     for statement, transactional in dialect.statements(op))


def render(plan: Plan, down_revision: str | None = None, lock_timeout_ms: int = 5000,
           dialect: Dialect | None = None) -> dict[str, str]:
    """{file name: source} for each step, chained after ``down_revision`` (an existing head, or None)."""
    dialect = dialect or dialects.get(plan.dialect)
    files = {}
    previous = down_revision
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    for i, step in enumerate(plan.steps, 1):
        rev = revision_id(step.finding.id)
        upgrade = _call(step.op, dialect)
        drop_invalid = None
        if isinstance(step.op, CreateIndex) and step.op.concurrently:
            drop_invalid = dialect.sql(step.op.reverse())
            upgrade = f"    _drop_invalid({step.op.schema!r}, {step.op.name!r})\n{upgrade}"
        source = TEMPLATE.format(
            title=_docstring_safe(step.finding.title), finding=_docstring_safe(step.finding.id),
            revision=rev, down_revision=previous, created=created, lock_timeout=f"{lock_timeout_ms}ms",
            drop_invalid=drop_invalid, upgrade=upgrade, downgrade=_call(step.reverse, dialect),
        )
        if drop_invalid is None:  # the helper is only for index builds
            source = source[: source.index("\n\ndef _drop_invalid")] + source[source.index("\n\ndef upgrade"):]
        files[f"{i:03d}_{rev}_{_slug(step.finding.title)}.py"] = source
        previous = rev
    return files


def write(plan: Plan, out: Path, down_revision: str | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render(plan, down_revision).items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
