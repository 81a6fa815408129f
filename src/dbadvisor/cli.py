"""Command line: ``dbadvisor analyze | verify | migrations | apply | history | revert | checks | demo``.

Thin by design: each command parses its flags, calls ``dbadvisor.commands`` and prints. Exit codes are
contract: 0 done, 1 findings at or above ``--fail-on``, 2 usage or connection error (one clear line on
stderr, never a traceback for an expected failure: ``_guarded`` is the one handler for them).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dbadvisor import __version__, commands
from dbadvisor.commands import EXIT_ERROR, AnalyzeRequest, ApplyRequest
from dbadvisor.errors import DbAdvisorError
from dbadvisor.model.findings import Report

if TYPE_CHECKING:
    from dbadvisor.migrations import Plan

app = typer.Typer(
    name="dbadvisor",
    help="Find out why a database is slow or bloated, prove it, and write the fix.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


class Format(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"
    html = "html"


class MigrationFormat(StrEnum):
    sql = "sql"
    alembic = "alembic"


def _fail(message: str) -> NoReturn:
    err.print(Text(f"error: {message}", style="bold red"))
    raise typer.Exit(EXIT_ERROR)


def _guarded(command: Callable[P, R]) -> Callable[P, R]:
    """The one error handler: a ``DbAdvisorError`` (or a driver error that escaped) is one line, exit 2."""
    import psycopg

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DbAdvisorError as exc:
            _fail(str(exc))
        except psycopg.Error as exc:
            _fail("database: " + (str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__))
    return run


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dbadvisor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """dbadvisor: evidence-based database optimization."""


def _say(line: str) -> None:
    err.print(Text(line))


BaselineOpt = Annotated[
    Path | None, typer.Option("--baseline", help="A JSON report (or {\"ids\": [...]}) whose findings are accepted: "
                              "they are left out, so --fail-on fails only on new ones.")
]


@app.command()
@_guarded
def analyze(
    dsn: Annotated[
        str, typer.Argument(help="PostgreSQL URI or keyword DSN; empty uses the PG* environment variables.")
    ] = "",
    format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")
    ] = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Run only these check ids (comma list).")] = None,
    skip: Annotated[list[str] | None, typer.Option("--skip", help="Skip these check ids (comma list).")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Check option, CHECK.OPTION=VALUE (repeatable).")
    ] = None,
    statement_timeout: Annotated[
        int, typer.Option("--statement-timeout", help="Per-statement timeout of the read-only session, ms.")
    ] = 30_000,
    workload: Annotated[
        list[Path] | None,
        typer.Option("--workload", help="Workload: 'pg_stat_statements' (default) or .sql files / log files / dirs."),
    ] = None,
    budget: Annotated[
        str | None, typer.Option("--budget", help="Index storage budget in bytes (suffixes kB, MB, GB).")
    ] = None,
    max_indexes: Annotated[int | None, typer.Option("--max-indexes", help="At most this many new indexes.")] = None,
    weight: Annotated[
        str, typer.Option("--weight", help="Statement weight: time (total execution time) or cost (calls x cost).")
    ] = "time",
    scratch_dsn: Annotated[
        str | None, typer.Option("--scratch-dsn", help="Then measure the index recommendations (GIN ones too, "
                                 "which HypoPG cannot cost) on this scratch database, as verify does.")
    ] = None,
    snapshot: Annotated[
        Path | None, typer.Option("--snapshot", help="Analyze this snapshot file (dbadvisor snapshot) instead "
                                  "of a live database.")
    ] = None,
    migrations: Annotated[
        Path | None, typer.Option("--migrations", help="Analyze the schema this migrations folder builds "
                                  "(plain .sql files, Prisma or Alembic), replayed into a private shadow database.")
    ] = None,
    shadow_dsn: Annotated[
        str | None, typer.Option("--shadow-dsn", help="With --migrations: replay into this empty database.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="With --migrations: report only what the migrations after "
                                 "this one introduced.")
    ] = None,
    baseline: BaselineOpt = None,
    sample_activity: Annotated[
        float, typer.Option("--sample-activity", help="Sample pg_stat_activity for this many seconds for the "
                            "constants pg_stat_statements normalizes away (0: off).")
    ] = 0.0,
    postgres_readiness: Annotated[
        bool, typer.Option("--postgres-readiness", help="For a SQLite file: load it into a private PostgreSQL, "
                           "replay the workload there and time writers on both.")
    ] = False,
) -> None:
    """Analyze a database (read-only), a snapshot of one, or a migrations folder, and report the findings."""
    threshold = commands.parse_severity(fail_on)
    req = AnalyzeRequest(dsn, only or (), skip or (), set_ or (), statement_timeout, workload or (), budget,
                         max_indexes, weight, scratch_dsn, snapshot, migrations, shadow_dsn, since, baseline,
                         sample_activity, postgres_readiness)
    with err.status("analyzing", spinner="dots") as status:
        report = commands.analyze(req, progress=lambda step: status.update(f"analyzing: {step}"),
                                  verify_progress=lambda step: status.update(f"verify: {step}"))
    _emit(report, format, output)
    raise typer.Exit(commands.exit_code(report, threshold))


def _emit(report: Report, format: Format, output: Path | None) -> None:
    """The report on the terminal (text) or stdout, or written to ``output``."""
    from dbadvisor.report.text import print_report

    if output is None and format == Format.text:
        print_report(report, Console())
    elif output is None:
        sys.stdout.write(commands.render(report, format.value))
    else:
        commands.write_report(report, format.value, output)
        err.print(f"wrote {output} ({len(report.findings)} findings, {len(report.skipped)} skipped)")


@app.command("snapshot")
@_guarded
def snapshot_(
    dsn: Annotated[str, typer.Argument(help="The database to snapshot (read-only).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The snapshot file to write (JSON).")],
    statement_timeout: Annotated[
        int, typer.Option("--statement-timeout", help="Per-statement timeout of the read-only session, ms.")
    ] = 30_000,
) -> None:
    """Save the catalog and statistics as a versioned JSON file, to analyze later without credentials."""
    with err.status("collecting", spinner="dots") as status:
        tables = commands.snapshot(dsn, output, statement_timeout, progress=lambda s: status.update(s))
    err.print(f"wrote {output} ({tables} tables); analyze it with: dbadvisor analyze --snapshot {output}")


@app.command()
@_guarded
def drift(
    a: Annotated[str, typer.Argument(help="The reference: a DSN, migrations:DIR, snapshot:FILE or "
                                     "sqlalchemy:models.py:Base.")],
    b: Annotated[str, typer.Argument(help="What is compared with it (same forms).")],
    format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")
    ] = None,
    baseline: BaselineOpt = None,
) -> None:
    """Find the drift between two schemas: missing_* is in A and not in B, extra_* is in B only."""
    threshold = commands.parse_severity(fail_on)
    with err.status("comparing", spinner="dots") as status:
        report = commands.with_baseline(commands.drift(a, b, progress=lambda step: status.update(step)), baseline)
    _emit(report, format, output)
    raise typer.Exit(commands.exit_code(report, threshold))


ReportArg = Annotated[Path, typer.Argument(help="A JSON report written by analyze (or verify) -f json.")]
OnlyOpt = Annotated[
    list[str] | None, typer.Option("--only", help="Only these finding ids or check ids (comma list).")
]
HistoryOpt = Annotated[
    Path | None, typer.Option("--history", help="History file (SQLite). Default: $XDG_DATA_HOME/dbadvisor.")
]
HistoryInDbOpt = Annotated[
    bool, typer.Option("--history-in-db", help="Keep the history in a 'dbadvisor' schema of the target instead.")
]
LockTimeoutOpt = Annotated[int, typer.Option("--lock-timeout", help="lock_timeout of every DDL statement, ms.")]
RetriesOpt = Annotated[int, typer.Option("--retries", help="Retries (with backoff) after a lock timeout.")]


@app.command()
@_guarded
def verify(
    dsn: Annotated[str, typer.Argument(help="The target database (read only here).")],
    scratch_dsn: Annotated[str, typer.Option("--scratch-dsn", help="A scratch database: an empty one is built "
                                             "from the target (schema + sampled rows); a non-empty one is used "
                                             "as it is. Indexes are built and dropped there. Not for a SQLite "
                                             "file (measured on a private copy).")] = "",
    report: Annotated[Path | None, typer.Option("--report", help="Verify this JSON report's recommendations "
                                                "instead of analyzing afresh.")] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    runs: Annotated[int, typer.Option("--runs", help="Timed runs of each statement, before and after.")] = 5,
    min_gain: Annotated[float, typer.Option("--min-gain", help="Demote an index that makes its statements "
                                            "less than this share faster.")] = 0.10,
    sample_rows: Annotated[int, typer.Option("--sample-rows", help="Rows per table copied to an empty "
                                             "scratch database; larger tables are sampled.")] = 1_000_000,
) -> None:
    """Measure recommended indexes for real on a scratch database: EXPLAIN ANALYZE before and after."""
    from dbadvisor.verify.run import VerifyOptions

    with err.status("verifying", spinner="dots") as status:
        result = commands.verify(dsn, scratch_dsn, report, VerifyOptions(runs, min_gain, sample_rows),
                                 progress=lambda step: status.update(f"verify: {step}"))
    b = result.build
    where = ("a private copy of the file" if commands.sqlite_target(dsn) else
             "scratch " + ("rebuilt (an earlier build had not finished)" if b.rebuilt else "built")
             + f": {b.tables} tables, {b.rows:,} rows, {len(b.sampled)} sampled" if b.built
             else "scratch database used as it is")
    err.print(Text(where + f"; {result.verified} measured, {result.demoted} demoted"))
    _emit(result.report, format, output)


@app.command()
@_guarded
def migrations(
    report: ReportArg,
    format: Annotated[MigrationFormat, typer.Option("--format", "-f", help="sql (up.sql/down.sql) or alembic "
                                                    "(revision files).")] = MigrationFormat.sql,
    out: Annotated[Path, typer.Option("--out", help="Directory to write into.")] = Path("migrations"),
    only: OnlyOpt = None,
    down_revision: Annotated[str | None, typer.Option("--down-revision", help="Alembic: chain the revisions "
                                                      "after this existing head.")] = None,
) -> None:
    """Write migration files (plain SQL or Alembic) for a report's fixes, in dependency order."""
    plan, paths = commands.migrations(report, format.value, out, only or (), down_revision)
    _print_held(plan)
    for path in paths:
        typer.echo(f"wrote {path}")


def _print_held(plan: Plan) -> None:
    for h in plan.held:
        err.print(Text(f"held back: {h.finding.id}: {h.reason}"))


ArchiveOpt = Annotated[Path | None, typer.Option("--archive-dir", help="Archive the rows retention removes "
                                                 "there first (CSV, with a .sha256 beside it).")]

ArchiveTableOpt = Annotated[bool, typer.Option("--archive-table", help="Move the rows retention removes into "
                                               "<table>_archive instead of deleting them outright.")]


@app.command("apply")
@_guarded
def apply_(
    dsn: Annotated[str, typer.Argument(help="The target database (written to only with --yes).")],
    report: ReportArg,
    only: OnlyOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Really apply. Without it, only the plan is shown.")] = False,
    history: HistoryOpt = None,
    history_in_db: HistoryInDbOpt = False,
    lock_timeout: LockTimeoutOpt = 5000,
    retries: RetriesOpt = 5,
    no_measure: Annotated[bool, typer.Option("--no-measure", help="Do not re-measure the statements a new "
                                             "index helps (EXPLAIN ANALYZE on the target).")] = False,
    keep_regressions: Annotated[bool, typer.Option("--keep-regressions", help="Keep an index that measured "
                                                   "slower instead of reverting it.")] = False,
    archive_dir: ArchiveOpt = None,
    archive_table: ArchiveTableOpt = False,
) -> None:
    """Apply a report's fixes online: CONCURRENTLY, lock_timeout, retries, recorded; needs --yes."""

    plan = commands.plan(report, only or ())
    table = Table(title=f"plan: {len(plan.steps)} action(s) from {report.name}")
    for col in ("#", "finding", "statement", "online"):
        table.add_column(col, overflow="fold")
    for i, step in enumerate(plan.steps, 1):
        table.add_row(str(i), Text(step.finding.id), Text(commands.describe_step(step.op)),
                      commands.how_online(step.op))
    Console().print(table)
    _print_held(plan)
    if not yes:
        typer.echo("nothing done: pass --yes to apply this plan")
        return
    if not plan.steps:
        return
    req = ApplyRequest(dsn, history, history_in_db, lock_timeout, retries, not no_measure, keep_regressions,
                       archive_dir, archive_table)
    out = Console()
    for r in commands.apply(req, plan, log=_say):
        figures = ""
        if r.measured and r.measured.get("statements_measured"):
            figures = f" ({r.measured['weighted_before_ms']:,.2f} -> {r.measured['weighted_after_ms']:,.2f} ms)"
        out.print(Text(f"{r.status}: {r.step.finding.id}{figures}"
                       + (f" [action {r.action_id}]" if r.action_id else "")))


@app.command("history")
@_guarded
def history_(
    history: HistoryOpt = None,
    dsn: Annotated[str | None, typer.Option("--dsn", help="Read the history kept in this database's "
                                            "'dbadvisor' schema (--history-in-db).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable list.")] = False,
) -> None:
    """Every action apply and revert took: what, why, estimate, measured outcome, when, result."""
    from dataclasses import asdict

    actions = commands.history(history, dsn)
    if as_json:
        typer.echo(json.dumps([asdict(a) | {k: a.json(k) for k in ("operation", "estimate", "measured", "server")}
                               for a in actions], indent=2))
        return
    table = Table(title=f"{len(actions)} action(s)")
    for col in ("id", "when", "kind", "status", "database", "finding", "measured ms (before -> after)"):
        table.add_column(col, overflow="fold")
    for a in actions:
        m = a.json("measured") or {}
        figures = (f"{m['weighted_before_ms']:,.2f} -> {m['weighted_after_ms']:,.2f}"
                   if m.get("statements_measured") else "-")
        table.add_row(str(a.id), a.started_at, a.kind, Text(a.status + (f": {a.error}" if a.error else "")),
                      Text(a.database), Text(a.finding_id), figures)
    Console().print(table)


@app.command()
@_guarded
def revert(
    action_id: Annotated[int, typer.Argument(help="The action's id, from dbadvisor history.")],
    dsn: Annotated[str, typer.Option("--dsn", help="The database the action was applied to.")] = "",
    yes: Annotated[bool, typer.Option("--yes", help="Really revert. Without it, only the plan is shown.")] = False,
    history: HistoryOpt = None,
    history_in_db: HistoryInDbOpt = False,
    lock_timeout: LockTimeoutOpt = 5000,
    retries: RetriesOpt = 5,
) -> None:
    """Undo an applied action with its rollback SQL (online, like apply); needs --yes."""
    req = ApplyRequest(dsn, history, history_in_db, lock_timeout, retries)
    action = commands.find_action(req, action_id)
    typer.echo(f"action {action_id}: {action.title} on {action.database}\nrollback: {action.rollback_sql}")
    if not yes:
        typer.echo("nothing done: pass --yes to revert")
        return
    done = commands.revert(req, action_id, log=_say)
    typer.echo(f"reverted action {action_id} (recorded as action {done.id})")


@app.command()
@_guarded
def maintain(
    dsn: Annotated[str, typer.Argument(help="The database whose recorded policies to carry out.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what retention would remove.")] = False,
    archive_dir: ArchiveOpt = None,
    archive_table: ArchiveTableOpt = False,
    only: Annotated[list[str] | None, typer.Option("--only", help="Only these tables (schema.table).")] = None,
) -> None:
    """Make partitions ahead and enforce retention policies set by apply; safe to run from cron."""
    failed = False
    for m in commands.maintain(dsn, dry_run, archive_dir, commands.split_ids(only), archive_table, log=_say):
        if m.error:
            failed = True
            err.print(Text(f"{m.table}: {m.action} failed: {m.error}", style="red"))
        elif m.action == "retention":
            f = m.figures
            verb = "would remove" if f["dry_run"] else "removed"
            dropped = f" ({len(f['partitions'])} partition(s))" if f["partitions"] else ""
            typer.echo(f"{m.table}: {verb} {f['rows']:,} rows older than {f['keep']}{dropped}"
                       + "".join(f"; archived to {a['file']} (sha256 {a['sha256']})" if "file" in a
                                 else f"; moved to {a['table']}" for a in f["archives"]))
        else:
            made = m.figures["created"]
            typer.echo(f"{m.table}: {len(made)} partition(s) made ahead" + (f" ({', '.join(made)})" if made else ""))
    if failed:
        raise typer.Exit(commands.EXIT_ERROR)


@app.command("checks")
def list_checks(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable list.")] = False,
) -> None:
    """List every check: id, severity range, what it needs, one line, and its options (``--set``)."""
    from dbadvisor.checks.registry import all_checks

    checks = all_checks()
    if as_json:
        rows = [{
            "id": c.id, "name": c.name, "groups": list(c.groups), "severity": c.severity.value,
            "severity_range": [s.value for s in c.severity_range], "needs": sorted(c.needs),
            "options": dict(c.options), "summary": c.summary(),
        } for c in checks]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(checks)} checks; options: --set CHECK.OPTION=VALUE")
    for col in ("id", "severity", "needs", "summary", "options (default)"):
        table.add_column(col, overflow="fold")
    for c in checks:
        lo, hi = c.severity_range
        options = ", ".join(f"{k}={json.dumps(v)}" for k, v in c.options.items())
        table.add_row(c.id, lo.value if lo == hi else f"{lo.value}..{hi.value}", ", ".join(sorted(c.needs)),
                      c.summary(), options)
    Console().print(table)


@app.command()
@_guarded
def demo(
    output_dir: Annotated[Path, typer.Option("--output-dir", help="Where the reports go.")] = Path("demo-output"),
    keep: Annotated[bool, typer.Option("--keep", help="Leave the demo server running and print its DSN.")] = False,
) -> None:
    """Run the whole pipeline on an embedded demo database (a chat-bot platform, ~2M rows)."""
    from dbadvisor.demo.run import run_demo

    result = run_demo(output_dir, keep=keep, console=err)
    counts = result.report.count_by_severity()
    out = Console()
    out.print(Text(
        f"{len(result.report.findings)} findings: "
        + ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        + f"; {len(result.report.skipped)} skipped"
    ))
    for f in result.report.findings[:10]:
        out.print(Text(f"  [{f.severity.value}] {f.title}"))
    out.print(Text(f"verified on a scratch copy: {result.measured} measured, {result.demoted} demoted"))
    for f in result.report.findings:
        if f.estimate is not None and f.evidence.get("verification", {}).get("verdict") in ("confirmed", "demoted"):
            m = f.estimate.figures
            out.print(Text(f"  {f.index}: {m['before_ms']:,.2f} ms -> {m['after_ms']:,.2f} ms "
                           f"({'confirmed' if m['pays_off'] else 'demoted'})"))
    for path in result.paths:
        out.print(Text(f"wrote {path}"))
    out.print(Text(f"wrote {len(result.migrations)} migration files under {output_dir / 'migrations'}"))
    out.print(Text("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())))
    if result.dsn:
        # Plain lines, never wrapped, so the DSN can be pasted as it is.
        typer.echo(f"demo server left running; connect with:\n{result.dsn}")
        if result.stop_command:
            typer.echo(f"stop it with:\n{result.stop_command}")


def main(argv: list[str] | None = None) -> None:
    """The console entry point; commands handle their own errors (``_guarded``), an interrupt is 130."""
    try:
        app(args=argv)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
