"""Command line: ``dbadvisor analyze | checks | demo``.

Exit codes are contract: 0 done, 1 findings at or above ``--fail-on``, 2 usage or connection error
(one clear line on stderr, never a traceback for an expected failure).
"""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dbadvisor import __version__
from dbadvisor.advisor.advise import AdvisorOptions
from dbadvisor.errors import DbAdvisorError, UsageError
from dbadvisor.model.findings import Report, Severity

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
) -> None:
    """Analyze a database (read-only) and report the findings."""
    from dbadvisor.analysis import AnalyzeOptions
    from dbadvisor.analysis import analyze as run_analysis
    from dbadvisor.collect.connection import SessionSettings
    from dbadvisor.report import FORMATS
    from dbadvisor.report.text import print_report

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
    except DbAdvisorError as exc:
        _fail(str(exc))

    if output is None and format == Format.text:
        print_report(report, Console())
    else:
        rendered = FORMATS[format.value](report)
        if output is None:
            sys.stdout.write(rendered)
        else:
            try:
                output.parent.mkdir(parents=True, exist_ok=True)
                output.write_text(rendered, encoding="utf-8")
            except OSError as exc:
                _fail(f"cannot write {output}: {exc.strerror or exc}")
            err.print(f"wrote {output} ({len(report.findings)} findings, {len(report.skipped)} skipped)")
    raise typer.Exit(exit_code(report, threshold))


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
    for path in result.paths:
        out.print(Text(f"wrote {path}"))
    out.print(Text("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())))
    if result.dsn:
        out.print(Text(f"demo server left running: {result.dsn}"))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
