"""Benchmark: `dbadvisor analyze` on a large catalog.

Builds 1,000 tables (6,000 columns, 3,000 indexes, 600 foreign keys) in a private cluster, then runs
`dbadvisor analyze -f json` as a child process and prints its wall time and peak memory.
Target (issue 3): under 10 s and under 300 MB on a 2-core machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from dbadvisor.cluster import PrivateCluster

TABLES = 1000
FOREIGN_KEYS = 600

BUILD = f"""
DO $$
BEGIN
  FOR s IN 1..4 LOOP
    EXECUTE format('CREATE SCHEMA %I', 'app' || s);
  END LOOP;
  FOR i IN 1..{TABLES} LOOP
    EXECUTE format(
      'CREATE TABLE %I.%I (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, parent_id bigint,
                          name text, status text, created_at timestamptz DEFAULT now(), payload jsonb)',
      'app' || (1 + i % 4), 't' || i);
    EXECUTE format('CREATE INDEX ON %I.%I (status, created_at)', 'app' || (1 + i % 4), 't' || i);
    EXECUTE format('CREATE INDEX ON %I.%I (lower(name)) WHERE status <> ''done''', 'app' || (1 + i % 4), 't' || i);
    EXECUTE format('INSERT INTO %I.%I (parent_id, name, status) SELECT g, ''n'' || g, ''s'' || (g %% 5)
                    FROM generate_series(1, 20) g', 'app' || (1 + i % 4), 't' || i);
  END LOOP;
  FOR i IN 2..{FOREIGN_KEYS + 1} LOOP
    EXECUTE format('ALTER TABLE %I.%I ADD FOREIGN KEY (parent_id) REFERENCES %I.%I (id)',
                   'app' || (1 + i % 4), 't' || i, 'app' || (1 + (i - 1) % 4), 't' || (i - 1));
  END LOOP;
END $$;
ANALYZE;
"""


def main() -> int:
    with PrivateCluster(settings={"max_locks_per_transaction": "256"}) as pg:
        dsn = pg.create_database("catalog_scale", ("pg_stat_statements",))
        t = time.perf_counter()
        with pg.connect("catalog_scale") as conn:
            conn.execute(BUILD)
            counts = conn.execute("""
                SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE relkind = 'r' AND nspname LIKE 'app%'),
                       (SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                         JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE relkind = 'r' AND nspname LIKE 'app%' AND attnum > 0),
                       (SELECT count(*) FROM pg_indexes WHERE schemaname LIKE 'app%'),
                       (SELECT count(*) FROM pg_constraint WHERE contype = 'f')""").fetchone()
        build_s = time.perf_counter() - t
        assert counts is not None
        print(f"schema: {counts[0]} tables, {counts[1]} columns, {counts[2]} indexes, {counts[3]} foreign keys "
              f"(built in {build_s:.1f} s)")

        out = Path(pg.base_dir) / "report.json"
        t = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "dbadvisor", "analyze", dsn, "-f", "json", "-o", str(out)],
            capture_output=True, text=True, check=False,
        )
        wall = time.perf_counter() - t
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if result.returncode != 0:
            print(result.stderr)
            return 1
        doc = json.loads(out.read_text())
        print(f"analyze: {wall:.2f} s wall, {peak_mb:.0f} MB peak RSS, {len(doc['findings'])} findings, "
              f"checks: {len(doc['summary']['checks_run'])}")
        print(f"target: < 10 s and < 300 MB -> {'OK' if wall < 10 and peak_mb < 300 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
