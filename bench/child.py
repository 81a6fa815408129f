"""`dbadvisor analyze` run as a user runs it, in a child process, for the benchmarks: its JSON report,
wall time and peak memory."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Run:
    report: dict[str, Any]
    wall_s: float
    peak_mb: float  # the largest child's peak RSS so far (RUSAGE_CHILDREN): the analysis, run first


def analyze(args: Sequence[str]) -> Run:
    """``dbadvisor analyze ARGS -f json``; a failure (exit code above 1) prints its stderr and exits."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "dbadvisor", "analyze", *args, "-f", "json", "-o", str(out)],
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if done.returncode not in (0, 1):
            print(done.stderr, file=sys.stderr)
            raise SystemExit(done.returncode)
        report = json.loads(out.read_text())
    return Run(report, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
