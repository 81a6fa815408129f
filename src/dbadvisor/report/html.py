"""One self-contained HTML file: the Markdown report's content plus an inline SVG chart of table and
index sizes. No scripts, no external assets; everything from the database is autoescaped."""

from __future__ import annotations

from dataclasses import dataclass

from dbadvisor.model.findings import Report
from dbadvisor.report import view
from dbadvisor.report.templating import environment

CHART_WIDTH = 560  # px available to the bars
BAR_HEIGHT = 22


@dataclass(frozen=True)
class Bar:
    label: str
    y: int
    data_width: float
    index_width: float
    data_bytes: int
    index_bytes: int


def chart(v: view.View) -> tuple[Bar, ...]:
    tables = v.largest_tables
    biggest = max((t.total_bytes for t in tables), default=0) or 1
    return tuple(
        Bar(
            label=t.name,
            y=i * (BAR_HEIGHT + 6),
            data_width=CHART_WIDTH * (t.heap_bytes + t.toast_bytes) / biggest,
            index_width=CHART_WIDTH * t.index_bytes / biggest,
            data_bytes=t.heap_bytes + t.toast_bytes,
            index_bytes=t.index_bytes,
        )
        for i, t in enumerate(tables)
    )


def render(report: Report) -> str:
    v = view.build(report)
    bars = chart(v)
    return environment(autoescape=True).get_template("report.html.j2").render(
        v=v, bars=bars, bar_height=BAR_HEIGHT, chart_height=len(bars) * (BAR_HEIGHT + 6) + 30,
    )
