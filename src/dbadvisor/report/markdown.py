"""Markdown report, shaped like a hand-written optimization report, but with evidence."""

from __future__ import annotations

from dbadvisor.model.findings import Report
from dbadvisor.report import view
from dbadvisor.report.templating import environment


def render(report: Report) -> str:
    return environment(autoescape=False).get_template("report.md.j2").render(v=view.build(report))
