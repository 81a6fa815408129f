"""Test harness: one private PostgreSQL 15 cluster per session (run as an unprivileged OS user when we
are root), a fresh database per test module. Nothing is mocked: tests talk to a real server."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.dialects.postgres.cluster import PrivateCluster
from dbadvisor.model.findings import Finding, Report
from dbadvisor.report import json

DEFAULT_EXTENSIONS = ("pg_stat_statements", "hypopg")


@dataclass
class Database:
    cluster: PrivateCluster
    name: str
    dsn: str

    def execute(self, sql: Any, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def analyze(self, only: tuple[str, ...] = (), **check_options: dict[str, Any]) -> Report:
        return analyze(self.dsn, AnalyzeOptions(only=only, check_options=check_options))

    def report_file(self, path: Path, workload: str, only: tuple[str, ...] = ("missing_index",)) -> Path:
        """Analyze with ``workload`` (.sql text) and save the JSON report, as a user would before
        verify, migrations or apply."""
        sql = path.with_suffix(".sql")
        sql.write_text(workload)
        report = analyze(self.dsn, AnalyzeOptions(only=only, workload=(sql,)))
        path.write_text(json.render(report))
        return path

    def findings(self, check: str, **options: Any) -> list[Finding]:
        report = self.analyze(only=(check,), **({check: options} if options else {}))
        return [f for f in report.findings if f.check == check]


def recs(report: Report) -> dict[str, Finding]:
    """The index advisor's recommendations in ``report``, by index name."""
    return {f.index or "": f for f in report.findings if f.check == "missing_index"}


def wait_for(db: Database, sql: str, timeout: float = 30, failure: list[BaseException] | None = None,
             alive: Any = None) -> list[tuple[Any, ...]]:
    """Poll ``sql`` until it returns rows; fail early when a worker reported a failure, or when
    ``alive()`` (a subprocess' poll, say) says the worker is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert not failure, failure
        assert alive is None or alive(), "the worker ended before the awaited state"
        rows = db.execute(sql)
        if rows:
            return rows
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {sql}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PrivateCluster]:
    with PrivateCluster() as cluster:
        yield cluster


def _extensions(cluster: PrivateCluster) -> tuple[str, ...]:
    available = cluster.available_extensions()
    return tuple(e for e in DEFAULT_EXTENSIONS if e in available)


@pytest.fixture(scope="module")
def db(pg_cluster: PrivateCluster, request: pytest.FixtureRequest) -> Database:
    """A fresh database for this test module, with pg_stat_statements and hypopg (where it exists)."""
    name = "t_" + re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])[:55]
    dsn = pg_cluster.create_database(name, _extensions(pg_cluster))
    return Database(pg_cluster, name, dsn)


@pytest.fixture
def fresh_db(pg_cluster: PrivateCluster, request: pytest.FixtureRequest) -> Database:
    """A fresh database for one test, when a module needs several states."""
    name = "f_" + re.sub(r"\W", "_", request.node.name)[:55]
    dsn = pg_cluster.create_database(name, _extensions(pg_cluster))
    return Database(pg_cluster, name, dsn)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``hypopg`` need hypothetical indexes: HypoPG is packaged for PostgreSQL 15 only here,
    so on the 16-18 servers of ``make test-matrix`` they are skipped with that reason."""
    if _has_hypopg():
        return
    skip = pytest.mark.skip(reason="needs HypoPG, which no registry reachable here packages for this major")
    for item in items:
        if "hypopg" in item.keywords:
            item.add_marker(skip)


def _has_hypopg() -> bool:
    import subprocess

    from dbadvisor.dialects.postgres.cluster import find_bindir

    bindir = find_bindir()
    pg_config = bindir / "pg_config"
    share = (subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True, check=False).stdout.strip()
             if pg_config.exists() else str(bindir.parent / "share"))
    return Path(share, "extension", "hypopg.control").exists()
