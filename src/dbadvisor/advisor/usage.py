"""What a statement asks of each table, read with sqlglot: the columns it filters by equality, range or
IN, joins on, sorts and groups by, reads, and the expressions and constants it filters with.

Only syntax is read here; whether an index helps is the planner's call (see ``whatif``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

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
    contained: dict[str, str] = field(default_factory=dict)  # col @> 'literal': the literal's text
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
    aggregate: bool = False  # count(), sum()...: its rows per call do not count the rows it filters


def _resolve(table: exp.Table, snapshot: Snapshot, search_path: tuple[str, ...]) -> TableKey | None:
    name = table.name
    if table.db:
        key = (table.db, name)
        return key if snapshot.table(key) else None
    for schema in search_path:
        if snapshot.table((schema, name)):
            return (schema, name)
    return None


def analyze(sql: str, snapshot: Snapshot, search_path: tuple[str, ...] = ("public",),
            dialect: str = DIALECT) -> StatementUsage:
    """What ``sql`` (in sqlglot's ``dialect``) asks of each table of ``snapshot``."""
    try:
        tree = parse_one(sql, read=dialect)
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

    scoped = _scoped_references(tree, snapshot, search_path)

    def refs(col: exp.Column) -> list[Ref]:
        """The table columns ``col`` stands for: through sqlglot's scopes (aliases, derived tables, CTEs,
        each UNION branch, correlated subqueries), else by alias or by the one table that has the name."""
        if scoped is not None and id(col) in scoped:
            return [Ref(instance, tables[key], name) for instance, key, name in scoped[id(col)] if key in tables]
        if col.table:
            key = aliases.get(col.table)
            return [Ref(id(tables[key]), tables[key], col.name)] if key in tables else []
        candidates = [u for u in tables.values() if snapshot.column(u.key, col.name)]
        return [Ref(id(candidates[0]), candidates[0], col.name)] if len(candidates) == 1 else []

    def joined(a: exp.Expr | None, b: exp.Expr | None) -> bool:
        """Whether two columns are of different table instances (a self-join's two aliases count)."""
        if not isinstance(a, exp.Column) or not isinstance(b, exp.Column):
            return False
        ra, rb = refs(a), refs(b)
        return bool(ra and rb) and not {r.instance for r in ra} & {r.instance for r in rb}

    for col in tree.find_all(exp.Column):
        found = refs(col)
        for r in found:
            if snapshot.column(r.usage.key, r.column):
                r.usage.read.add(r.column)
        if not found and not col.table:  # ambiguous: every table that has the column may be read
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
            for r in refs(col):
                r.usage.tested.add(r.column)
    for pred in tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between,
                              exp.ArrayContainsAll, exp.Like, exp.ILike, exp.Is):
        left, right = pred.this, pred.args.get("expression")
        if isinstance(pred, exp.ArrayContainsAll) and isinstance(left, exp.Column):
            value = right.this if isinstance(right, exp.Cast) else right
            for r in refs(left):
                r.usage.add(r.usage.containment, r.column)
                if isinstance(value, exp.Literal) and value.is_string:
                    r.usage.contained.setdefault(r.column, value.this)
            continue
        if isinstance(pred, exp.Like | exp.ILike) and isinstance(left, exp.Column):
            pattern = right.this if isinstance(right, exp.Literal) else ""
            for r in refs(left):
                if str(pattern).startswith("%"):
                    r.usage.add(r.usage.contains_text, r.column)
                elif isinstance(pred, exp.Like):
                    r.usage.add(r.usage.range, r.column)  # prefix LIKE 'abc%' is a range on a C-collated B-tree
            continue
        if isinstance(pred, exp.NEQ | exp.Is):
            continue
        if joined(left, right):  # a join (a self-join too): either side may be probed
            assert isinstance(left, exp.Column) and isinstance(right, exp.Column)
            for r in [*refs(left), *refs(right)]:
                r.usage.add(r.usage.join, r.column)
            continue
        for a, b in ((left, right), (right, left)):
            if isinstance(a, exp.Column) and (found := refs(a)):
                for r in found:
                    tu = r.usage
                    if isinstance(b, exp.Column) and refs(b):  # the same instance on both sides: a filter
                        tu.add(tu.range, r.column)
                    elif isinstance(pred, exp.EQ | exp.In):
                        tu.add(tu.equality, r.column)
                        value = b.this if isinstance(b, exp.Cast) else b  # 'error'::text, as pg_qualstats has it
                        if isinstance(value, exp.Literal) and value.is_string:
                            tu.constants.setdefault(r.column, value.this)
                    else:
                        tu.add(tu.range, r.column)
                break
            if isinstance(a, exp.Lower | exp.Upper | exp.JSONExtractScalar) and isinstance(
                    a.this, exp.Column) and (found := refs(a.this)):
                key = a.args.get("expression")
                for r in found:
                    if isinstance(key, exp.Parameter) and key.name.isdigit():  # col ->> $1: the key is a value
                        json_keys.setdefault(int(key.name), (r.usage.key, r.column))
                        r.usage.tested.add(r.column)
                    else:
                        r.usage.add(r.usage.expressions, _expression_key(a, dialect))
                break

    params: dict[int, tuple[TableKey, str]] = {}
    for pred in tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between):
        sides = [pred.this, *(pred.args.get("expressions") or []),
                 *(pred.args.get(k) for k in ("expression", "low", "high") if pred.args.get(k) is not None)]
        cols = [c for c in sides if isinstance(c, exp.Column)]
        if len(cols) == 1 and (found := refs(cols[0])):
            for side in sides:
                node = side.this if isinstance(side, exp.Cast) else side
                if isinstance(node, exp.Parameter) and node.name.isdigit():
                    params.setdefault(int(node.name), (found[0].usage.key, found[0].column))

    if isinstance(tree, exp.Select):
        for ordered in (tree.args.get("order") or exp.Order()).expressions:
            if isinstance(ordered.this, exp.Column):
                for r in refs(ordered.this):
                    r.usage.order.append((r.column, bool(ordered.args.get("desc"))))
        group = tree.args.get("group")
        for g in group.expressions if group else []:
            if isinstance(g, exp.Column):
                for r in refs(g):
                    r.usage.add(r.usage.group, r.column)
    aggregate = isinstance(tree, exp.Select) and any(e.find(exp.AggFunc) for e in tree.selects)
    return StatementUsage(kind, tables, has_limit=tree.args.get("limit") is not None, params=params,
                          json_keys=json_keys, aggregate=aggregate)


@dataclass(frozen=True)
class Ref:
    """A column of one table instance: ``instance`` tells two aliases of one table apart (a self-join)."""

    instance: int
    usage: TableUsage
    column: str


def _scoped_references(tree: exp.Expr, snapshot: Snapshot,
                       search_path: tuple[str, ...]) -> dict[int, list[tuple[int, TableKey, str]]] | None:
    """Each column node's table columns, resolved through sqlglot's scopes: an alias of a derived table, a
    CTE or a UNION stands for the columns of the tables inside it (every branch's), a correlated column
    is looked up in the enclosing scopes. None when sqlglot cannot build the scopes."""
    try:
        scopes = traverse_scope(tree)
    except SqlglotError:
        return None

    def table_key(node: exp.Table) -> TableKey | None:
        return _resolve(node, snapshot, search_path)

    def outputs(scope: Scope) -> list[str]:
        return list(scope.expression.named_selects) if isinstance(scope.expression, exp.Query) else []

    def has(source: exp.Table | Scope, name: str) -> bool:
        if isinstance(source, exp.Table):
            key = table_key(source)
            return key is not None and snapshot.column(key, name) is not None
        return name in outputs(source)

    def through(source: exp.Table | Scope, name: str, depth: int) -> list[tuple[int, TableKey, str]]:
        if isinstance(source, exp.Table):
            key = table_key(source)
            return [(id(source), key, name)] if key is not None else []
        if source.set_operation_scopes:  # UNION / INTERSECT / EXCEPT: every branch supplies the column
            return [r for b in source.set_operation_scopes for r in through(b, name, depth + 1)]
        query = source.expression
        if depth > 20 or not isinstance(query, exp.Select):
            return []
        for projection in query.selects:
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            if projection.alias_or_name == name and isinstance(inner, exp.Column):
                return resolve(source, inner.table, inner.name, depth + 1)
        return []

    def resolve(scope: Scope | None, alias: str, name: str, depth: int = 0) -> list[tuple[int, TableKey, str]]:
        while scope is not None:
            if alias:
                if alias in scope.sources:
                    return through(scope.sources[alias], name, depth)
            else:
                matches = [src for src in scope.sources.values() if has(src, name)]
                if len(matches) == 1:
                    return through(matches[0], name, depth)
                if matches:
                    return []  # ambiguous
            scope = scope.parent
        return []

    out: dict[int, list[tuple[int, TableKey, str]]] = {}
    for scope in scopes:
        for col in scope.columns:
            if found := resolve(scope, col.table, col.name):
                out[id(col)] = found
    return out


def _expression_key(node: exp.Expr, dialect: str = DIALECT) -> str:
    """The expression as an index key: in PostgreSQL's own spelling; in SQLite's as the statement wrote it
    (SQLite uses an expression index only for the very expression it was built on)."""
    if dialect == "sqlite":
        return node.sql(dialect="sqlite", normalize_functions="lower")
    col = node.this.name
    quoted = exp.to_identifier(col).sql(dialect=DIALECT)
    if isinstance(node, exp.Lower):
        return f"lower({quoted})"
    if isinstance(node, exp.Upper):
        return f"upper({quoted})"
    path = node.args.get("expression")
    key = path.expressions[-1].this if isinstance(path, exp.JSONPath) else str(path)
    return f"({quoted} ->> {exp.Literal.string(key).sql(dialect=DIALECT)})"
