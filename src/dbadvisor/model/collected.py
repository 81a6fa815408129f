"""What collecting a source gives, whatever the engine: the snapshot, the capabilities, and what could not
be read (each a line under ``skipped``)."""

from __future__ import annotations

from dataclasses import dataclass

from dbadvisor.model.capabilities import Capabilities
from dbadvisor.model.catalog import Snapshot
from dbadvisor.model.findings import Skipped


@dataclass(frozen=True)
class Collected:
    snapshot: Snapshot
    capabilities: Capabilities
    problems: tuple[Skipped, ...] = ()
