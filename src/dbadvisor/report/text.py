"""Terminal report (rich). Database strings go in as ``Text`` objects, never as markup."""

from __future__ import annotations

import io
from collections.abc import Iterator

from rich.console import Console, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from dbadvisor.model.findings import Report, Severity
from dbadvisor.model.units import human_bytes
from dbadvisor.report import view
from dbadvisor.report.view import human_time

STYLES = {
    Severity.CRITICAL: "bold white on dark_red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def renderables(report: Report) -> Iterator[RenderableType]:
    v = view.build(report)
    db = report.snapshot.database
    summary = Text()
    summary.append(f"{db.name}", style="bold")
    summary.append(f"  {db.engine}  {human_bytes(db.size_bytes)}  ")
    summary.append(f"{v.table_count} tables, {v.index_count} indexes  stats since {human_time(db.stats_reset)}")
    if v.advisor:
        summary.append(f"\n{v.advisor}")
    yield Panel(summary, title="dbadvisor", expand=False)

    counts = Table(title="Findings by severity", show_edge=False)
    for sev in Severity:
        counts.add_column(sev.value, justify="right", style=STYLES[sev])
    counts.add_row(*(str(v.counts[s]) for s in Severity))
    yield counts

    largest = Table(title="Largest tables")
    for col, justify in (("table", "left"), ("rows", "right"), ("total", "right"), ("heap", "right"),
                         ("indexes", "right"), ("# idx", "right")):
        largest.add_column(col, justify=justify)  # type: ignore[arg-type]
    for t in v.largest_tables[:10]:
        largest.add_row(Text(t.name), f"{t.rows:,}", human_bytes(t.total_bytes), human_bytes(t.heap_bytes),
                        human_bytes(t.index_bytes), str(t.index_count))
    yield largest

    if report.findings:
        findings = Table(title="Findings", show_lines=False)
        findings.add_column("severity")
        findings.add_column("check")
        findings.add_column("finding")
        for f in report.findings:
            findings.add_row(Text(f.severity.value, style=STYLES[f.severity]), Text(f.check), Text(f.title))
        yield findings
        for f in report.findings:
            if f.severity.rank >= Severity.HIGH.rank and f.sql:
                yield Text(f"{f.severity.value}: {f.title}", style=STYLES[f.severity])
                yield Syntax(f.sql, "sql", word_wrap=True)
    else:
        yield Text("No findings.")

    if report.skipped:
        skipped = Table(title="Skipped")
        skipped.add_column("check")
        skipped.add_column("reason")
        for s in report.skipped:
            skipped.add_row(Text(s.check), Text(s.reason))
        yield skipped


def print_report(report: Report, console: Console) -> None:
    for r in renderables(report):
        console.print(r)


def render(report: Report) -> str:
    buf = io.StringIO()
    print_report(report, Console(file=buf, width=120, force_terminal=False, color_system=None))
    return buf.getvalue()
