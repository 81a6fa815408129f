"""A private, throwaway PostgreSQL cluster: for the demo, the tests, and scratch databases.

It lives in a temp directory with its own port and unix socket, preloads pg_stat_statements, and is
tuned for speed over durability (fsync off): never point it at data you want to keep. initdb and
postgres refuse to run as root, so when we are root the server runs as an unprivileged OS user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

from dbadvisor.errors import ClusterError

SUPERUSER = "postgres"
DEFAULT_SETTINGS: dict[str, str] = {
    "shared_preload_libraries": "'pg_stat_statements'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "60",
    "shared_buffers": "256MB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "2GB",
    "track_io_timing": "on",
    "pg_stat_statements.track": "all",
    "log_min_messages": "warning",
    "dynamic_shared_memory_type": "posix",
}
INSTALL_HINT = "install PostgreSQL 15 with: apt-get install postgresql-15 postgresql-15-hypopg"


def find_bindir() -> Path:
    """Where initdb/pg_ctl live: $DBADVISOR_PG_BINDIR, the newest /usr/lib/postgresql/N/bin, or PATH."""
    env = os.environ.get("DBADVISOR_PG_BINDIR")
    candidates = [Path(env)] if env else []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        candidates += [v / "bin" for v in reversed(versions)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    raise ClusterError(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}")


# Preloaded when the installation has them: pg_stat_statements always; pg_qualstats (Debian's
# postgresql-NN-pg-qualstats) for the constants pg_stat_statements normalizes away, sampling every query
# (its default samples 1 / max_connections of them); pg_cron (postgresql-NN-cron), whose jobs live in the
# database cron.database_name names (by default "postgres", which always exists).
OPTIONAL_PRELOAD: dict[str, dict[str, str]] = {"pg_qualstats": {"pg_qualstats.sample_rate": "1"}, "pg_cron": {}}


def preload_settings(bindir: Path) -> dict[str, str]:
    """``shared_preload_libraries`` with the optional libraries this installation has, and their settings."""
    libdir = _library_dir(bindir)
    names = ["pg_stat_statements"]
    out: dict[str, str] = {}
    for name, extra in OPTIONAL_PRELOAD.items():
        if (libdir / f"{name}.so").exists():
            names.append(name)
            out.update(extra)
    return {"shared_preload_libraries": "'" + ",".join(names) + "'", **out}


def _library_dir(bindir: Path) -> Path:
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        found = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            return Path(found.stdout.strip())
    return bindir.parent / "lib"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateCluster:
    """``with PrivateCluster() as pg: psycopg.connect(pg.dsn())``: a running server until the block ends."""

    def __init__(
        self,
        base_dir: Path | None = None,
        settings: dict[str, str] | None = None,
        os_user: str | None = None,
    ) -> None:
        self.bindir = find_bindir()
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="dbadvisor-pg-"))
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir
        self.log_file = self.base_dir / "server.log"
        self.port = free_port()
        self.settings = {**DEFAULT_SETTINGS, **preload_settings(self.bindir), **(settings or {})}
        self.os_user = os_user or (SUPERUSER if os.geteuid() == 0 else None)
        self.running = False

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> PrivateCluster:
        self._prepare_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run([
                str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync",
            ])
            conf = {
                **self.settings,
                "port": str(self.port),
                "listen_addresses": "'127.0.0.1'",
                "unix_socket_directories": f"'{self.socket_dir}'",
            }
            with (self.data_dir / "postgresql.auto.conf").open("a") as f:
                f.writelines(f"{k} = {v}\n" for k, v in conf.items())
        self._run([
            str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", "60", "start",
        ])
        self.running = True
        return self

    def stop(self, remove: bool = True) -> None:
        if self.running:
            with contextlib.suppress(ClusterError):
                self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
            self.running = False
        if remove:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def stop_command(self) -> str:
        """The shell command that stops this server (as its OS user when we run as root)."""
        ctl = f"{self.bindir / 'pg_ctl'} -D {self.data_dir} -m fast stop"
        return f"su {self.os_user} -c '{ctl}'" if self.os_user else ctl

    def __enter__(self) -> PrivateCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- use ---------------------------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user={user}"

    def uri(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@/{dbname}?host={self.socket_dir}&port={self.port}"

    @contextlib.contextmanager
    def connect(self, dbname: str = "postgres", autocommit: bool = True) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.dsn(dbname), autocommit=autocommit) as conn:
            yield conn

    def create_database(
        self, name: str, extensions: Iterable[str] = ("pg_stat_statements", "hypopg"), drop: bool = True
    ) -> str:
        """(Re)create database ``name`` with ``extensions`` installed; returns its DSN."""
        with self.connect() as conn:
            if drop:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        with self.connect(name) as conn:
            for ext in extensions:
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
        return self.dsn(name)

    def available_extensions(self) -> frozenset[str]:
        """Extensions this server's installation can create (HypoPG exists for some majors only)."""
        with self.connect() as conn:
            return frozenset(str(r[0]) for r in conn.execute("SELECT name FROM pg_available_extensions"))

    # -- internals ---------------------------------------------------------------------------------
    def _prepare_dir(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.os_user:
            try:
                pw = pwd.getpwnam(self.os_user)
            except KeyError:
                raise ClusterError(
                    f"running as root, and OS user {self.os_user!r} to run PostgreSQL does not exist; "
                    f"{INSTALL_HINT} (it creates the user)"
                ) from None
            for path in (self.base_dir, *self.base_dir.rglob("*")):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            # The server's user must be able to reach the base dir through its parents.
            self.base_dir.chmod(0o700)

    def _run(self, argv: list[str]) -> None:
        try:
            result = subprocess.run(
                argv, user=self.os_user, capture_output=True, text=True, timeout=120, check=False,
                cwd=self.base_dir,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterError(f"{Path(argv[0]).name} failed: {exc}") from None
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise ClusterError(
                f"{Path(argv[0]).name} failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}\n{log}".strip()
            )
