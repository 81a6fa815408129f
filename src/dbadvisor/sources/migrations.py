"""A migrations folder, replayed in order into a private shadow database and analysed there, offline.

The folder's kind is detected: ordered plain ``.sql`` files (Supabase's ``supabase/migrations``, most
hand-rolled folders), Prisma's ``<timestamp>_name/migration.sql`` directories, or an Alembic project
(``env.py`` and ``versions/``), which Alembic itself runs against the shadow database, one revision at a
time. Every object remembers the migration that created it (its current incarnation: an index dropped and
re-created belongs to the migration that re-created it), so a finding can say "added by ...".

Plain folders replay through one psql session (``\\i`` per file, errors do not stop it): a failing
migration is reported with its file, line and the server's message, and the rest still runs. Supabase
folders reference objects the platform provides (``auth.uid()``, the ``anon``/``authenticated`` roles,
``storage.objects``...): minimal stubs are created first when a file mentions them, and nothing the stubs
created is ever reported.

The shadow's tables are empty and unused: the source says it has no live statistics, so counter-based
checks are skipped with that reason, and size gates do not hide schema findings.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
from psycopg import sql

from dbadvisor.dialects.postgres.catalog import Collected, collect
from dbadvisor.dialects.postgres.cluster import find_bindir
from dbadvisor.dialects.postgres.connection import SessionSettings, connect
from dbadvisor.dialects.postgres.dsn import sqlalchemy_url
from dbadvisor.errors import UsageError
from dbadvisor.model.catalog import LintViolation
from dbadvisor.model.findings import Skipped
from dbadvisor.sources import Opened, Progress
from dbadvisor.sources.shadow import offline as shadow_offline
from dbadvisor.sources.shadow import shadow_database

REPLAY_SCHEMA = "dbadvisor_replay"  # where the replay keeps its records; dropped before the snapshot
STUBS = "(platform stubs)"
# Tables migration tools keep their own bookkeeping in: never the user's schema, never reported.
BOOKKEEPING = frozenset({"alembic_version", "_prisma_migrations", "schema_migrations", "__diesel_schema_migrations",
                         "flyway_schema_history", "ar_internal_metadata"})
_ERROR = re.compile(r"^psql:(?P<file>.+?):(?P<line>\d+): ERROR:\s+(?P<message>.*)$")
_SUPABASE = re.compile(r"\bauth\.(uid|jwt|role|users)\b|\bstorage\.(objects|buckets|foldername)\b|"
                       r"\b(authenticated|service_role|anon)\b|\bextensions\.|supabase_realtime", re.IGNORECASE)

# What a Supabase project provides before its migrations run, reduced to what migrations reference.
SUPABASE_STUBS = """
DO $$ BEGIN
  CREATE ROLE anon NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
  CREATE ROLE authenticated NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
  CREATE ROLE service_role NOLOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS storage;
CREATE SCHEMA IF NOT EXISTS extensions;
DO $$ DECLARE ext text; BEGIN  -- each as the server has it: one it lacks only fails the migrations using it
  FOREACH ext IN ARRAY ARRAY['pg_trgm', 'uuid-ossp', 'pgcrypto', 'moddatetime'] LOOP
    BEGIN
      EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I SCHEMA extensions', ext);
    EXCEPTION WHEN others THEN RAISE NOTICE 'stub extension % not available: %', ext, SQLERRM;
    END;
  END LOOP;
END $$;
CREATE TABLE IF NOT EXISTS auth.users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text,
    raw_user_meta_data jsonb, raw_app_meta_data jsonb, created_at timestamptz DEFAULT now());
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS
  $f$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $f$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS
  $f$ SELECT nullif(current_setting('request.jwt.claim.role', true), '') $f$;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS
  $f$ SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb $f$;
CREATE OR REPLACE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS
  $f$ SELECT auth.jwt() ->> 'email' $f$;
CREATE TABLE IF NOT EXISTS storage.buckets (id text PRIMARY KEY, name text NOT NULL, owner uuid,
    public boolean DEFAULT false, created_at timestamptz DEFAULT now());
CREATE TABLE IF NOT EXISTS storage.objects (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bucket_id text REFERENCES storage.buckets (id), name text, owner uuid, metadata jsonb,
    created_at timestamptz DEFAULT now());
CREATE OR REPLACE FUNCTION storage.foldername(name text) RETURNS text[] LANGUAGE sql IMMUTABLE AS
  $f$ SELECT string_to_array(name, '/') $f$;
CREATE OR REPLACE FUNCTION storage.filename(name text) RETURNS text LANGUAGE sql IMMUTABLE AS
  $f$ SELECT (string_to_array(name, '/'))[array_length(string_to_array(name, '/'), 1)] $f$;
DO $$ BEGIN
  CREATE PUBLICATION supabase_realtime; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA auth, storage, extensions TO anon, authenticated, service_role;
"""

# After each migration: the objects that exist now and were not there before belong to it (user objects
# only: oids from 16384, FirstNormalObjectId, are not the system's).
RECORD_ORIGINS = """
INSERT INTO dbadvisor_replay.origin (object_oid, kind, name, migration, position)
SELECT o.oid, o.kind, o.name, %(migration)s, %(position)s FROM (
    SELECT c.oid, 'relation' AS kind, n.nspname || '.' || c.relname AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'i', 'I', 'm', 'v', 'S', 'f')
  UNION ALL
    SELECT con.oid, 'constraint', n.nspname || '.' || c.relname || '.' || con.conname
    FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE con.oid >= 16384
  UNION ALL
    SELECT p.oid, 'policy', n.nspname || '.' || c.relname || '.' || p.polname
    FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  UNION ALL
    SELECT n.oid, 'schema', n.nspname FROM pg_namespace n WHERE n.oid >= 16384
) o
WHERE NOT EXISTS (SELECT 1 FROM dbadvisor_replay.origin x WHERE x.object_oid = o.oid AND x.kind = o.kind)
"""


@dataclass(frozen=True)
class Migration:
    name: str  # as findings name it: the file (or directory) name without .sql
    path: Path


def discover(folder: Path) -> tuple[str, list[Migration]]:
    """``(kind, migrations in order)`` for a folder of migrations; a folder of nothing is a usage error."""
    if not folder.is_dir():
        raise UsageError(f"--migrations {folder}: not a directory")
    if (folder / "env.py").exists() and (folder / "versions").is_dir():
        return "alembic", [Migration(p.stem, p) for p in sorted((folder / "versions").glob("*.py"))]
    prisma = sorted(p for p in folder.glob("*/migration.sql"))
    if prisma:
        return "prisma", [Migration(p.parent.name, p) for p in prisma]
    plain = sorted(folder.glob("*.sql"))
    if plain:
        return "sql", [Migration(p.stem, p) for p in plain]
    raise UsageError(f"--migrations {folder}: no .sql files, Prisma migration.sql folders or Alembic project found")


def needs_supabase_stubs(migrations: list[Migration]) -> bool:
    for m in migrations:
        with contextlib.suppress(OSError):
            if _SUPABASE.search(m.path.read_text(errors="replace")):
                return True
    return False


@dataclass(frozen=True)
class Replayed:
    kind: str
    migrations: tuple[Migration, ...]
    origins: dict[str, str]  # object key -> the migration that created it
    problems: tuple[Skipped, ...]
    stub_objects: frozenset[str]


def lint(migrations: list[Migration]) -> tuple[LintViolation, ...]:
    """squawk's rules on the migration files (plain SQL ones), each violation with the table its statement
    acts on; empty when squawk is not installed (the README says how to get it)."""
    files = [m for m in migrations if m.path.suffix == ".sql"]
    squawk = shutil.which("squawk") or str(Path(sys.executable).parent / "squawk")
    if not files or not Path(squawk).exists():
        return ()
    done = subprocess.run([squawk, "--reporter", "json", *(str(m.path) for m in files)], capture_output=True,
                          text=True, timeout=600, check=False)
    try:
        rows = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return ()
    names = {str(m.path): m for m in files}
    texts: dict[str, str] = {}
    out = []
    for r in rows:
        m = names.get(str(r.get("file")))
        if m is None:
            continue
        text = texts.setdefault(m.name, m.path.read_text(errors="replace"))
        out.append(LintViolation(m.name, int(r.get("line", 0)) + 1, str(r.get("rule_name")), str(r.get("level")),
                                 str(r.get("message")), r.get("help"), _table_at(text, int(r.get("line", 0)))))
    return tuple(out)


_ACTS_ON = re.compile(r'\b(?:ALTER\s+TABLE|ON|INTO|UPDATE|FROM|TABLE)\s+(?:ONLY\s+)?(?:IF\s+(?:NOT\s+)?EXISTS\s+)?'
                      r'((?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\.(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*))?)', re.IGNORECASE)


def _table_at(text: str, line: int) -> str | None:
    """The table named by the statement around 0-based ``line`` (from the ';' before it to the one after)."""
    lines = text.splitlines()
    offset = sum(len(x) + 1 for x in lines[:line])
    start = text.rfind(";", 0, offset) + 1
    end = text.find(";", offset)
    hit = _ACTS_ON.search(text[start:end if end >= 0 else len(text)])
    if hit is None:
        return None
    parts = [p[1:-1].replace('""', '"') if p.startswith('"') else p.lower()
             for p in re.findall(r'"(?:[^"]|"")+"|[^.]+', hit.group(1))]
    return ".".join(parts) if len(parts) == 2 else f"public.{parts[0]}"


@dataclass(frozen=True)
class MigrationsSource:
    """``folder`` replayed into a private shadow server (or into ``shadow_dsn``, an empty database);
    ``live_sizes`` (from a live database, when one is given) weigh the lint of statements on big tables."""

    folder: Path
    shadow_dsn: str | None = None
    settings: SessionSettings = field(default_factory=lambda: SessionSettings(statement_timeout_ms=0))
    live_sizes: Mapping[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"migrations folder {self.folder}"

    @contextlib.contextmanager
    def open(self, progress: Progress | None = None) -> Iterator[Opened]:
        say = progress or (lambda _: None)
        kind, migrations = discover(self.folder)
        with shadow_database(self.shadow_dsn, say) as dsn:
            replayed = replay(dsn, kind, migrations, say)
            with connect(dsn, self.settings) as conn:
                collected = collect(conn)
            found = offline(collected, replayed, self.label)
            snapshot = replace(found.snapshot, lint=lint(migrations), live_sizes=dict(self.live_sizes))
            yield Opened(Collected(snapshot, found.capabilities, found.problems), None)


def replay(dsn: str, kind: str, migrations: list[Migration], say: Progress) -> Replayed:
    """Run the migrations in order on ``dsn``, recording which one created each object."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(REPLAY_SCHEMA)))
        conn.execute(sql.SQL("CREATE TABLE {}.origin (object_oid oid, kind text, name text, migration text, "
                             "position int, PRIMARY KEY (object_oid, kind))").format(sql.Identifier(REPLAY_SCHEMA)))
        conn.execute(RECORD_ORIGINS, {"migration": "(shadow)", "position": -1})
        if kind != "alembic" and needs_supabase_stubs(migrations):
            say("platform stubs (auth, storage, extensions)")
            conn.execute(SUPABASE_STUBS)
            conn.execute(RECORD_ORIGINS, {"migration": STUBS, "position": 0})
    say(f"replay {len(migrations)} {kind} migrations")
    problems = _replay_alembic(dsn, migrations) if kind == "alembic" else _replay_psql(dsn, migrations)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(sql.SQL("SELECT kind, name, migration FROM {}.origin ORDER BY position").format(
            sql.Identifier(REPLAY_SCHEMA))).fetchall()
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(REPLAY_SCHEMA)))
    origins = {f"{k}:{n}": str(m) for k, n, m in rows if m not in ("(shadow)", STUBS)}
    stubs = frozenset(f"{k}:{n}" for k, n, m in rows if m in ("(shadow)", STUBS))
    return Replayed(kind, tuple(migrations), origins, tuple(problems), stubs)


def _replay_psql(dsn: str, migrations: list[Migration]) -> list[Skipped]:
    """One psql session: ``\\i`` each file, then record what it created; errors do not stop the replay."""
    script = ["\\set ON_ERROR_STOP 0", "SET client_min_messages = warning;"]
    for position, m in enumerate(migrations, 1):
        script.append(f"\\i {_psql_quote(str(m.path.resolve()))}")
        script.append("RESET ALL; SET client_min_messages = warning; SET search_path = public;")
        script.append(RECORD_ORIGINS.replace("%(migration)s", _sql_literal(m.name))
                      .replace("%(position)s", str(position)).strip() + ";")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write("\n".join(script) + "\n")
        name = f.name
    try:
        done = subprocess.run([str(find_bindir() / "psql"), "-X", "-q", "-d", dsn, "-f", name],
                              capture_output=True, text=True, timeout=3600, check=False)
    finally:
        Path(name).unlink(missing_ok=True)
    by_path = {str(m.path.resolve()): m.name for m in migrations}
    problems = []
    for line in done.stderr.splitlines():
        hit = _ERROR.match(line)
        if hit and hit.group("file") in by_path:
            problems.append(Skipped("migrations", f"{by_path[hit.group('file')]} (line {hit.group('line')}) "
                                                  f"failed: {hit.group('message')}"))
    if done.returncode not in (0, 3):
        problems.append(Skipped("migrations", f"psql ended with code {done.returncode}: "
                                              f"{done.stderr.strip().splitlines()[-1:] or ''}"))
    return problems


def _replay_alembic(dsn: str, migrations: list[Migration]) -> list[Skipped]:
    """Alembic itself, one revision at a time (its own ordering), recording after each."""
    try:
        from alembic import command
        from alembic.config import Config
        from alembic.script import ScriptDirectory
    except ImportError:
        raise UsageError("an Alembic folder needs alembic installed (pip install alembic sqlalchemy)") from None
    folder = migrations[0].path.parent.parent if migrations else Path(".")
    cfg = Config()
    cfg.set_main_option("script_location", str(folder))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(dsn).replace("%", "%%"))
    revisions = list(reversed(list(ScriptDirectory.from_config(cfg).walk_revisions())))
    problems: list[Skipped] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for position, rev in enumerate(revisions, 1):
            name = Path(rev.path).stem if rev.path else rev.revision
            try:
                command.upgrade(cfg, rev.revision)
            except Exception as exc:  # a broken revision: reported, the replay stops (later ones depend on it)
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                problems.append(Skipped("migrations", f"{name} failed: {first}"))
                break
            conn.execute(RECORD_ORIGINS, {"migration": name, "position": position})
    return problems


def _psql_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def offline(collected: Collected, replayed: Replayed, label: str) -> Collected:
    """The shadow's snapshot as the folder's: the stubs left out, every object's origin attached, and
    capabilities that say there are no live statistics."""
    snap = collected.snapshot
    stub = replayed.stub_objects

    bookkeeping = {t.qualname for t in snap.tables if t.name in BOOKKEEPING}

    def kept(kind: str, name: str, table: str | None = None) -> bool:
        return f"{kind}:{name}" not in stub and (table or name) not in bookkeeping

    snapshot = replace(
        snap,
        schemas=tuple(s for s in snap.schemas if kept("schema", s.name)),
        tables=tuple(t for t in snap.tables if kept("relation", t.qualname)),
        columns=tuple(c for c in snap.columns if kept("relation", f"{c.schema}.{c.table}")),
        indexes=tuple(i for i in snap.indexes if kept("relation", i.qualname, i.table_qualname)),
        constraints=tuple(c for c in snap.constraints
                          if kept("constraint", f"{c.schema}.{c.table}.{c.name}", f"{c.schema}.{c.table}")),
        policies=tuple(p for p in snap.policies
                       if kept("policy", f"{p.schema}.{p.table}.{p.name}", f"{p.schema}.{p.table}")),
        sequences=tuple(s for s in snap.sequences if kept("relation", f"{s.schema}.{s.name}")),
        origins=replayed.origins,
        migrations=tuple(m.name for m in replayed.migrations),
    )
    source = (f"a migrations folder ({len(replayed.migrations)} {replayed.kind} migrations) replayed into an "
              "empty shadow database")
    out = shadow_offline(Collected(snapshot, collected.capabilities, collected.problems), source)
    return Collected(out.snapshot, out.capabilities, (*out.problems, *replayed.problems))
