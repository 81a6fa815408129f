"""``dbadvisor maintain``: the time-series policies recorded in the target, carried out once; safe to run
from cron as often as wanted.

For each table dbadvisor partitioned (``dbadvisor.partitioning``) the partitions ahead are made; for each
retention policy (``dbadvisor.retention``) the rows older than its horizon are removed (or, with
``dry_run``, counted). It holds the same advisory lock as ``apply``, so the two never run at once, and a
policy that fails is reported while the others go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from dbadvisor.apply.run import ApplyOptions, _Session
from dbadvisor.dialects.postgres.connection import connect
from dbadvisor.dialects.postgres.maintenance import (
    MaintainOptions,
    MaintenanceError,
    ensure_ahead,
    expire,
    partitioning_policies,
    retention_policies,
)

Log = Callable[[str], None]


@dataclass
class Maintained:
    """One policy's outcome: what was made or removed, or why it failed."""

    table: str
    action: str  # "partitions ahead" | "retention"
    figures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def maintain(dsn: str, opts: MaintainOptions | None = None, only: tuple[str, ...] = (),
             log: Log | None = None) -> list[Maintained]:
    """Carry out every recorded policy (of the tables in ``only``, when given)."""
    opts = opts or MaintainOptions()
    say = log or (lambda _: None)
    session = None
    if opts.dry_run:
        conn = connect(dsn)  # analysis settings: read only
    else:
        session = _Session(dsn, ApplyOptions())
        conn = session.conn
    out: list[Maintained] = []
    try:
        wanted = set(only)
        if not opts.dry_run:
            for schema, table, interval, start, premake in partitioning_policies(conn):
                name = f"{schema}.{table}"
                if wanted and name not in wanted:
                    continue
                done = Maintained(name, "partitions ahead")
                try:
                    made = ensure_ahead(conn, schema, table, interval, start, premake, say)
                    done.figures = {"created": made, "premake": premake, "interval": interval}
                except (MaintenanceError, psycopg.Error) as exc:
                    done.error = _line(exc)
                out.append(done)
        for p in retention_policies(conn):
            name = f"{p.schema}.{p.table}"
            if wanted and name not in wanted:
                continue
            done = Maintained(name, "retention")
            try:
                done.figures = expire(conn, p.schema, p.table, p.column, p.keep, p.batch_rows,
                                      opts, say).to_dict()
            except (MaintenanceError, psycopg.Error) as exc:
                done.error = _line(exc)
            out.append(done)
    finally:
        if session is not None:
            session.close()
        else:
            conn.close()
    return out


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
