"""The Jinja2 environment shared by the Markdown and HTML reports, with escaping filters.

Everything taken from the database (names, expressions, policy text) is untrusted: HTML autoescapes it,
and Markdown goes through ``md`` (inline text) or ``fence`` (code blocks) so that a table called
``x|<script>`` stays text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from dbadvisor.model.units import human_bytes
from dbadvisor.report.view import human_time

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(value: Any) -> str:
    """Escape text for a Markdown paragraph or table cell (also neutralises raw HTML)."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("\r", " ").replace("\n", " ")


def fence(value: Any, lang: str = "sql") -> str:
    """A fenced code block whose fence is longer than any backtick run inside it."""
    text = "" if value is None else str(value)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def jsonish(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("dbadvisor.report", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, fence=fence, bytes=human_bytes, time=human_time, jsonish=jsonish)
    return env
