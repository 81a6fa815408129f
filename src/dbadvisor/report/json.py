"""JSON report: the stable contract for CI (field names documented in README.md and CHANGELOG.md)."""

from __future__ import annotations

import json

from dbadvisor.model.findings import Report
from dbadvisor.report.view import report_dict


def render(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"
