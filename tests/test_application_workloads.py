"""The advisor on an application's workload (a CRM with chat history and LLM call logs), as the
application sends it: the same lookup with thousands of keys, a status that is rare for one value and
common for another, sort-limit pages beside a one-column index, statements normalized by
pg_stat_statements. Real PostgreSQL, real data."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg
import pytest
from bench.workload_scale import crm_schema, users

from dbadvisor.advisor.advise import AdvisorOptions
from dbadvisor.analysis import AnalyzeOptions, analyze
from dbadvisor.model.findings import Report
from tests.conftest import Database, recs

pytestmark = pytest.mark.hypopg

SCHEMA = crm_schema(messages=200_000, llm_calls=150_000)


@pytest.fixture(scope="module")
def crm(db: Database) -> Database:
    db.execute(SCHEMA)
    return db


def advise(db: Database, workload: Path, **advisor: object) -> Report:
    return analyze(db.dsn, AnalyzeOptions(only=("missing_index",), workload=(workload,),
                                          advisor=AdvisorOptions(**advisor)))  # type: ignore[arg-type]



def test_one_lookup_with_thousands_of_keys_is_one_shape_and_one_index(crm: Database, tmp_path: Path) -> None:
    """An N+1 loop over users in a statement log: 3,000 texts, one shape; one ("user_id") index serves
    every user, never a partial index per user seen."""
    log = tmp_path / "postgresql.log"
    lines = [f"2026-12-01 10:00:{i % 60:02d}.000 UTC [42] LOG:  duration: 1.{i % 9} ms  statement: "
             f"SELECT id, body FROM messages WHERE user_id = '{u}' ORDER BY created_at DESC LIMIT 20"
             for i, u in enumerate(users(3000))]
    log.write_text("\n".join(lines) + "\n")
    report = advise(crm, log)
    found = recs(report)
    assert [f.columns[0] for f in found.values()] == ["user_id"], found
    (f,) = found.values()
    assert f.evidence["predicate"] is None
    (q,) = f.evidence["queries"]
    assert q["calls"] == 3000 and q["parameters"] == "literal"
    assert f.evidence["what_if_calls"] < 60  # one statement, not 3,000


def test_a_rare_value_gets_its_index_and_a_common_one_does_not_drown_it(crm: Database, tmp_path: Path) -> None:
    """One shape seen with 'sent' 95 times and 'error' 5 times is planned once per value, each weighed by
    its use: the rare value gets its partial index (most rows are 'sent', so the common case is served by
    the sort key alone), and no case is planned with a value nobody used."""
    sql = tmp_path / "status.sql"
    text = "SELECT id, created_at FROM messages WHERE status = '{}' ORDER BY created_at DESC LIMIT 20;\n"
    sql.write_text(text.format("sent") * 95 + text.format("error") * 5)
    found = recs(advise(crm, sql))
    partial = [f for f in found.values() if f.evidence["predicate"]]
    assert [f.evidence["predicate"] for f in partial] == ['"status" = \'error\'']
    (q,) = partial[0].evidence["queries"]
    assert "'error'" in q["bound_query"] and q["parameters"] == "literal"
    bound = {q["bound_query"] for f in found.values() for q in f.evidence["queries"]}
    assert all("'error'" in b or "'sent'" in b for b in bound)
    # The common case is a bystander of the partial index: verify measures it too (do no harm).
    assert ["'sent'" in b["bound_query"] for b in partial[0].evidence["bystanders"]] == [True]


def run_as_application(db: Database, statements: Sequence[tuple[str, tuple[object, ...]]]) -> None:
    """The statements sent with bound parameters, as a driver does: pg_stat_statements keeps $n."""
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        for sql, params in statements:
            conn.execute(sql, params)


def test_unknown_values_of_a_skewed_column_are_costed_both_ways(crm: Database) -> None:
    """pg_stat_statements keeps ``status = $1``: which status the application asks for is unknown, so the
    statement is planned under the common value and under the rare one, and the evidence says so."""
    page = "SELECT id, created_at FROM messages WHERE status = %s ORDER BY created_at DESC LIMIT 20"
    run_as_application(crm, [(page, ("sent",))] * 20 + [(page, ("error",))] * 20)
    report = analyze(crm.dsn, AnalyzeOptions(only=("missing_index",)))
    labels = {q["parameters"] for f in recs(report).values() for q in f.evidence["queries"]}
    assert "assumed rare value 'error'" in labels, labels
    assert not [s for s in report.skipped if "status" in s.reason]


def test_sort_limit_pages_get_the_equality_then_sort_composite(crm: Database) -> None:
    """``WHERE channel_id = $1 ORDER BY created_at DESC LIMIT 50`` needs (channel_id, created_at DESC),
    not (created_at); beside an existing (customer_id) index, ``customer_id = $1 ORDER BY created_at DESC
    LIMIT $2`` needs (customer_id, created_at DESC), which makes the one-column index redundant."""
    channel = "SELECT id, body FROM messages WHERE channel_id = %s ORDER BY created_at DESC LIMIT 50"
    recent = "SELECT id, model FROM llm_calls WHERE customer_id = %s ORDER BY created_at DESC LIMIT %s"
    run_as_application(crm, [(channel, (i,)) for i in range(40)] + [(recent, (i, 20)) for i in range(40)])
    found = recs(analyze(crm.dsn, AnalyzeOptions(only=("missing_index",))))
    shapes = {(f.table, f.columns) for f in found.values()}
    assert ("public.messages", ("channel_id", "created_at")) in shapes, shapes
    assert ("public.llm_calls", ("customer_id", "created_at")) in shapes, shapes
    composite = next(f for f in found.values() if f.table == "public.llm_calls")
    assert composite.evidence["makes_redundant"] == ["public.llm_calls_customer_id_idx"]


@pytest.fixture
def qualstats(crm: Database) -> Iterator[Database]:
    """pg_qualstats installed in the database (the test cluster preloads it where Debian's package is)."""
    if "pg_qualstats" not in crm.cluster.available_extensions():
        pytest.skip("pg_qualstats is not installed here (Debian: postgresql-15-pg-qualstats)")
    crm.execute("CREATE EXTENSION IF NOT EXISTS pg_qualstats")
    yield crm
    crm.execute("DROP EXTENSION pg_qualstats")


def test_pg_qualstats_gives_the_values_the_application_used(qualstats: Database) -> None:
    """With pg_qualstats, the statuses the application asked for are known: 'error' 30 times, 'sent' 10;
    each is planned with its weight, labelled with the source of the value, and the rare one gets its
    partial index, as when the values came from a log."""
    page = "SELECT id, created_at FROM messages WHERE status = %s ORDER BY created_at DESC LIMIT 20"
    with psycopg.connect(qualstats.dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_qualstats_reset()")
    run_as_application(qualstats, [(page, ("error",))] * 30 + [(page, ("sent",))] * 10)
    report = analyze(qualstats.dsn, AnalyzeOptions(only=("missing_index",)))
    found = recs(report)
    cases = {q["bound_query"]: q["parameters"] for f in found.values() for q in f.evidence["queries"]}
    assert any("'error'" in b for b in cases), cases
    assert set(cases.values()) == {"pg_qualstats"}, cases
    partial = [f for f in found.values() if f.evidence["predicate"]]
    assert [f.evidence["predicate"] for f in partial] == ['"status" = \'error\''], [f.sql for f in found.values()]


def test_a_per_row_lookup_loop_is_n_plus_one_and_a_popular_lookup_is_not(crm: Database) -> None:
    """A page of 50 messages, then each message's author looked up one by one (an ORM's lazy load):
    n_plus_one names the pair. The e-mail lookup, called as often but after no statement whose rows it
    tracks, is popular, not N+1."""
    page = "SELECT id, user_id FROM messages WHERE channel_id = %s ORDER BY created_at DESC LIMIT 50"
    author = "SELECT email FROM users WHERE id = %s"
    by_email = "SELECT plan FROM users WHERE email = %s"
    statements: list[tuple[str, tuple[object, ...]]] = []
    with psycopg.connect(crm.dsn) as conn:
        for channel in range(12):
            statements.append((page, (channel,)))
            for _, user_id in conn.execute(page, (channel,)).fetchall():
                statements.append((author, (user_id,)))
    statements += [(by_email, (f"u{i}@x.io",)) for i in range(1, 700)]
    run_as_application(crm, statements)
    report = crm.analyze(only=("n_plus_one",))
    found = [f for f in report.findings if f.check == "n_plus_one"]
    (f,) = found
    assert f.id == "n_plus_one:public.users.id" and f.columns == ("id",)
    assert f.evidence["lookup"]["calls"] == 600 and f.evidence["follows"]["rows"] == 600
    assert "channel_id" in f.evidence["follows"]["query"] and f.evidence["lookups_per_call"] == 50
    assert "= ANY($1)" in f.detail and "selectinload" in f.detail


def test_a_json_key_normalized_away_is_found_in_a_sample_of_the_column(crm: Database) -> None:
    """A driver binding ``payload->>$1 = $2`` leaves pg_stat_statements (and pg_qualstats) no key. A
    bounded sample of the column has two keys in every row; one row per call fits only the key whose
    values are unique, so that key's expression index is recommended, labelled, and the other key's not."""
    lookup = "SELECT id FROM llm_calls WHERE payload->>%s = %s"
    run_as_application(crm, [(lookup, ("externalId", f"X{i * 37}")) for i in range(40)])
    found = recs(analyze(crm.dsn, AnalyzeOptions(only=("missing_index",))))
    expression = [f for f in found.values() if f.columns and "externalId" in f.columns[0]]
    assert expression, [f.sql for f in found.values()]
    labels = {q["parameters"] for q in expression[0].evidence["queries"]}
    assert labels == {"key implied by rows per call 'externalId' (sampled)"}, labels
    assert not any("'$1'" in (f.sql or "") or "tokens" in (f.sql or "") for f in found.values())


def test_rows_per_call_imply_the_value_normalized_away(crm: Database) -> None:
    """``status = $1`` returning about 400 rows a call on a table where 'error' is 0.2% of 200,000 rows:
    the value is 'error', and the statement is planned with it (no LIMIT hides the count)."""
    errors = "SELECT id, created_at FROM messages WHERE status = %s"
    run_as_application(crm, [(errors, ("error",))] * 20)
    found = recs(analyze(crm.dsn, AnalyzeOptions(only=("missing_index",))))
    labels = {q["parameters"] for f in found.values() for q in f.evidence["queries"]}
    assert labels == {"value implied by rows per call 'error'"}, labels
    predicates = [f.evidence["predicate"] for f in found.values()]
    assert '"status" = \'error\'' in predicates, predicates


def test_a_short_activity_sample_gives_inline_constants(crm: Database) -> None:
    """An application sending values inline (the simple protocol): pg_stat_statements keeps
    ``status = $1``, but the running texts in pg_stat_activity carry 'error'; ``--sample-activity`` reads
    them and the statement is planned with that value, labelled pg_stat_activity."""
    import threading

    from psycopg import ClientCursor

    scan = "SELECT id FROM messages WHERE status = %s AND length(body) > 1 ORDER BY created_at DESC LIMIT 5000"
    with psycopg.connect(crm.dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    stop = threading.Event()

    def application() -> None:
        with psycopg.connect(crm.dsn, autocommit=True, cursor_factory=ClientCursor) as conn:
            while not stop.is_set():
                conn.execute(scan, ("error",))

    worker = threading.Thread(target=application)
    worker.start()
    try:
        report = analyze(crm.dsn, AnalyzeOptions(only=("missing_index",), sample_activity=1.5))
    finally:
        stop.set()
        worker.join()
    sampled = [s.reason for s in report.skipped if "pg_stat_activity sampled" in s.reason]
    matched = re.search(r"(\d+) with values matched", sampled[0]) if sampled else None
    assert matched and int(matched.group(1)) > 0, sampled
    cases = {q["bound_query"]: q["parameters"] for f in recs(report).values() for q in f.evidence["queries"]}
    assert any("'error'" in (b or "") and label == "pg_stat_activity" for b, label in cases.items()), cases


def log_line(second: float, pid: int, sql: str) -> str:
    whole, frac = divmod(second, 1)
    return (f"2026-12-01 10:{int(whole) // 60:02d}:{int(whole) % 60:02d}.{int(frac * 1000):03d} UTC [{pid}] "
            f"LOG:  duration: 0.100 ms  statement: {sql}")


def test_a_loop_in_a_logged_session_is_n_plus_one(crm: Database, tmp_path: Path) -> None:
    """In a statement log, one session loads a page of messages, then each author one by one; several
    pages so. The same author lookup from many sessions, one at a time, is only popular."""
    ids = users(400)
    lines, t = [], 0.0
    for page in range(6):
        t += 1
        lines.append(log_line(t, 4242, "SELECT id, user_id FROM messages WHERE channel_id = "
                                       f"{page} ORDER BY created_at DESC LIMIT 20"))
        for i in range(20):
            t += 0.001
            lines.append(log_line(t, 4242, f"SELECT email FROM users WHERE id = '{ids[page * 20 + i]}'"))
    for i in range(300):  # popular: one lookup per session, after various statements
        t += 0.01
        lines.append(log_line(t, 5000 + i, "SELECT id FROM messages WHERE channel_id = 1 LIMIT 1"))
        lines.append(log_line(t + 0.001, 5000 + i, f"SELECT plan FROM users WHERE email = 'u{i}@x.io'"))
    log = tmp_path / "postgresql.log"
    log.write_text("\n".join(lines) + "\n")
    report = analyze(crm.dsn, AnalyzeOptions(only=("n_plus_one",), workload=(log,)))
    found = [f for f in report.findings if f.check == "n_plus_one"]
    assert [f.id for f in found] == ["n_plus_one:public.users.id"], [f.id for f in found]
    (f,) = found
    assert f.evidence["bursts"] == 6 and f.evidence["longest_burst"] == 20 and f.evidence["repeats"] == 120
    assert "channel_id" in f.evidence["follows"]["query"] and f.evidence["seen_in"] == "log sessions"


def test_the_application_set_is_measured_by_verify(crm: Database) -> None:
    """The whole application workload through pg_stat_statements (time window, JSON key, rare value,
    sort-limit pages): nothing skipped, and verify measures each recommendation on a scratch copy, the
    statements it helps and its bystanders, with real values."""
    from dbadvisor.verify.run import VerifyOptions, verify

    ids = users(200)
    run_as_application(crm, [
        *[("SELECT id, body FROM messages WHERE user_id = %s ORDER BY created_at DESC LIMIT 20", (u,)) for u in ids],
        *[("SELECT id, body FROM messages WHERE channel_id = %s ORDER BY created_at DESC LIMIT 50", (c,))
          for c in range(60)],
        *[("SELECT id FROM messages WHERE status = %s ORDER BY created_at DESC LIMIT 20", ("error",))] * 30,
        *[("SELECT id FROM llm_calls WHERE payload->>'externalId' = %s", (f"X{i * 13}",)) for i in range(60)],
        *[("SELECT count(*) FROM llm_calls WHERE created_at > now() - interval '2 days' AND model = %s",
           ("large",))] * 10,
    ])
    report = analyze(crm.dsn, AnalyzeOptions(only=("missing_index",)))
    assert not [s for s in report.skipped if "statement skipped" in s.reason], report.skipped
    found = recs(report)
    shapes = {(f.table, f.columns) for f in found.values()}
    assert {("public.messages", ("channel_id", "created_at")),
            ("public.llm_calls", ("(payload ->> 'externalId')",))} <= shapes, shapes
    assert any(t == "public.messages" and cols[0] == "user_id" for t, cols in shapes)  # 40 rows a user: either
    assert any(f.evidence["predicate"] == '"status" = \'error\'' for f in found.values())
    scratch = crm.cluster.create_database("crm_scratch", extensions=())
    result = verify(crm.dsn, scratch, report, VerifyOptions(runs=3, sample_rows=200_000))
    verdicts = {f.index: f.evidence["verification"]["verdict"] for f in result.report.findings
                if f.check == "missing_index" and "verification" in f.evidence}
    needed = [i for i in verdicts if "channel_id_created_at" in (i or "") or "externalId" in (i or "")
              or "where_status_error" in (i or "")]
    details = {f.index: f.detail[-400:] for f in result.report.findings if f.check == "missing_index"}
    assert len(needed) == 3 and all(verdicts[i] == "confirmed" for i in needed), (verdicts, details)
    measured = [f for f in result.report.findings if f.check == "missing_index"]
    assert all("bystanders_measured" in (f.estimate.figures if f.estimate else {}) for f in measured)
