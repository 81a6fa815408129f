"""The one set of index-prefix rules (model.indexing) that the hygiene checks and the advisor share:
an existing index against another (redundant_index), a candidate against the existing ones (is it
served already? which ones does it make redundant?). Pure logic, no server."""

from __future__ import annotations

import pytest

from dbadvisor.advisor.candidates import Candidate, served_by_existing
from dbadvisor.advisor.results import made_redundant
from dbadvisor.checks.redundant_index import covers
from dbadvisor.model.catalog import Index, IndexKey
from dbadvisor.model.ddl import IndexColumn


def index(name: str, *keys: str | tuple[str, bool], include: tuple[str, ...] = (), where: str | None = None,
          unique: bool = False, method: str = "btree", valid: bool = True) -> Index:
    parsed = []
    for k in keys:
        label, desc = (k, False) if isinstance(k, str) else k
        column = None if "(" in label else label
        parsed.append(IndexKey(label, column, descending=desc, nulls_first=desc))
    return Index("public", name, "public", "t", method, tuple(parsed), f"CREATE INDEX {name} ...", include, where,
                 is_unique=unique, is_valid=valid)


def candidate(*keys: str | tuple[str, bool], include: tuple[str, ...] = (), where: str | None = None) -> Candidate:
    cols = []
    for k in keys:
        label, desc = (k, False) if isinstance(k, str) else k
        cols.append(IndexColumn(expression=label, descending=desc) if "(" in label
                    else IndexColumn(label, descending=desc))
    return Candidate("public", "t", tuple(cols), include, where)


@pytest.mark.parametrize("wide,narrow,expected", [
    (index("ab", "a", "b"), index("a", "a"), True),
    (index("ab", "a", "b"), index("b", "b"), False),  # not a leading prefix
    (index("ab", "a", "b"), index("a_desc", ("a", True)), False),  # another order
    (index("ab", "a", "b", where="b > 0"), index("a", "a"), False),  # another predicate
    (index("ab", "a", "b"), index("a_incl_b", "a", include=("b",)), True),  # b is a key of the wide one
    (index("ab", "a", "b"), index("a_incl_c", "a", include=("c",)), False),
    (index("ab", "a", "b"), index("ab2", "a", "b"), False),  # an exact duplicate is duplicate_index's
    (index("gin", "a", method="gin"), index("a", "a"), False),
])
def test_an_index_covering_another(wide: Index, narrow: Index, expected: bool) -> None:
    assert covers(wide, narrow) is expected


@pytest.mark.parametrize("existing,wanted,served", [
    (index("a", "a"), candidate("a"), True),
    (index("ab", "a", "b"), candidate("a"), True),  # a leading prefix of an existing index
    (index("a_desc", ("a", True)), candidate("a"), True),  # scanned backwards
    (index("ab", "a", ("b", True)), candidate("a", "b"), False),  # mixed directions: no backward scan gives it
    (index("a", "a"), candidate("a", ("created_at", True)), False),  # the sort-limit composite is not served
    (index("lower", "lower(email)"), candidate('lower("email")'), True),  # expression spellings agree
    (index("a", "a", valid=False), candidate("a"), False),  # an INVALID index serves nothing
    (index("a", "a"), candidate("a", where="b = 1"), False),
    (index("a_incl", "a", include=("b",)), candidate("a", include=("c",)), True),  # covering variants are not offered
])
def test_a_candidate_already_served(existing: Index, wanted: Candidate, served: bool) -> None:
    assert (served_by_existing(wanted, (existing,)) is not None) is served


def test_a_recommendation_names_the_indexes_it_makes_redundant() -> None:
    existing = (index("a", "a"), index("a_u", "a", unique=True), index("b", "b"), index("a_desc", ("a", True)),
                index("a_incl_z", "a", include=("z",)))
    assert made_redundant(candidate("a", ("created_at", True)), existing) == ["public.a"]
    assert made_redundant(candidate("a"), existing) == []  # the same keys are not "wider"
