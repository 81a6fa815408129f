"""ORM models as a source: SQLAlchemy itself reads a declarative base (or a MetaData) from a models file
and creates its tables in a shadow database, whose catalog is then read as any other.

``sqlalchemy:path/to/models.py:Base``: the file is imported as a module (its folder on ``sys.path`` so
that its own imports resolve), ``Base`` is looked up (``Base.metadata`` or a ``MetaData``), and
``create_all`` runs against the shadow. What the database then holds is what the models mean to
PostgreSQL: types, NOT NULL, server defaults, indexes and constraints as the server prints them.
Client-side defaults (``default=``) exist only in Python and are not in the schema, by design.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbadvisor.errors import UsageError
from dbadvisor.sources import Opened, Progress
from dbadvisor.sources.shadow import built_schema


def load_metadata(path: Path, attr: str) -> Any:
    """The ``MetaData`` behind ``attr`` (a declarative base or a MetaData) in the models file ``path``."""
    try:
        from sqlalchemy import MetaData
    except ImportError:
        raise UsageError("reading SQLAlchemy models needs sqlalchemy installed") from None
    if not path.is_file():
        raise UsageError(f"sqlalchemy:{path}: no such file")
    name = f"dbadvisor_models_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"sqlalchemy:{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module: any error is theirs, said in one line
        raise UsageError(f"sqlalchemy:{path}: importing it failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(path.resolve().parent))
    target = getattr(module, attr, None)
    metadata = target if isinstance(target, MetaData) else getattr(target, "metadata", None)
    if not isinstance(metadata, MetaData):
        raise UsageError(f"sqlalchemy:{path}:{attr}: not a declarative base or a MetaData")
    return metadata


@dataclass(frozen=True)
class SqlAlchemySource:
    path: Path
    attr: str = "Base"
    shadow_dsn: str | None = None

    @property
    def label(self) -> str:
        return f"SQLAlchemy models {self.path.name}:{self.attr}"

    @contextlib.contextmanager
    def open(self, progress: Progress | None = None) -> Iterator[Opened]:
        from sqlalchemy import create_engine

        from dbadvisor.dialects.postgres.dsn import sqlalchemy_url

        metadata = load_metadata(self.path, self.attr)

        def create_all(dsn: str) -> None:
            engine = create_engine(sqlalchemy_url(dsn))
            try:
                metadata.create_all(engine)
            except Exception as exc:  # the user's models: whatever SQLAlchemy or the server said, in one line
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UsageError(f"{self.label}: create_all failed on PostgreSQL: {first}") from None
            finally:
                engine.dispose()

        yield Opened(built_schema(self.label, create_all, self.shadow_dsn, progress))
