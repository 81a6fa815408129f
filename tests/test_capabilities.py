"""Capabilities are asked, not assumed; a missing one skips the checks that need it, with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from dbadvisor.analysis import run_checks
from dbadvisor.checks.base import Check
from dbadvisor.dialects.postgres.catalog import collect
from dbadvisor.dialects.postgres.cluster import PrivateCluster
from dbadvisor.dialects.postgres.connection import connect
from dbadvisor.model.findings import Finding
from tests.conftest import Database


class NeedsHypoPG(Check):
    """Test check that needs HypoPG."""

    id = "test_needs_hypopg"
    name = "needs hypopg"
    needs: ClassVar[frozenset[str]] = frozenset({"hypopg"})

    def run(self) -> Iterator[Finding]:
        yield self.finding("x", title="ran", detail="ran")


class NeedsStats(Check):
    """Test check that needs to read all statistics."""

    id = "test_needs_stats"
    name = "needs stats"
    needs: ClassVar[frozenset[str]] = frozenset({"read_all_stats", "pg_stat_statements"})

    def run(self) -> Iterator[Finding]:
        yield self.finding("x", title="ran", detail="ran")


class Broken(Check):
    """Test check that fails."""

    id = "test_broken"
    name = "broken"

    def run(self) -> Iterator[Finding]:
        raise RuntimeError("boom")


@pytest.mark.hypopg
def test_full_capabilities(db: Database) -> None:
    with connect(db.dsn) as conn:
        c = collect(conn)
    caps = c.capabilities
    assert caps.has("pg_stat_statements") and caps.has("hypopg") and caps.has("read_all_stats")
    assert not caps.has("pgstattuple")
    assert "available but not installed" in (caps.missing("pgstattuple") or "")
    findings, skipped, ran = run_checks(c.snapshot, caps, [NeedsHypoPG, NeedsStats, Broken])
    assert {f.check for f in findings} == {"test_needs_hypopg", "test_needs_stats"}
    assert [s.check for s in skipped] == ["test_broken"] and "boom" in skipped[0].reason
    assert ran == ["test_needs_hypopg", "test_needs_stats"]


@pytest.mark.hypopg
def test_missing_extension_skips_check(pg_cluster: PrivateCluster) -> None:
    dsn = pg_cluster.create_database("caps_noext", extensions=())
    with connect(dsn) as conn:
        c = collect(conn)
    findings, skipped, _ = run_checks(c.snapshot, c.capabilities, [NeedsHypoPG, NeedsStats])
    assert findings == []
    reasons = {s.check: s.reason for s in skipped}
    assert "CREATE EXTENSION hypopg" in reasons["test_needs_hypopg"]
    assert "CREATE EXTENSION pg_stat_statements" in reasons["test_needs_stats"]


def test_role_without_stats_privileges(db: Database) -> None:
    db.execute("DROP ROLE IF EXISTS lowpriv")
    db.execute("CREATE ROLE lowpriv LOGIN")
    with connect(db.dsn.replace("user=postgres", "user=lowpriv")) as conn:
        c = collect(conn)
    assert c.capabilities.current_user == "lowpriv"
    assert not c.capabilities.can_read_all_stats
    _, skipped, _ = run_checks(c.snapshot, c.capabilities, [NeedsStats])
    assert "GRANT pg_read_all_stats TO it" in skipped[0].reason
    db.execute("GRANT pg_read_all_stats TO lowpriv")
    with connect(db.dsn.replace("user=postgres", "user=lowpriv")) as conn:
        assert collect(conn).capabilities.can_read_all_stats
