"""Reading RLS policy expressions with sqlglot: which function calls run once per row, and which
columns a policy compares."""

from __future__ import annotations

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

DIALECT = "postgres"


def parse(expression: str | None) -> exp.Expr | None:
    if not expression:
        return None
    try:
        return parse_one(expression, read=DIALECT).unnest()  # pg_policies wraps expressions in parens
    except SqlglotError:
        return None


def _in_subquery(node: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Subquery | exp.Select):
            return True
        parent = parent.parent
    return False


def per_row_calls(tree: exp.Expr) -> list[exp.Expr]:
    """Calls of user-defined or settings functions that do not depend on the row and are not already
    wrapped in a sub-select: PostgreSQL evaluates them for every row the policy filters."""
    calls: list[exp.Expr] = []
    for fn in tree.find_all(exp.Anonymous):
        node: exp.Expr = fn.parent if isinstance(fn.parent, exp.Dot) else fn  # schema.f()
        if _in_subquery(node) or node.find(exp.Column) is not None:
            continue
        calls.append(node)
    return calls


def wrap_calls(tree: exp.Expr) -> str | None:
    """The expression with each per-row call wrapped as ``(SELECT f())``, evaluated once per query."""
    calls = per_row_calls(tree)
    if not calls:
        return None
    new = tree.copy()
    for node in per_row_calls(new):
        node.replace(exp.Subquery(this=exp.select(node.copy())))
    return render(new)


def render(node: exp.Expr) -> str:
    """SQL text for a node, keeping function names as the user wrote them."""
    return node.sql(dialect=DIALECT, normalize_functions=False)


def compared_columns(tree: exp.Expr) -> list[str]:
    """Columns of the policy's own table compared with =, IN, or a range operator, outside sub-selects."""
    out: list[str] = []
    for op in tree.find_all(exp.EQ, exp.In, exp.GT, exp.GTE, exp.LT, exp.LTE):
        if _in_subquery(op):
            continue
        for side in (op.this, op.args.get("expression")):
            if isinstance(side, exp.Column) and not side.table and side.name not in out:
                out.append(side.name)
    return out
