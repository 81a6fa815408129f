"""Opening an application's SQLite file without ever writing to it.

A target is ``sqlite:////abs/path/app.db`` (SQLAlchemy's URL form: three slashes, then the absolute path)
or a plain path ending in ``.db``, ``.sqlite`` or ``.sqlite3``. It is opened through a ``file:`` URI with
``mode=ro``: SQLite refuses every write on that connection, takes only shared locks, and never creates a
journal. A database in WAL mode needs its ``-shm`` index to be read; when none is beside it (nobody has it
open) the file is opened ``immutable=1`` instead, so that reading leaves no ``-wal``/``-shm`` behind.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from dbadvisor.errors import UsageError

SUFFIXES = (".db", ".sqlite", ".sqlite3")
PREFIX = "sqlite:///"


def is_target(text: str) -> bool:
    """Whether ``text`` names a SQLite file rather than a PostgreSQL DSN."""
    return text.startswith("sqlite:") or (not text.startswith(("postgres", "host=", "dbname=")) and
                                          text.lower().endswith(SUFFIXES))


def path_of(text: str) -> Path:
    """The file a target names; UsageError (one line) when it is not a readable SQLite file."""
    if text.startswith("sqlite:"):
        if not text.startswith(PREFIX) or text == PREFIX:
            raise UsageError(f"not a SQLite URL: {text!r} (write sqlite:////absolute/path/app.db)")
        path = Path(text[len(PREFIX):])
        if not path.is_absolute():
            raise UsageError(f"{text!r}: the path after sqlite:/// must be absolute (sqlite:////abs/path.db)")
    else:
        path = Path(text).expanduser()
    path = path.resolve()
    if not path.is_file():
        raise UsageError(f"no SQLite file at {path}")
    with path.open("rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise UsageError(f"{path} is not a SQLite database file")
    return path


def is_wal(path: Path) -> bool:
    """Whether the file's header says WAL (read and write versions 2), as the file itself keeps it."""
    with path.open("rb") as f:
        header = f.read(20)
    return len(header) == 20 and header[18] == 2  # file format read version 2: WAL


def open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to ``path`` (see the module docstring for why it writes nothing)."""
    immutable = is_wal(path) and not Path(f"{path}-shm").exists()
    uri = f"file:{quote(str(path))}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlite3.Error as exc:
        raise UsageError(f"cannot open {path} read-only: {exc}") from None
    return conn


def open_copy(path: Path, directory: Path) -> sqlite3.Connection:
    """A writable connection to a private copy of ``path`` in ``directory`` (the backup API, page by page,
    from the read-only connection); the caller removes the directory."""
    source = open_read_only(path)
    copy = sqlite3.connect(directory / path.name, check_same_thread=False)
    try:
        source.backup(copy)
    finally:
        source.close()
    copy.execute("PRAGMA journal_mode = DELETE")
    return copy
