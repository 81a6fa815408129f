"""What a statement asks of each table, read with sqlglot: the columns it filters by equality, range or
IN, joins on, sorts and groups by, reads, and the expressions and constants it filters with.

Only syntax is read here; whether an index helps is the planner's call (see ``whatif``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

from dbadvisor.errors import DbAdvisorError
from dbadvisor.model.catalog import Snapshot, TableKey

DIALECT = "postgres"


class UnsupportedStatement(DbAdvisorError):
    """The statement cannot be parsed or planned."""


class NotUserWorkload(UnsupportedStatement):
    """The statement reads no user table (system catalogs only): nothing to index."""


@dataclass
class TableUsage:
    key: TableKey
    equality: list[str] = field(default_factory=list)  # col = x, col IN (...)
    range: list[str] = field(default_factory=list)  # col < x, BETWEEN, >=
    join: list[str] = field(default_factory=list)  # col = other_table.col
    order: list[tuple[str, bool]] = field(default_factory=list)  # (column, descending)
    group: list[str] = field(default_factory=list)
    read: set[str] = field(default_factory=set)  # every column of this table the statement touches
    expressions: list[str] = field(default_factory=list)  # lower(col), (col ->> 'k'): B-tree expression keys
    containment: list[str] = field(default_factory=list)  # jsonb col @> x
    contains_text: list[str] = field(default_factory=list)  # col LIKE '%x%'
    constants: dict[str, str] = field(default_factory=dict)  # col = 'literal'
    star: bool = False  # SELECT * / t.*
    tested: set[str] = field(default_factory=set)  # named in any predicate (IS NULL, <>, functions...)

    @property
    def searched(self) -> set[str]:
        """Columns an index may lead with for this statement: filtered, joined, sorted or grouped on."""
        return {*self.equality, *self.range, *self.join, *(c for c, _ in self.order), *self.group,
                *self.containment, *self.contains_text, *self.tested}

    def add(self, bucket: list[str], column: str) -> None:
        if column not in bucket:
            bucket.append(column)


@dataclass
class StatementUsage:
    kind: str  # select | insert | update | delete
    tables: dict[TableKey, TableUsage]
    has_limit: bool = False
    params: dict[int, tuple[TableKey, str]] = field(default_factory=dict)  # $n -> the column it is compared with
    json_keys: dict[int, tuple[TableKey, str]] = field(default_factory=dict)  # col ->> $n: $n -> that JSON column


def _resolve(table: exp.Table, snapshot: Snapshot, search_path: tuple[str, ...]) -> TableKey | None:
    name = table.name
    if table.db:
        key = (table.db, name)
        return key if snapshot.table(key) else None
    for schema in search_path:
        if snapshot.table((schema, name)):
            return (schema, name)
    return None


def analyze(sql: str, snapshot: Snapshot, search_path: tuple[str, ...] = ("public",)) -> StatementUsage:
    try:
        tree = parse_one(sql, read=DIALECT)
    except SqlglotError as exc:
        raise UnsupportedStatement(f"cannot parse: {str(exc).splitlines()[0][:200]}") from None
    if tree is None:
        raise UnsupportedStatement("empty statement")
    kind = {exp.Select: "select", exp.Union: "select", exp.Insert: "insert", exp.Update: "update",
            exp.Delete: "delete"}.get(type(tree))
    if kind is None:
        raise UnsupportedStatement(f"{type(tree).__name__} statements are not analyzed")

    aliases: dict[str, TableKey] = {}
    tables: dict[TableKey, TableUsage] = {}
    for t in tree.find_all(exp.Table):
        key = _resolve(t, snapshot, search_path)
        if key is None:
            continue
        tables.setdefault(key, TableUsage(key))
        aliases[t.alias_or_name] = key
        aliases.setdefault(t.name, key)
    if not tables:
        raise NotUserWorkload("names no table of the snapshot")

    def owner(col: exp.Column) -> TableUsage | None:
        if col.table:
            key = aliases.get(col.table)
            return tables.get(key) if key else None
        candidates = [u for u in tables.values() if snapshot.column(u.key, col.name)]
        return candidates[0] if len(candidates) == 1 else None

    for col in tree.find_all(exp.Column):
        u = owner(col)
        if u is not None and snapshot.column(u.key, col.name):
            u.read.add(col.name)
        elif u is None and not col.table:  # ambiguous: every table that has the column may be read
            for other in tables.values():
                if snapshot.column(other.key, col.name):
                    other.read.add(col.name)
    for star in tree.find_all(exp.Star):
        parent = star.parent
        if isinstance(parent, exp.Column) and parent.table and (k := aliases.get(parent.table)):
            tables[k].star = True
        elif isinstance(parent, exp.Select):
            for u in tables.values():
                u.star = True

    json_keys: dict[int, tuple[TableKey, str]] = {}
    # min()/max() read an index's end; the other clauses search the table.
    for clause in tree.find_all(exp.Where, exp.Having, exp.Join, exp.Order, exp.Group, exp.Min, exp.Max):
        for col in clause.find_all(exp.Column):
            if (u := owner(col)) is not None:
                u.tested.add(col.name)
    for pred in tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between,
                              exp.ArrayContainsAll, exp.Like, exp.ILike, exp.Is):
        left, right = pred.this, pred.args.get("expression")
        if isinstance(pred, exp.ArrayContainsAll) and isinstance(left, exp.Column):
            if (u := owner(left)) is not None:
                u.add(u.containment, left.name)
            continue
        if isinstance(pred, exp.Like | exp.ILike) and isinstance(left, exp.Column):
            pattern = right.this if isinstance(right, exp.Literal) else ""
            if (u := owner(left)) is not None and str(pattern).startswith("%"):
                u.add(u.contains_text, left.name)
            elif u is not None and isinstance(pred, exp.Like):
                u.add(u.range, left.name)  # prefix LIKE 'abc%' is a range on a C-collated B-tree
            continue
        if isinstance(pred, exp.NEQ | exp.Is):
            continue
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            lu, ru = owner(left), owner(right)
            if lu is not None and ru is not None and lu is not ru:  # a join: either side may be probed
                lu.add(lu.join, left.name)
                ru.add(ru.join, right.name)
                continue
        for a, b in ((left, right), (right, left)):
            if isinstance(a, exp.Column) and (u := owner(a)) is not None:
                if isinstance(b, exp.Column) and owner(b) is not None and owner(b) is not u:
                    u.add(u.join, a.name)
                elif isinstance(pred, exp.EQ | exp.In):
                    u.add(u.equality, a.name)
                    value = b.this if isinstance(b, exp.Cast) else b  # 'error'::text, as pg_qualstats gives it
                    if isinstance(value, exp.Literal) and value.is_string:
                        u.constants.setdefault(a.name, value.this)
                else:
                    u.add(u.range, a.name)
                break
            if isinstance(a, exp.Lower | exp.Upper | exp.JSONExtractScalar) and isinstance(
                    a.this, exp.Column) and (u := owner(a.this)) is not None:
                key = a.args.get("expression")
                if isinstance(key, exp.Parameter) and key.name.isdigit():  # col ->> $1: the key is a value
                    json_keys.setdefault(int(key.name), (u.key, a.this.name))
                    u.tested.add(a.this.name)
                else:
                    u.add(u.expressions, _expression_key(a))
                break

    params: dict[int, tuple[TableKey, str]] = {}
    for pred in tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between):
        sides = [pred.this, *(pred.args.get("expressions") or []),
                 *(pred.args.get(k) for k in ("expression", "low", "high") if pred.args.get(k) is not None)]
        cols = [c for c in sides if isinstance(c, exp.Column)]
        if len(cols) == 1 and (u := owner(cols[0])) is not None:
            for side in sides:
                node = side.this if isinstance(side, exp.Cast) else side
                if isinstance(node, exp.Parameter) and node.name.isdigit():
                    params.setdefault(int(node.name), (u.key, cols[0].name))

    if isinstance(tree, exp.Select):
        for ordered in (tree.args.get("order") or exp.Order()).expressions:
            if isinstance(ordered.this, exp.Column) and (u := owner(ordered.this)) is not None:
                u.order.append((ordered.this.name, bool(ordered.args.get("desc"))))
        group = tree.args.get("group")
        for g in group.expressions if group else []:
            if isinstance(g, exp.Column) and (u := owner(g)) is not None:
                u.add(u.group, g.name)
    return StatementUsage(kind, tables, has_limit=tree.args.get("limit") is not None, params=params,
                          json_keys=json_keys)


def _expression_key(node: exp.Expr) -> str:
    """The expression as an index key, in PostgreSQL's own spelling."""
    col = node.this.name
    quoted = exp.to_identifier(col).sql(dialect=DIALECT)
    if isinstance(node, exp.Lower):
        return f"lower({quoted})"
    if isinstance(node, exp.Upper):
        return f"upper({quoted})"
    path = node.args.get("expression")
    key = path.expressions[-1].this if isinstance(path, exp.JSONPath) else str(path)
    return f"({quoted} ->> {exp.Literal.string(key).sql(dialect=DIALECT)})"
