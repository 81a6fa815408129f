"""The SQLite demo: a Telegram bot platform's file (bots, messages with a JSON ``meta``, memories,
holdings, stances), generated inside SQLite, with the usual mistakes planted, and its workload. The tests
and ``bench/sqlite`` build the same file at other sizes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rich.console import Console

from dbadvisor import __version__
from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.migrations import plan_of
from dbadvisor.migrations import sql as sqlfiles
from dbadvisor.model.findings import Report
from dbadvisor.report import json, markdown

SCHEMA = """
CREATE TABLE bots (id INTEGER PRIMARY KEY, name TEXT NOT NULL, owner TEXT);
CREATE TABLE messages (id INTEGER PRIMARY KEY, bot_id INTEGER NOT NULL REFERENCES bots (id), chat_id INTEGER NOT NULL,
                       role TEXT NOT NULL, created_at TEXT NOT NULL, body TEXT, meta TEXT);
-- chosen by hand: the second makes the first redundant
CREATE INDEX messages_bot_idx ON messages (bot_id);
CREATE INDEX messages_bot_created_idx ON messages (bot_id, created_at);
CREATE INDEX messages_trades_idx ON messages (created_at) WHERE role = 'trade';
CREATE TABLE memories (id INTEGER PRIMARY KEY, bot_id INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
-- INT PRIMARY KEY is not the rowid: a second copy of every key, in an index
CREATE TABLE holdings (id INT PRIMARY KEY, bot_id INTEGER REFERENCES bots (id), qty REAL) STRICT;
CREATE TABLE stances (bot_id INTEGER, topic TEXT, PRIMARY KEY (bot_id, topic)) WITHOUT ROWID;
"""

# (weight, statement): what the bots run, with values, as a .sql workload file has them.
WORKLOAD = (
    (100, "SELECT id, role, body FROM messages WHERE chat_id = 42 ORDER BY created_at DESC LIMIT 20"),
    (20, "SELECT count(*) FROM messages WHERE json_extract(meta, '$.kind') = 'trade'"),
    (50, "SELECT * FROM memories WHERE bot_id = 7 AND kind = 'stance'"),
    (30, "SELECT id, name FROM bots WHERE lower(owner) = 'owner7'"),
    (100, "SELECT * FROM messages WHERE bot_id = 3 ORDER BY created_at DESC LIMIT 10"),
    (500, "INSERT INTO messages (bot_id, chat_id, role, created_at, body, meta) "
          "VALUES (3, 42, 'user', '2026-12-01', 'hello', '{\"kind\": \"chat\"}')"),
)


def build(path: Path, messages: int = 200_000, bots: int = 200) -> None:
    """Write the demo file at ``path``: ``messages`` messages (one in 50 a trade), a third as many memories
    (one in 97 a stance), 20,000 holdings of which one in 1,000 points to no bot (written with foreign keys
    off, as SQLite's connections have them by default)."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(SCHEMA)
        sizes = {"bots": int(bots), "messages": int(messages)}
        for statement in FILL:
            conn.execute(statement, sizes)
        conn.commit()
    finally:
        conn.close()


FILL = (
    """WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :bots)
       INSERT INTO bots SELECT i, 'bot' || i, 'Owner' || (i % 50) FROM s""",
    """WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < :messages - 1)
       INSERT INTO messages (bot_id, chat_id, role, created_at, body, meta)
       SELECT 1 + i % :bots, i % 5000, CASE i % 2 WHEN 0 THEN 'assistant' ELSE 'user' END,
              printf('2026-%02d-%02d', 1 + i % 11, 1 + i % 28), hex(randomblob(20)),
              json_object('kind', CASE WHEN i % 50 = 0 THEN 'trade' ELSE 'chat' END)
       FROM s""",
    """WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < :messages / 2 - 1)
       INSERT INTO memories (bot_id, kind, data)
       SELECT 1 + i % :bots, CASE WHEN i % 97 THEN 'fact' ELSE 'stance' END, json_object('topic', 't' || (i % 1000))
       FROM s""",
    """WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 19999)
       INSERT INTO holdings SELECT i, CASE WHEN i % 1000 THEN 1 + i % :bots ELSE 99999 END, 1.0 FROM s""",
)


def workload_file(path: Path) -> Path:
    path.write_text("".join(f"-- weight: {w}\n{sql};\n" for w, sql in WORKLOAD))
    return path


def run(output_dir: Path, console: Console | None = None) -> Report:
    """Build the demo file, analyse it with its workload (the advisor measures on a private copy), write
    its reports and migrations under ``output_dir``."""
    console = console or Console(stderr=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    db = output_dir / "bots.db"
    db.unlink(missing_ok=True)
    build(db)
    report = analyze(f"sqlite:///{db}", AnalyzeOptions(workload=(workload_file(output_dir / "workload.sql"),)))
    (output_dir / "report.md").write_text(markdown.render(report), encoding="utf-8")
    (output_dir / "report.json").write_text(json.render(report), encoding="utf-8")
    sqlfiles.write(plan_of(report.findings, "sqlite"), output_dir / "migrations", __version__, "the SQLite demo")
    console.print(f"SQLite demo: {len(report.findings)} findings for {db} (reports and migrations in {output_dir})")
    return report
