"""A JSON report written by ``analyze`` (or ``verify``), read back as findings.

``verify``, ``migrations`` and ``apply`` act on a report a person has read, not on a fresh analysis that
may differ from it: what was reviewed is what runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbadvisor import dialects
from dbadvisor.errors import UsageError
from dbadvisor.model.findings import Finding, reasons


@dataclass(frozen=True)
class SavedReport:
    path: Path
    findings: tuple[Finding, ...]
    database: dict[str, Any] = field(default_factory=dict)

    def actionable(self, only: Iterable[str] = ()) -> list[Finding]:
        """Findings that carry a fix, limited to ``only`` (finding ids or check ids) when given."""
        wanted = set(only)
        names = {f.id: {x for r in reasons(f) for x in r[:2]} for f in self.findings}  # merged ones too
        unknown = sorted(wanted - set().union(*names.values()))
        if unknown:
            raise UsageError(f"--only: not in {self.path.name}: {', '.join(unknown)}")
        return [f for f in self.findings if f.fix is not None and (not wanted or names[f.id] & wanted)]


def load(path: Path) -> SavedReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start}): not a dbadvisor JSON report") from None
    except OSError as exc:
        raise UsageError(f"cannot read report {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not a JSON report (write one with analyze -f json): {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tool"), dict) or data["tool"].get("name") != "dbadvisor":
        raise UsageError(f"{path} is not a dbadvisor JSON report")
    try:
        dialect = dialects.get(str((data.get("database") or {}).get("dialect") or "postgresql"))
        findings = tuple(_finding(f, dialect) for f in data.get("findings", ()))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{path}: refused, a finding cannot be read ({type(exc).__name__}: {exc})") from None
    return SavedReport(path, findings, dict(data.get("database") or {}))


def _finding(data: dict[str, Any], dialect: dialects.Dialect) -> Finding:
    """One finding, its fix validated and its shown SQL checked against what the fix renders: what a
    person read (``sql``, the Markdown report) must be what ``apply`` would run."""
    finding = Finding.from_dict(data)
    if finding.fix is not None:
        dialect.check_saved(finding.fix, data["fix"], data.get("sql"), data.get("rollback_sql"))
    return finding
