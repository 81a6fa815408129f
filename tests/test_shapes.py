"""Statement shapes (workload.shapes): constants become $n as pg_stat_statements does, what is not a
value stays, and binding the constants back gives the original text. Pure logic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbadvisor.workload import from_paths
from dbadvisor.workload.shapes import ShapeStats, canonical, has_parameters, shape


@pytest.mark.parametrize("sql,key,constants", [
    ("SELECT * FROM t WHERE a = 5 AND b = 'x''y'", "SELECT * FROM t WHERE a = $1 AND b = $2", ("5", "'x''y'")),
    ("SELECT a FROM t ORDER BY 1, 2 DESC LIMIT 10", "SELECT a FROM t ORDER BY 1, 2 DESC LIMIT $1", ("10",)),
    ("SELECT a, count(*) FROM t GROUP BY 1 HAVING count(*) > 3", "SELECT a, count(*) FROM t GROUP BY 1 HAVING "
     "count(*) > $1", ("3",)),
    ("SELECT * FROM t WHERE id IN (1,2, 3)", "SELECT * FROM t WHERE id IN ($1)", ("1, 2, 3",)),
    ("SELECT * FROM t WHERE ts > now() - interval '7 days'", "SELECT * FROM t WHERE ts > now() - interval $1",
     ("'7 days'",)),
    ('SELECT "a1" FROM "t2" WHERE x = 1 /* traceparent=00-abc */', 'SELECT "a1" FROM "t2" WHERE x = $1',
     ("1",)),
    ("SELECT * FROM t WHERE p->>'k' = 'v'", "SELECT * FROM t WHERE p->>$1 = $2", ("'k'", "'v'")),
    ("SELECT * FROM t WHERE id = $1 LIMIT 5", "SELECT * FROM t WHERE id = $1 LIMIT 5", ()),  # prepared: as is
])
def test_shape(sql: str, key: str, constants: tuple[str, ...]) -> None:
    found = shape(sql)
    assert (found.key, found.constants) == (key, constants)


@given(a=st.integers(0, 10**9), b=st.text(alphabet="abc' xyz%", max_size=12), n=st.integers(1, 5))
def test_binding_gives_back_the_text(a: int, b: str, n: int) -> None:
    quoted = "'" + b.replace("'", "''") + "'"
    sql = f"SELECT x FROM t WHERE a = {a} AND b = {quoted} AND c IN ({', '.join(map(str, range(n)))}) LIMIT 20"
    found = shape(sql)
    assert found.bind() == sql
    assert shape(found.bind()).key == found.key  # the same shape whatever the values


def test_spellings_of_one_statement_share_a_canonical_form() -> None:
    assert canonical("select * from t where a = $1") == canonical("SELECT *  FROM t WHERE a = 'x' -- c")
    assert has_parameters("SELECT $1") and not has_parameters("SELECT '$1'")


def test_a_distribution_in_bounded_memory() -> None:
    stats = ShapeStats("k", "first")
    for i in range(5000):
        stats.add((str(i % 3), f"'{i}'"))
    status, key = stats.values()
    assert status.distinct == 3 and status.seen == 5000 and key.distinct == 5000
    assert len(key.top) == 20 and key.seen == 5000


def test_a_log_of_many_texts_is_one_statement_per_shape(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "w.sql"
    path.write_text("".join(f"SELECT * FROM t WHERE id = {i};\n" for i in range(300))
                    + "-- weight: 7\nSELECT * FROM t WHERE id = 5;\n")
    (statement,) = from_paths([path]).statements
    assert statement.texts == 301 and statement.calls == 301 and statement.weight == 307
    assert statement.shape == "SELECT * FROM t WHERE id = $1" and statement.values_source == "literal"
