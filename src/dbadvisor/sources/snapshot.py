"""A snapshot file: the catalog, its statistics and the role's capabilities as one versioned JSON
document (``dbadvisor snapshot DSN -o FILE``), so a DBA can hand over a snapshot instead of credentials.

Analysing a snapshot runs every check that reads the catalog and its counters; what needs a live server
(the index advisor's what-if costing, the workload from pg_stat_statements) is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbadvisor import __version__
from dbadvisor.errors import UsageError
from dbadvisor.model.capabilities import Capabilities
from dbadvisor.model.catalog import Snapshot
from dbadvisor.model.collected import Collected
from dbadvisor.model.findings import Skipped
from dbadvisor.model.serialize import ShapeError, from_data, to_data
from dbadvisor.sources import Opened, Progress

FORMAT = "dbadvisor-snapshot"
VERSION = 1  # bumped on a change an older reader cannot take; additions keep it


# Settings whose value may carry a password or a command line with one: a snapshot is handed over, so
# these are kept by name only.
SECRET_SETTINGS = frozenset({"primary_conninfo", "ssl_passphrase_command", "archive_command", "restore_command",
                             "archive_cleanup_command", "recovery_end_command"})


def document(collected: Collected) -> dict[str, Any]:
    snapshot = collected.snapshot
    settings = {name: dataclasses.replace(s, value="***") if name in SECRET_SETTINGS and s.value else s
                for name, s in snapshot.settings.items()}
    snapshot = dataclasses.replace(snapshot, settings=settings)
    return {"format": FORMAT, "version": VERSION, "tool": {"name": "dbadvisor", "version": __version__},
            "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "snapshot": to_data(snapshot), "capabilities": to_data(collected.capabilities),
            "problems": to_data(collected.problems)}


def save(collected: Collected, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document(collected), indent=1, sort_keys=True), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def load(path: Path) -> Collected:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text: not a dbadvisor snapshot") from None
    except OSError as exc:
        raise UsageError(f"cannot read snapshot {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON (write a snapshot with dbadvisor snapshot): {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{path} is not a dbadvisor snapshot")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise UsageError(f"{path} is snapshot version {data.get('version')!r}; this dbadvisor reads up to {VERSION}")
    try:
        snapshot = from_data(Snapshot, data.get("snapshot"), "snapshot")
        caps = from_data(Capabilities, data.get("capabilities"), "capabilities")
        problems = tuple(from_data(Skipped, p, "problems") for p in data.get("problems") or ())
    except (ShapeError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: the snapshot cannot be read ({exc})") from None
    return Collected(snapshot, caps, problems)


@dataclass(frozen=True)
class SnapshotSource:
    path: Path

    @property
    def label(self) -> str:
        return f"snapshot {self.path.name}"

    @contextlib.contextmanager
    def open(self, progress: Progress | None = None) -> Iterator[Opened]:
        if progress:
            progress(f"read {self.path.name}")
        collected = load(self.path)  # its statistics are the live ones of when it was taken; no connection
        caps = dataclasses.replace(collected.capabilities, connected=False, source=self.label)
        yield Opened(Collected(collected.snapshot, caps, collected.problems))
