"""Node.js packages some sources run (Prisma's schema parser, drizzle-kit): where they are installed.

Looked for in ``$DBADVISOR_NODE_MODULES``, the project's ``.node/node_modules`` (``make deps`` installs
them there) and npm's global root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from dbadvisor.errors import UsageError


def node_modules(package: str) -> Path | None:
    """The ``node_modules`` folder that holds ``package``, if any."""
    candidates = [os.environ.get("DBADVISOR_NODE_MODULES"), str(Path.cwd() / ".node" / "node_modules"),
                  str(Path(__file__).resolve().parents[3] / ".node" / "node_modules")]
    npm = shutil.which("npm")
    if npm:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            candidates.append(subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=30,
                                             check=False).stdout.strip())
    for c in candidates:
        if c and (Path(c) / package / "package.json").exists():
            return Path(c)
    return None


def require(package: str, what: str) -> tuple[str, Path]:
    """``(node, node_modules)`` for running ``package``; a clear usage error when either is missing."""
    node, modules = shutil.which("node"), node_modules(package)
    if node is None or modules is None:
        raise UsageError(f"{what} needs Node.js and {package} (npm install --prefix .node {package}); "
                         "`make deps` installs both")
    return node, modules


def run(argv: list[str], modules: Path, stdin: str | None = None, cwd: Path | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=300, check=False, cwd=cwd,
                          env={**os.environ, "NODE_PATH": str(modules)})
