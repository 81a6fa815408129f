"""Benchmark: `dbadvisor analyze --migrations DIR` on a Supabase-style folder of 663 small migrations.

Writes the folder (tables with RLS policies on auth.uid(), foreign keys, indexes, some dropped and
re-created, ALTERs), then runs the analysis as a child process and prints its wall time and peak memory:
shadow server start, platform stubs, replay through one psql session, collection and checks.
Target (sources issue): the replay of 600+ small migrations under 10 s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import child

MIGRATIONS = 663


def write_folder(folder: Path, n: int = MIGRATIONS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        t = f"t{i // 3}"
        match i % 3:
            case 0:
                text = (f"CREATE TABLE public.{t} (id uuid PRIMARY KEY DEFAULT extensions.uuid_generate_v4(),\n"
                        f"  owner_id uuid NOT NULL REFERENCES auth.users (id), body text,\n"
                        f"  created_at timestamptz NOT NULL DEFAULT now());\n"
                        f"ALTER TABLE public.{t} ENABLE ROW LEVEL SECURITY;\n"
                        f"CREATE POLICY {t}_own ON public.{t} USING (owner_id = auth.uid());\n")
            case 1:
                text = (f"CREATE INDEX {t}_created_idx ON public.{t} (created_at);\n"
                        f"ALTER TABLE public.{t} ADD COLUMN status text NOT NULL DEFAULT 'new';\n")
            case _:
                text = (f"DROP INDEX IF EXISTS public.{t}_created_idx;\n"
                        f"CREATE INDEX {t}_created_idx ON public.{t} (created_at DESC);\n"
                        f"COMMENT ON TABLE public.{t} IS 'migration {i}';\n")
        (folder / f"{20240101000000 + i * 100}_step_{i}.sql").write_text(text)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "supabase" / "migrations"
        write_folder(folder)
        run = child.analyze(["--migrations", str(folder)])
        report, wall, peak_mb = run.report, run.wall_s, run.peak_mb
        failed = [s for s in report["skipped"] if s["check"] == "migrations"]
        print(f"migrations replayed: {MIGRATIONS} (failed: {len(failed)})")
        print(f"tables: {report['database']['tables']}, indexes: {report['database']['indexes']}, "
              f"findings: {report['summary']['findings']}")
        print(f"wall: {wall:.2f} s (target < 10 s), peak RSS of the analysis: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
