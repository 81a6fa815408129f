"""Time windows in statements: how a statement bounds a table's time column.

``ts > now() - interval '7 days'`` reads a recent window, ``ts >= $1 AND ts < $2`` a bounded range,
``DELETE ... WHERE ts < now() - interval '30 days'`` expires rows by age, and a statement on the table
without any bound on the column reads across all of its history. pg_stat_statements shows the window as
``now() - $1::interval`` or ``interval $1``: the statement is still recognised, with the length unknown.
A partitioned table prunes to the partitions a bounded window touches; it cannot prune the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

from dbadvisor.model.timeseries import interval_days, normal_interval

_NOW = (exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.CurrentDatetime)
_NOW_NAMES = {"now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "localtimestamp"}
PRUNING = ("recent", "since", "range", "expire")


@dataclass(frozen=True)
class Window:
    """How one statement bounds the column: ``kind`` is recent (a lower bound relative to now), since
    (a lower bound given as a value), range (both bounds), expire (a DELETE of rows older than a bound),
    older (reads rows older than a bound), unbounded (no bound at all) or keyed (equality on a key
    column, no time bound). ``age`` is the bound's distance from now, as a bare interval, when written
    out."""

    kind: str
    statement: str  # select | delete | update | insert
    age: str | None = None

    @property
    def prunes(self) -> bool:
        return self.kind in PRUNING

    @property
    def age_days(self) -> float | None:
        return interval_days(self.age) if self.age else None


def window(sql: str, table: str, column: str, keys: tuple[str, ...] = ()) -> Window | None:
    """How ``sql`` bounds ``table.column``; None when the statement does not touch ``table`` (or cannot
    be read). ``keys``: the table's key columns, for telling keyed lookups apart."""
    tree = _parsed(sql)
    if tree is None:
        return None
    names = {t.alias_or_name for t in tree.find_all(exp.Table) if t.name == table}
    if not names:
        return None
    kinds: dict[type[exp.Expr], str] = {exp.Select: "select", exp.Delete: "delete", exp.Update: "update",
                                        exp.Insert: "insert"}
    kind = kinds.get(type(tree), "select")
    if kind == "insert" and not isinstance(tree.expression, exp.Select):
        return Window("insert", kind)
    lower: list[str | None] = []
    upper: list[str | None] = []
    for node in tree.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between):
        if isinstance(node, exp.Between):
            if _ours(node.this, names, column):
                lower.append(_age(node.args["low"]))
                upper.append(_age(node.args["high"]))
            continue
        left, right = node.this, node.expression
        if _ours(left, names, column):
            (lower if isinstance(node, exp.GT | exp.GTE) else upper).append(_age(right))
        elif _ours(right, names, column):
            (upper if isinstance(node, exp.GT | exp.GTE) else lower).append(_age(left))
    if lower and upper:
        return Window("range", kind, _shortest(lower))
    if lower:
        relative = [a for a in lower if a is not None and a != "?"]
        if relative or "?" in lower:
            return Window("recent", kind, _shortest(lower))
        return Window("since", kind)
    if upper:
        return Window("expire" if kind == "delete" else "older", kind, _shortest(upper))
    if keys and _keyed(tree, names, keys):
        return Window("keyed", kind)
    return Window("unbounded", kind)


@lru_cache(maxsize=4096)
def _parsed(sql: str) -> exp.Expr | None:
    """The statement's tree, parsed once: both time-series checks ask about every statement for every
    profiled table. Callers only read the tree."""
    try:
        return parse_one(sql, read="postgres")
    except (SqlglotError, ValueError):
        return None


def _ours(node: exp.Expr, names: set[str], column: str) -> bool:
    while isinstance(node, exp.Cast | exp.Paren):
        node = node.this
    return isinstance(node, exp.Column) and node.name == column and (not node.table or node.table in names)


def _age(node: exp.Expr) -> str | None:
    """``now() - X``: X as a bare interval ("?" when it is a parameter); None when the bound is not
    relative to now (a value, a parameter)."""
    if not isinstance(node, exp.Sub) or not _is_now(node.this):
        return "0 days" if _is_now(node) else None
    delta = node.expression
    text: str | None = None
    if isinstance(delta, exp.Interval):
        value, unit = delta.this, delta.args.get("unit")
        if isinstance(value, exp.Literal):
            text = f"{value.this} {unit.name.lower()}" if unit is not None else str(value.this)
    elif isinstance(delta, exp.Cast) and isinstance(delta.this, exp.Literal):
        text = str(delta.this.this)
    if text is None:
        return "?"
    try:
        return normal_interval(text)
    except ValueError:
        return "?"


def _is_now(node: exp.Expr) -> bool:
    if isinstance(node, _NOW):
        return True
    return isinstance(node, exp.Anonymous | exp.Func) and node.name.lower() in _NOW_NAMES


def _shortest(ages: list[str | None]) -> str | None:
    known = [a for a in ages if a not in (None, "?")]
    return min(known, key=interval_days) if known else None


def _keyed(tree: exp.Expr, names: set[str], keys: tuple[str, ...]) -> bool:
    for eq in tree.find_all(exp.EQ, exp.In):
        side = eq.this
        if isinstance(side, exp.Column) and side.name in keys and (not side.table or side.table in names):
            return True
    return False
