"""Benchmark: `dbadvisor analyze` on a large catalog, and the index advisor on a large workload.

Builds 1,000 tables (6,000 columns, 3,000 indexes, 600 foreign keys) in a private cluster, then runs
`dbadvisor analyze -f json` as a child process and prints its wall time and peak memory.
Target (issue 3): under 10 s and under 300 MB on a 2-core machine.

Then fills 200 of the tables with 5,000 rows each and runs the advisor alone (`--only missing_index`) on a
500-statement workload over them (pg_stat_statements' default cap): wall time, peak memory, what-if calls.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from dbadvisor.dialects.postgres.cluster import PrivateCluster

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


WORKLOAD_TABLES = 200
FILL = f"""
DO $$
BEGIN
  FOR i IN 1..{WORKLOAD_TABLES} LOOP
    EXECUTE format('INSERT INTO %I.%I (parent_id, name, status, payload)
                    SELECT 1 + g %% 20, ''n'' || g, ''s'' || (g %% 50), jsonb_build_object(''k'', g %% 100)
                    FROM generate_series(1, 5000) g', 'app' || (1 + i % 4), 't' || i);
  END LOOP;
END $$;
ANALYZE;
"""


def workload_sql() -> str:
    """Five statement shapes, round-robin over the filled tables: 500 distinct statements."""
    shapes = [
        "SELECT id, name FROM {t} WHERE parent_id = {p} ORDER BY created_at DESC LIMIT 10",
        "SELECT count(*) FROM {t} WHERE status = 's{n}' AND created_at > now() - interval '1 day'",
        "SELECT id FROM {t} WHERE name = 'n{n}'",
        "SELECT a.id, b.name FROM {t} a JOIN {u} b ON b.parent_id = a.id WHERE a.status = 's{n}'",
        "SELECT count(*) FROM {t} WHERE payload @> '{{\"k\": {n}}}'",
    ]
    out = []
    for k in range(500):
        i = 1 + k % WORKLOAD_TABLES
        t, u = f"app{1 + i % 4}.t{i}", f"app{1 + (i % WORKLOAD_TABLES + 1) % 4}.t{i % WORKLOAD_TABLES + 1}"
        out.append(f"-- weight: {1 + k % 7}\n{shapes[k % len(shapes)].format(t=t, u=u, n=k % 47, p=1 + k % 20)};")
    return "\n".join(out) + "\n"


def run_child(argv: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall seconds and peak RSS (MB) of one dbadvisor child process. RUSAGE_CHILDREN keeps the largest
    child so far, so a later run's figure is the peak of it and the ones before."""
    t = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "dbadvisor", *argv], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, result


def main() -> int:
    with PrivateCluster(settings={"max_locks_per_transaction": "256"}) as pg:
        dsn = pg.create_database("catalog_scale", ("pg_stat_statements", "hypopg"))
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
        wall, peak_mb, result = run_child(["analyze", dsn, "-f", "json", "-o", str(out)])
        if result.returncode not in (0, 1):
            print(result.stderr)
            return 1
        doc = json.loads(out.read_text())
        print(f"analyze: {wall:.2f} s wall, {peak_mb:.0f} MB peak RSS, {len(doc['findings'])} findings, "
              f"checks: {len(doc['summary']['checks_run'])}")
        print(f"target: < 10 s and < 300 MB -> {'OK' if wall < 10 and peak_mb < 300 else 'MISSED'}")

        t = time.perf_counter()
        with pg.connect("catalog_scale") as conn:
            conn.execute(FILL)
        sql_file = Path(pg.base_dir) / "workload.sql"
        sql_file.write_text(workload_sql())
        print(f"\nworkload: 500 statements over {WORKLOAD_TABLES} tables of 5,000 rows "
              f"(filled in {time.perf_counter() - t:.1f} s)")
        wall, peak_mb, result = run_child(["analyze", dsn, "--only", "missing_index", "--workload", str(sql_file),
                                           "-f", "json", "-o", str(out)])
        if result.returncode not in (0, 1):
            print(result.stderr)
            return 1
        doc = json.loads(out.read_text())
        recs = [f for f in doc["findings"] if f["check"] == "missing_index"]
        calls = max((f["evidence"].get("what_if_calls") or 0 for f in recs), default=0)
        print(f"advisor: {wall:.2f} s wall, {peak_mb:.0f} MB peak RSS, {len(recs)} recommendations, "
              f"{calls} what-if calls, {len(doc['skipped'])} skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
