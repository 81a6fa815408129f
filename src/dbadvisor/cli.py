"""Command line: ``dbadvisor analyze | verify | migrations | apply | history | revert | checks | demo``.

Exit codes are contract: 0 done, 1 findings at or above ``--fail-on``, 2 usage or connection error
(one clear line on stderr, never a traceback for an expected failure).
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dbadvisor import __version__
from dbadvisor.advisor.advise import AdvisorOptions
from dbadvisor.errors import DbAdvisorError, UsageError
from dbadvisor.model.findings import Report, Severity

if TYPE_CHECKING:
    from dbadvisor.apply.history import History, SqliteHistory
    from dbadvisor.migrations import Plan
    from dbadvisor.verify.run import VerifyOptions

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

app = typer.Typer(
    name="dbadvisor",
    help="Find out why a database is slow or bloated, prove it, and write the fix.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


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


def _split_ids(values: list[str] | None) -> tuple[str, ...]:
    return tuple(x.strip() for v in values or () for x in v.split(",") if x.strip())


def parse_check_options(values: list[str] | None) -> dict[str, dict[str, Any]]:
    """``--set check_id.option=value`` (repeatable); values are JSON when they parse, else strings."""
    out: dict[str, dict[str, Any]] = {}
    for item in values or ():
        key, sep, raw = item.partition("=")
        check, dot, option = key.strip().partition(".")
        if not sep or not dot or not check or not option:
            raise UsageError(f"--set expects CHECK.OPTION=VALUE, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(check, {})[option] = value
    return out


_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_bytes(text: str) -> int:
    """``500MB`` -> 500,000,000 (decimal units, as the TPC-H budgets are given); KiB/MiB/GiB are binary."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise UsageError(f"cannot read {text!r} as a size (examples: 500000000, 500MB, 1.5GB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def exit_code(report: Report, fail_on: Severity | None) -> int:
    worst = report.worst()
    if fail_on is not None and worst is not None and worst.at_least(fail_on):
        return EXIT_FINDINGS
    return EXIT_OK


@app.command()
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
) -> None:
    """Analyze a database (read-only) and report the findings."""
    from dbadvisor.analysis import AnalyzeOptions
    from dbadvisor.analysis import analyze as run_analysis
    from dbadvisor.collect.connection import SessionSettings

    try:
        threshold = Severity.parse(fail_on) if fail_on else None
    except ValueError as exc:
        _fail(str(exc))
    try:
        if weight not in ("time", "cost"):
            raise UsageError(f"--weight must be time or cost, not {weight!r}")
        paths = tuple(p for p in workload or () if str(p) != "pg_stat_statements")
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise UsageError(f"--workload path not found: {', '.join(missing)}")
        options = AnalyzeOptions(
            only=_split_ids(only),
            skip=_split_ids(skip),
            check_options=parse_check_options(set_),
            session=SessionSettings(statement_timeout_ms=statement_timeout),
            workload=paths,
            advisor=AdvisorOptions(budget_bytes=parse_bytes(budget) if budget else None,
                                   max_indexes=max_indexes, weight=weight),
        )
        with err.status("analyzing", spinner="dots") as status:
            report = run_analysis(dsn, options, progress=lambda step: status.update(f"analyzing: {step}"))
        if scratch_dsn is not None:
            report = _verified(dsn, scratch_dsn, report)
    except DbAdvisorError as exc:
        _fail(str(exc))

    _emit(report, format, output)
    raise typer.Exit(exit_code(report, threshold))


def _emit(report: Report, format: Format, output: Path | None) -> None:
    """The report on the terminal (text) or stdout, or written to ``output``."""
    from dbadvisor.report import FORMATS
    from dbadvisor.report.text import print_report

    if output is None and format == Format.text:
        print_report(report, Console())
        return
    rendered = FORMATS[format.value](report)
    if output is None:
        sys.stdout.write(rendered)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(rendered, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    err.print(f"wrote {output} ({len(report.findings)} findings, {len(report.skipped)} skipped)")


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
def verify(
    dsn: Annotated[str, typer.Argument(help="The target database (read only here).")],
    scratch_dsn: Annotated[str, typer.Option("--scratch-dsn", help="A scratch database: an empty one is built "
                                             "from the target (schema + sampled rows); a non-empty one is used "
                                             "as it is. Indexes are built and dropped there.")],
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

    try:
        if runs < 1 or not 0 <= min_gain < 1:
            raise UsageError("--runs must be at least 1 and --min-gain between 0 and 1")
        verified = _verified(dsn, scratch_dsn, report, VerifyOptions(runs, min_gain, sample_rows))
    except DbAdvisorError as exc:
        _fail(str(exc))
    _emit(verified, format, output)


def _verified(dsn: str, scratch_dsn: str, source: Report | Path | None, opts: VerifyOptions | None = None) -> Report:
    """``source``'s index recommendations measured on the scratch database, with a line on what was done."""
    from dbadvisor.verify.run import verify as run_verify

    with err.status("verifying", spinner="dots") as status:
        result = run_verify(dsn, scratch_dsn, source, opts, progress=lambda step: status.update(f"verify: {step}"))
    b = result.build
    err.print(Text(("scratch " + ("rebuilt (an earlier build had not finished)" if b.rebuilt else "built")
                    + f": {b.tables} tables, {b.rows:,} rows, {len(b.sampled)} sampled"
                    if b.built else "scratch database used as it is")
                   + f"; {result.verified} measured, {result.demoted} demoted"))
    return result.report


@app.command()
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
    from dbadvisor.collect import saved_report
    from dbadvisor.migrations import alembic, plan_of
    from dbadvisor.migrations import sql as sqlfiles

    try:
        saved = saved_report.load(report)
        plan = plan_of(saved.actionable(_split_ids(only)))
        _print_held(plan)
        if not plan.steps:
            raise UsageError(f"{report} has no finding with a fix" + (" among --only" if only else ""))
        if format == MigrationFormat.sql:
            paths = sqlfiles.write(plan, out, __version__, report.name)
        else:
            paths = alembic.write(plan, out, down_revision)
    except OSError as exc:
        _fail(f"cannot write into {out}: {exc.strerror or exc}")
    except DbAdvisorError as exc:
        _fail(str(exc))
    for path in paths:
        typer.echo(f"wrote {path}")


def _print_held(plan: Plan) -> None:
    for h in plan.held:
        err.print(Text(f"held back: {h.finding.id}: {h.reason}"))


def _history(path: Path | None) -> SqliteHistory:
    from dbadvisor.apply.history import SqliteHistory, default_path

    return SqliteHistory(path or default_path())


@contextlib.contextmanager
def _history_reader(path: Path | None, dsn: str | None) -> Iterator[History]:
    """The history to read: the target's ``dbadvisor`` schema when ``dsn`` is given, else the file."""
    from dbadvisor.apply.history import PostgresHistory
    from dbadvisor.collect.connection import connect

    if dsn is not None:
        with connect(dsn) as conn:
            yield PostgresHistory(conn, create=False)
        return
    store = _history(path)
    try:
        yield store
    finally:
        store.close()


@app.command("apply")
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
) -> None:
    """Apply a report's fixes online: CONCURRENTLY, lock_timeout, retries, recorded; needs --yes."""
    from dbadvisor.apply.executor import RetryPolicy
    from dbadvisor.apply.history import PostgresHistory
    from dbadvisor.apply.run import ApplyOptions
    from dbadvisor.apply.run import apply as run_apply
    from dbadvisor.collect import saved_report
    from dbadvisor.dialects.postgres import DIALECT
    from dbadvisor.migrations import plan_of

    try:
        plan = plan_of(saved_report.load(report).actionable(_split_ids(only)))
    except DbAdvisorError as exc:
        _fail(str(exc))
    table = Table(title=f"plan: {len(plan.steps)} action(s) from {report.name}")
    for col in ("#", "finding", "statement", "online"):
        table.add_column(col, overflow="fold")
    for i, step in enumerate(plan.steps, 1):
        table.add_row(str(i), Text(step.finding.id), Text(DIALECT.sql(step.op) or ""),
                      "in a transaction" if DIALECT.transactional(step.op) else "yes")
    Console().print(table)
    _print_held(plan)
    if not yes:
        typer.echo("nothing done: pass --yes to apply this plan")
        return
    if not plan.steps:
        return
    opts = ApplyOptions(RetryPolicy(lock_timeout, retries), measure=not no_measure,
                        revert_regressions=not keep_regressions)
    try:
        store = PostgresHistory if history_in_db else _history(history)
        results = run_apply(dsn, list(plan.steps), store, opts, log=lambda line: err.print(Text(line)))
    except DbAdvisorError as exc:
        _fail(str(exc))
    out = Console()
    for r in results:
        figures = ""
        if r.measured and r.measured.get("statements_measured"):
            figures = f" ({r.measured['weighted_before_ms']:,.2f} -> {r.measured['weighted_after_ms']:,.2f} ms)"
        out.print(Text(f"{r.status}: {r.step.finding.id}{figures}"
                       + (f" [action {r.action_id}]" if r.action_id else "")))


@app.command("history")
def history_(
    history: HistoryOpt = None,
    dsn: Annotated[str | None, typer.Option("--dsn", help="Read the history kept in this database's "
                                            "'dbadvisor' schema (--history-in-db).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable list.")] = False,
) -> None:
    """Every action apply and revert took: what, why, estimate, measured outcome, when, result."""
    from dataclasses import asdict

    try:
        with _history_reader(history, dsn) as store:
            actions = store.list()
    except DbAdvisorError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps([asdict(a) | {k: a.json(k) for k in ("operation", "estimate", "measured")}
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
    from dbadvisor.apply.executor import RetryPolicy
    from dbadvisor.apply.history import PostgresHistory
    from dbadvisor.apply.run import ApplyOptions
    from dbadvisor.apply.run import revert as run_revert

    try:
        with _history_reader(history, dsn if history_in_db else None) as reader:
            action = reader.get(action_id)
        if action is None:
            raise UsageError(f"no action {action_id} in the history")
        typer.echo(f"action {action_id}: {action.title} on {action.database}\nrollback: {action.rollback_sql}")
        if not yes:
            typer.echo("nothing done: pass --yes to revert")
            return
        store = PostgresHistory if history_in_db else _history(history)
        done = run_revert(dsn, action_id, store, ApplyOptions(RetryPolicy(lock_timeout, retries)),
                          log=lambda line: err.print(Text(line)))
    except DbAdvisorError as exc:
        _fail(str(exc))
    typer.echo(f"reverted action {action_id} (recorded as action {done.id})")


@app.command("checks")
def list_checks(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable list.")] = False,
) -> None:
    """List every check: id, severity range, what it needs, one line."""
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
    table = Table(title=f"{len(checks)} checks")
    for col in ("id", "severity", "needs", "summary"):
        table.add_column(col, overflow="fold")
    for c in checks:
        lo, hi = c.severity_range
        table.add_row(c.id, lo.value if lo == hi else f"{lo.value}..{hi.value}", ", ".join(sorted(c.needs)),
                      c.summary())
    Console().print(table)


@app.command()
def demo(
    output_dir: Annotated[Path, typer.Option("--output-dir", help="Where the reports go.")] = Path("demo-output"),
    keep: Annotated[bool, typer.Option("--keep", help="Leave the demo server running and print its DSN.")] = False,
) -> None:
    """Run the whole pipeline on an embedded demo database (a chat-bot platform, ~2M rows)."""
    from dbadvisor.demo.run import run_demo

    try:
        result = run_demo(output_dir, keep=keep, console=err)
    except DbAdvisorError as exc:
        _fail(str(exc))
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
    """The console entry point: every expected failure is one line on stderr and exit 2, never a
    traceback (a statement timeout or a lost connection from the driver included)."""
    import psycopg

    try:
        app(args=argv)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except DbAdvisorError as exc:
        err.print(Text(f"error: {exc}", style="bold red"))
        sys.exit(EXIT_ERROR)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        err.print(Text(f"error: database: {first}", style="bold red"))
        sys.exit(EXIT_ERROR)
