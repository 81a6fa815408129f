"""Report renderers: text (rich), Markdown, JSON (the CI contract) and self-contained HTML.

All of them read the same ``view`` so that the formats never disagree on what they show.
"""

from __future__ import annotations

from collections.abc import Callable

from dbadvisor.model.findings import Report
from dbadvisor.report import html, json, markdown, text

FORMATS: dict[str, Callable[[Report], str]] = {
    "text": text.render,
    "markdown": markdown.render,
    "json": json.render,
    "html": html.render,
}

__all__ = ["FORMATS"]
