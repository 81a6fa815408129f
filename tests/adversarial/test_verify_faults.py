"""verify interrupted half-way: the next run rebuilds the scratch copy it left, and never measures an
index on half-copied tables; a foreign key that sampling breaks is a note, not an error."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from dbadvisor.dialects.postgres import scratch
from dbadvisor.verify.run import VerifyOptions, verify
from tests.conftest import Database

pytestmark = pytest.mark.hypopg  # the index advisor's what-if costing

SCHEMA = """
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO accounts SELECT g, 'acct ' || g FROM generate_series(0, 59999) g;
CREATE TABLE events (id bigint PRIMARY KEY, account_id int NOT NULL REFERENCES accounts,
                     created_at timestamptz NOT NULL, payload text NOT NULL);
INSERT INTO events SELECT g, g % 60000, now() - g * interval '1 second', md5(g::text)
FROM generate_series(1, 200000) g;
ANALYZE;
"""
WORKLOAD = """
-- weight: 100
SELECT id, payload FROM events WHERE account_id = 42 ORDER BY created_at DESC LIMIT 20;
"""


@pytest.fixture(scope="module")
def target(db: Database) -> Database:
    db.execute(SCHEMA)
    return db


def test_an_interrupted_build_is_rebuilt_not_measured(target: Database, tmp_path: Path) -> None:
    report = target.report_file(tmp_path / "report.json", WORKLOAD)
    scratch_dsn = target.cluster.create_database("scratch_interrupted", extensions=())

    class Stop(Exception):
        pass

    def stop_after_schema(step: str) -> None:
        if step.startswith("scratch: copy public.events"):
            raise Stop  # as if SIGINT struck while the rows were being copied

    with pytest.raises(Stop):
        verify(target.dsn, scratch_dsn, report, VerifyOptions(runs=2), progress=stop_after_schema)
    with psycopg.connect(scratch_dsn, autocommit=True) as conn:
        assert scratch.mark(conn) == scratch.MARK_BUILDING
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)  # half-built

    result = verify(target.dsn, scratch_dsn, report, VerifyOptions(runs=2, sample_rows=50_000))
    assert result.build.built and result.build.rebuilt
    (finding,) = [f for f in result.report.findings if f.check == "missing_index"]
    figures = finding.estimate.figures  # type: ignore[union-attr]
    assert finding.estimate.kind == "measured"  # type: ignore[union-attr]
    assert figures["index_size_bytes"] > 8192 * 10  # built on the copied rows, not on empty tables
    assert f"Measured size {figures['index_size_bytes']:,} bytes" in finding.detail
    assert "Estimated size" not in finding.detail
    # A foreign key broken by sampling is said to be expected, not shown as an error of ours.
    notes = [s.reason for s in result.report.skipped if "foreign key" in s.reason]
    assert notes and all("ERROR" not in n and "expected with sampling" in n for n in notes)
    with psycopg.connect(scratch_dsn, autocommit=True) as conn:
        assert scratch.mark(conn) == scratch.MARK_COMPLETE

    again = verify(target.dsn, scratch_dsn, report, VerifyOptions(runs=2))
    assert not again.build.built  # a complete one is reused as it is
