"""Reports escape everything that comes from the database."""

from __future__ import annotations

import json
import re

import pytest

from dbadvisor.model.findings import Report
from dbadvisor.report import html, markdown, text
from dbadvisor.report import json as json_report
from dbadvisor.report.templating import fence, md
from tests.conftest import Database

NASTY = "x|<script>alert(1)</script>*_`"


@pytest.fixture(scope="module")
def report(db: Database) -> Report:
    quoted = NASTY.replace('"', '""')
    db.execute(f'CREATE TABLE "{quoted}" (a int); INSERT INTO "{quoted}" SELECT 1; ANALYZE')
    return db.analyze()


def test_html_escapes_names(report: Report) -> None:
    out = html.render(report)
    assert "<script>alert(1)</script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<svg" in out  # the size chart is inline
    assert "<script" not in out.lower().replace("&lt;script", "")


def test_markdown_escapes_names(report: Report) -> None:
    out = markdown.render(report)
    prose = re.sub(r"```sql\n.*?\n```", "", out, flags=re.S)  # SQL in code fences is inert
    assert "<script>" not in prose
    assert "x\\|&lt;script&gt;" in out
    for section in ("## Executive summary", "## Database overview", "### Largest tables", "## Findings",
                    "Fix:", "Rollback:", "## Appendix: monitoring queries"):
        assert section in out


def test_json_and_text_render(report: Report) -> None:
    doc = json.loads(json_report.render(report))
    assert any(f["table"] == f"public.{NASTY}" for f in doc["findings"])
    assert NASTY in text.render(report)


def test_md_and_fence_helpers() -> None:
    assert md("a|b\nc") == "a\\|b c"
    assert fence("select '```'").startswith("````sql\n")
