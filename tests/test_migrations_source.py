"""analyze --migrations DIR: a Supabase-style folder (hundreds of migrations, auth.uid() policies, an
index dropped and re-added, a broken file), a Prisma folder and an Alembic project, replayed into a
private shadow server and analysed offline; findings name the migration they come from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from typer.testing import CliRunner

from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.cli import app
from dbadvisor.model.findings import reasons
from dbadvisor.sources.migrations import MigrationsSource, discover
from tests.conftest import Database

runner = CliRunner()
N_FILLER = 300

SUPABASE = {
    "20240101000000_profiles": """
        CREATE TABLE public.profiles (id uuid PRIMARY KEY REFERENCES auth.users (id), name text);
        ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own_profile ON public.profiles FOR ALL TO authenticated USING (auth.uid() = id);
        CREATE TRIGGER touch BEFORE UPDATE ON public.profiles
            FOR EACH ROW EXECUTE PROCEDURE extensions.moddatetime (name);
    """,
    "20240102000000_posts": """
        CREATE TABLE public.posts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                   author_id uuid NOT NULL REFERENCES public.profiles (id),
                                   body text, created_at timestamptz NOT NULL DEFAULT now());
        ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
        CREATE POLICY read_own ON public.posts FOR SELECT USING (author_id = (SELECT auth.uid()));
    """,
    "20240103000000_posts_created": "CREATE INDEX posts_created_at_idx ON public.posts (created_at);",
    "20240104000000_dup": "CREATE INDEX posts_created_at_dup ON public.posts (created_at);",
    "20240105000000_undo_dup": "DROP INDEX public.posts_created_at_dup;",
    "20240106000000_broken": "CREATE TABLE public.oops (id int PRIMARY KEY,);",
    "20240107000000_redo_dup": "CREATE INDEX posts_created_at_dup ON public.posts (created_at);",
    "20240108000000_avatars": """
        INSERT INTO storage.buckets (id, name) VALUES ('avatars', 'avatars');
        CREATE POLICY avatar_owner ON storage.objects FOR SELECT
            USING (bucket_id = 'avatars' AND auth.uid()::text = (storage.foldername(name))[1]);
        CREATE INDEX profiles_name_trgm ON public.profiles USING gin (name extensions.gin_trgm_ops);
    """,
}


@pytest.fixture(scope="module")
def supabase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("supabase") / "migrations"
    folder.mkdir()
    for name, text in SUPABASE.items():
        (folder / f"{name}.sql").write_text(text)
    for i in range(N_FILLER):  # the long tail of a real project: small tables and columns, one file each
        (folder / f"2024020{i // 100}{i % 100:02d}0000_filler_{i}.sql").write_text(
            f"CREATE TABLE public.filler_{i} (id int PRIMARY KEY, v text);\n"
            f"ALTER TABLE public.filler_{i} ADD COLUMN note text;\n")
    return folder


@pytest.fixture(scope="module")
def supabase_report(supabase: Path):  # type: ignore[no-untyped-def]
    return analyze(MigrationsSource(supabase))


def test_the_folder_is_replayed_and_findings_name_their_migration(supabase_report) -> None:  # type: ignore[no-untyped-def]
    # The FK's index is also what the RLS policy on author_id needs: one finding with both reasons.
    fk = next(f for f in supabase_report.findings
              if "unindexed_foreign_key:public.posts.posts_author_id_fkey" in {r[0] for r in reasons(f)})
    assert fk.evidence["origin"] == "20240102000000_posts" and "added by 20240102000000_posts" in fk.detail
    dup = next(f for f in supabase_report.findings if f.check == "duplicate_index")
    assert dup.evidence["origin"] in ("20240103000000_posts_created", "20240107000000_redo_dup")
    assert "public.posts_created_at_dup" in (dup.index, dup.evidence.get("duplicate_of"))
    assert len([t for t in supabase_report.snapshot.tables if t.name.startswith("filler_")]) == N_FILLER


def test_the_stubs_are_never_reported(supabase_report) -> None:  # type: ignore[no-untyped-def]
    for f in supabase_report.findings:  # on a platform table, only what a migration of the user's made
        if (f.table or "").startswith(("auth.", "storage.", "extensions.")):
            assert f.evidence.get("origin") == "20240108000000_avatars", f.id
    assert not {s.name for s in supabase_report.snapshot.schemas} & {"auth", "extensions", "dbadvisor_replay"}
    # The user's own policy on a platform table is theirs: kept.
    assert any(p.name == "avatar_owner" for p in supabase_report.snapshot.policies)


def test_a_broken_migration_is_reported_and_the_rest_runs(supabase_report) -> None:  # type: ignore[no-untyped-def]
    broken = [s.reason for s in supabase_report.skipped if s.check == "migrations"]
    assert len(broken) == 1 and broken[0].startswith("20240106000000_broken (line 1) failed: syntax error")
    assert any(i.name == "posts_created_at_dup" for i in supabase_report.snapshot.indexes)  # a later file ran


def test_offline_counter_checks_are_skipped_with_the_reason(supabase_report) -> None:  # type: ignore[no-untyped-def]
    reasons = {s.check: s.reason for s in supabase_report.skipped}
    assert "no live statistics" in reasons["unused_index"] and "migrations folder" in reasons["unused_index"]
    assert "offline" in reasons["missing_index"]


def test_since_reports_only_what_later_migrations_introduced(supabase: Path, tmp_path: Path) -> None:
    out = tmp_path / "pr.json"
    result = runner.invoke(app, ["analyze", "--migrations", str(supabase), "--since", "20240105000000",
                                 "-f", "json", "-o", str(out), "--only", "duplicate_index,unindexed_foreign_key"])
    assert result.exit_code == 0, result.output
    findings = json.loads(out.read_text())["findings"]
    assert findings and all(f["evidence"]["origin"] > "20240105000000" for f in findings)
    bad = runner.invoke(app, ["analyze", "--migrations", str(supabase), "--since", "nope"])
    assert bad.exit_code == 2 and "no such migration" in bad.stderr


def test_prisma_folder(tmp_path: Path) -> None:
    root = tmp_path / "prisma" / "migrations"
    for name, text in {
        "20240301000000_init": 'CREATE TABLE "User" (id text PRIMARY KEY, email text NOT NULL);\n'
                               'CREATE TABLE "Post" (id text PRIMARY KEY, "authorId" text NOT NULL '
                               'REFERENCES "User" (id));',
        "20240302000000_email": 'CREATE UNIQUE INDEX "User_email_key" ON "User" (email);\n'
                                'CREATE INDEX "User_email_idx" ON "User" (email);',
    }.items():
        (root / name).mkdir(parents=True)
        (root / name / "migration.sql").write_text(text)
    (root / "migration_lock.toml").write_text('provider = "postgresql"\n')
    assert discover(root)[0] == "prisma"
    report = analyze(MigrationsSource(root), AnalyzeOptions(only=("unindexed_foreign_key", "redundant_index",
                                                                   "duplicate_index")))
    origins = {f.check: f.evidence.get("origin") for f in report.findings}
    assert origins["unindexed_foreign_key"] == "20240301000000_init"
    assert origins.get("redundant_index") == "20240302000000_email"


def test_alembic_project_runs_through_alembic(tmp_path: Path, db: Database) -> None:
    project = tmp_path / "alembic"
    command.init(Config(str(tmp_path / "alembic.ini")), str(project))  # the generic env.py, as projects have
    (project / "versions" / "0001_accounts.py").write_text('''
revision = "0001"
down_revision = None
from alembic import op
import sqlalchemy as sa

def upgrade():
    op.create_table("accounts", sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.Text))
    op.create_table("events", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id")))
''')
    (project / "versions" / "0002_logs.py").write_text('''
revision = "0002"
down_revision = "0001"
from alembic import op
import sqlalchemy as sa

def upgrade():
    op.create_table("logs", sa.Column("line", sa.Text))
''')
    shadow = db.cluster.create_database("alembic_shadow", extensions=())
    report = analyze(MigrationsSource(project, shadow_dsn=shadow),
                     AnalyzeOptions(only=("unindexed_foreign_key", "missing_primary_key")))
    origins = {f.id: f.evidence.get("origin") for f in report.findings}
    assert origins["unindexed_foreign_key:public.events.events_account_id_fkey"] == "0001_accounts"
    assert origins["missing_primary_key:public.logs"] == "0002_logs"
    assert not any(t.name == "alembic_version" for t in report.snapshot.tables if report.findings)


def test_migration_lint_names_the_file_line_and_table(supabase_report) -> None:  # type: ignore[no-untyped-def]
    lint = [f for f in supabase_report.findings if f.check == "migration_lint"]
    build = next(f for f in lint if f.evidence["rule"] == "require-concurrent-index-creation"
                 and f.evidence["migration"] == "20240103000000_posts_created")
    assert build.table == "public.posts" and build.evidence["line"] == 1 and build.severity == "medium"
    assert "added by" not in build.detail  # its origin is the linted file itself


def test_live_sizes_weigh_the_lint(supabase: Path, db: Database, tmp_path: Path) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS public.posts (id int, created_at timestamptz); "
               "INSERT INTO public.posts SELECT g, now() FROM generate_series(1, 20000) g")
    out = tmp_path / "lint.json"
    result = runner.invoke(app, ["analyze", db.dsn, "--migrations", str(supabase), "--only", "migration_lint",
                                 "--set", "migration_lint.large_table_bytes=100000", "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    findings = json.loads(out.read_text())["findings"]
    build = next(f for f in findings if f["evidence"]["rule"] == "require-concurrent-index-creation"
                 and f["evidence"]["migration"] == "20240103000000_posts_created")
    assert build["severity"] == "high" and build["evidence"]["live_bytes"] > 100000
