"""Benchmark: `dbadvisor analyze` on a 1 GB SQLite file, and its advisor against `sqlite3 .expert`.

The SQLite demo's bot platform file (``dbadvisor.demo.sqlite``), with 50,000 bots, 10M messages with a JSON
``meta`` and 5M memories, is generated inside SQLite.
`dbadvisor analyze sqlite:///FILE` runs as a child process, once without a workload (catalog and checks:
target under 30 s and 300 MB) and once with one (the advisor builds and times its candidates on a private
copy). `.expert` from Debian's sqlite3 is asked about each statement of the same workload; then each
advisor's indexes are built on a copy of the file and every statement timed (median of 5): statements
improved and total measured time, for both.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench import child
from dbadvisor.demo import sqlite as demo

WORKLOAD = [*demo.WORKLOAD, (10, "SELECT count(*) FROM memories WHERE json_extract(data, '$.topic') = 't42'")]
READS = [(w, sql) for w, sql in WORKLOAD if sql.startswith("SELECT")]  # what is timed with each advisor's set


def build(path: Path, messages: int) -> None:
    demo.build(path, messages=messages, bots=50_000)


def expert(path: Path, sql: str) -> list[str]:
    out = subprocess.run(["sqlite3", str(path)], input=f".expert\n{sql};\n", capture_output=True, text=True,
                         check=False).stdout
    return [line.strip() for line in out.splitlines() if line.startswith("CREATE INDEX")]


def timed(path: Path, indexes: list[str]) -> tuple[list[float], float]:
    """Each statement's median time (ms, 5 runs after a warm-up) on a copy with ``indexes`` built."""
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copy(path, copy)
        conn = sqlite3.connect(copy)
        start = time.perf_counter()
        for ddl in indexes:
            conn.execute(ddl)
        build = time.perf_counter() - start
        out = []
        for _, sql in READS:
            runs = []
            for i in range(6):
                t = time.perf_counter()
                conn.execute(sql).fetchall()
                if i:
                    runs.append((time.perf_counter() - t) * 1000)
            out.append(statistics.median(runs))
        conn.close()
    return out, build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the file (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "bots.db"
        t = time.perf_counter()
        build(path, args.messages)
        print(f"built {path.stat().st_size / (1 << 20):,.0f} MB ({args.messages:,} messages) in "
              f"{time.perf_counter() - t:.1f} s")
        checks = child.analyze([f"sqlite:///{path}"])
        print(f"analyze (catalog and checks): {checks.wall_s:.1f} s, peak {checks.peak_mb:.0f} MB, "
              f"{len(checks.report['findings'])} findings: "
              + ", ".join(sorted({f['check'] for f in checks.report['findings']})))
        workload = Path(tmp) / "workload.sql"
        workload.write_text("".join(f"-- weight: {w}\n{sql};\n" for w, sql in WORKLOAD))
        advised = child.analyze([f"sqlite:///{path}", "--workload", str(workload), "--only", "missing_index"])
        ours = [f["fix"]["sql"] for f in advised.report["findings"] if f["check"] == "missing_index"]
        figures = advised.report["summary"].get("advisor", {})
        print(f"analyze with the workload (advisor): {advised.wall_s:.1f} s, peak {advised.peak_mb:.0f} MB, "
              f"{figures.get('builds')} candidate builds on the copy, {len(ours)} indexes")
        for sql in ours:
            print(f"  dbadvisor: {sql}")
        theirs: list[str] = []
        for _, sql in READS:
            found = expert(path, sql)
            theirs += [s for s in found if s not in theirs]
            print(f"  .expert for {sql[:60]}...: {found or '(no new indexes)'}")
        base, _ = timed(path, [])
        mine, my_build = timed(path, [re.sub(r";$", "", s) for s in ours])
        other, their_build = timed(path, theirs)
        weights = [w for w, _ in READS]

        def total(times: list[float]) -> float:
            return sum(w * t for w, t in zip(weights, times, strict=True))

        for name, times, built in (("no new index", base, 0.0), ("dbadvisor", mine, my_build),
                                   (".expert", other, their_build)):
            improved = sum(1 for b, x in zip(base, times, strict=True) if x < b * 0.9)
            print(f"{name:>12}: weighted total {total(times):,.1f} ms; statements improved {improved}/{len(READS)}; "
                  f"index builds {built:.1f} s; per statement (ms): " + ", ".join(f"{x:.2f}" for x in times))


if __name__ == "__main__":
    main()
