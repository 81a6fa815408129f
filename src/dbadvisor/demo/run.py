"""``dbadvisor demo``: start a private server, load the demo application, run its workload, analyze it,
write the reports."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from dbadvisor import __version__
from dbadvisor.analysis import analyze
from dbadvisor.demo import problems, workload
from dbadvisor.demo import sqlite as sqlite_demo
from dbadvisor.dialects.postgres.cluster import PrivateCluster
from dbadvisor.migrations import alembic, plan_of
from dbadvisor.migrations import sql as sqlfiles
from dbadvisor.model.findings import Report
from dbadvisor.report import html, json, markdown
from dbadvisor.verify.run import VerifyOptions, verify

DEMO_DB = "chatbot"
SCRATCH_DB = "chatbot_scratch"  # verify builds its copy here: schema, sampled rows, real indexes
DEMO_EXTENSIONS = ("pg_stat_statements", "hypopg", "pgstattuple", "pg_trgm")
REPORTS = {"report.md": markdown.render, "report.html": html.render, "report.json": json.render}


@dataclass
class DemoResult:
    report: Report
    paths: list[Path]
    dsn: str | None = None  # set when the server is kept running
    timings: dict[str, float] = field(default_factory=dict)
    migrations: list[Path] = field(default_factory=list)  # up/down SQL and Alembic revisions
    measured: int = 0  # recommendations measured with EXPLAIN ANALYZE on the scratch copy
    demoted: int = 0
    stop_command: str | None = None  # how to stop the kept server


def load(dsn: str) -> None:
    """Create the schema, generate the data, plant the problems."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in ("schema.sql", "data.sql"):
            conn.execute(files("dbadvisor.demo").joinpath(name).read_text())
        for _, statements in problems.PLANTED:
            for stmt in statements:
                # A failed concurrent build is the point of one problem: it leaves an INVALID index.
                with contextlib.suppress(psycopg.errors.UniqueViolation):
                    conn.execute(stmt)


def run_demo(output_dir: Path, keep: bool = False, console: Console | None = None) -> DemoResult:
    console = console or Console(stderr=True)
    timings: dict[str, float] = {}
    cluster = PrivateCluster()
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=False,
    )
    try:
        with progress:
            t = time.perf_counter()
            task = progress.add_task("start private PostgreSQL", total=1)
            cluster.start()
            dsn = cluster.create_database(DEMO_DB, DEMO_EXTENSIONS)
            progress.update(task, completed=1)
            timings["start"] = time.perf_counter() - t

            t = time.perf_counter()
            task = progress.add_task("load demo data (~2M rows)", total=1)
            load(dsn)
            progress.update(task, completed=1)
            timings["load"] = time.perf_counter() - t

            t = time.perf_counter()
            task = progress.add_task("run application workload", total=workload.total())
            workload.run(dsn, tick=lambda n: progress.advance(task, n))
            timings["workload"] = time.perf_counter() - t

            t = time.perf_counter()
            task = progress.add_task("analyze", total=None)
            report = analyze(dsn, progress=lambda step: progress.update(task, description=f"analyze: {step}"))
            progress.update(task, description="analyze", total=1, completed=1)
            timings["analyze"] = time.perf_counter() - t

            t = time.perf_counter()
            task = progress.add_task("verify on a scratch copy", total=None)
            scratch = cluster.create_database(SCRATCH_DB, extensions=())
            verified = verify(dsn, scratch, report, VerifyOptions(runs=3),
                              progress=lambda step: progress.update(task, description=f"verify: {step}"))
            report = verified.report
            progress.update(task, description="verify on a scratch copy", total=1, completed=1)
            timings["verify"] = time.perf_counter() - t

        output_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, render in REPORTS.items():
            path = output_dir / name
            path.write_text(render(report), encoding="utf-8")
            paths.append(path)
        sqlite_demo.run(output_dir / "sqlite", console)
        plan = plan_of(report.findings)
        migrations = [*sqlfiles.write(plan, output_dir / "migrations" / "sql", __version__, "the demo analysis"),
                      *alembic.write(plan, output_dir / "migrations" / "alembic")]
        return DemoResult(report, paths, cluster.uri(DEMO_DB) if keep else None, timings, migrations,
                          verified.verified, verified.demoted, cluster.stop_command() if keep else None)
    finally:
        if not keep:
            cluster.stop()
