"""sqlite_foreign_keys: foreign keys a SQLite file declares but that its connections may not enforce."""

from __future__ import annotations

from collections.abc import Iterator

from dbadvisor.checks.base import SQLITE, Check
from dbadvisor.model.catalog import ConstraintType
from dbadvisor.model.findings import Finding, Severity


class SqliteForeignKeys(Check):
    """Foreign keys not enforced: SQLite checks them only on connections that ran ``PRAGMA foreign_keys =
    ON`` (it is off by default, and not kept in the file), so an application that never sets it stores
    rows that point nowhere, and ON DELETE CASCADE never fires.

    Bad::

        engine = create_engine("sqlite:///app.db")  # foreign_keys off on every connection

    Good::

        @event.listens_for(engine, "connect")
        def _fk(dbapi_conn, _): dbapi_conn.execute("PRAGMA foreign_keys = ON")
    """

    id = "sqlite_foreign_keys"
    name = "SQLite foreign keys not enforced"
    groups = ("integrity", "schema")
    dialects = frozenset({SQLITE})
    severity = Severity.MEDIUM
    severity_range = (Severity.LOW, Severity.HIGH)

    def run(self) -> Iterator[Finding]:
        snap = self.ctx.snapshot
        fks = [c for c in snap.constraints if c.type == ConstraintType.FOREIGN_KEY]
        if not fks:
            return
        broken = dict(snap.foreign_key_violations)
        total = sum(broken.values())
        detail = (f"{len(fks)} foreign key(s) are declared; SQLite enforces them only on connections that run "
                  "PRAGMA foreign_keys = ON, which the file does not keep. ")
        if total:
            where = ", ".join(f"{t}: {n:,}" for t, n in broken.items())
            detail += f"{total:,} row(s) already point nowhere ({where}): they were written by connections without it. "
        detail += ("Set it on every connection (SQLAlchemy: a 'connect' event listener; sqlite3: execute it after "
                   "connect), and fix or remove the orphans first, or the next write that touches them fails.")
        cascades = [c.name for c in fks if c.on_delete in ("cascade", "set null", "set default")]
        yield self.finding(
            snap.database.name,
            title=(f"{total:,} rows violate foreign keys: enforcement is off" if total
                   else "Foreign keys are enforced only where each connection turns them on"),
            detail=detail,
            severity=Severity.HIGH if total else Severity.LOW,
            evidence={"foreign_keys": len(fks), "violations": broken, "counted_up_to": 1000,
                      "cascading": cascades},
        )
