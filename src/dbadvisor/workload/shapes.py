"""Statement shapes: statements that differ only in their constants are one statement.

An application's log holds the same lookup thousands of times with a different key each time (an N+1
loop over users, a page per customer). Costed one by one they cost thousands of plans and each yields
its own partial index ``WHERE "userId" = '<that uuid>'``; as one shape they are one statement whose
weight is the sum and whose constants are a distribution, from which the advisor decides whether a
value is worth its own partial index (a rare status) or not (one key among thousands).

``shape`` replaces each constant with ``$n`` as pg_stat_statements does, by a single regular-expression
pass (fast enough for a log of 100,000 statements; no parse). It keeps what is not a value: quoted
names, positional ``ORDER BY 1`` / ``GROUP BY 2``, and comments are dropped from the key (sqlcommenter
tags differ per request). A list of constants ``IN (1, 2, 3)`` is one place, so lists of different
lengths are one shape. The constants are kept as raw SQL, so binding them back gives the original text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from dbadvisor.model.workload import Values

# Order matters: strings and names before words, comments before operators.
_TOKEN = re.compile(
    r"""(?P<string>(?:[eE](?='))?'(?:[^'\\]|''|\\.)*'|[bBxXnN]'(?:[^']|'')*')"""
    r"""|(?P<name>"(?:[^"]|"")*")"""
    r"""|(?P<comment>--[^\n]*|/\*.*?\*/)"""
    r"""|(?P<dollar>\$(?P<tag>[A-Za-z_]\w*)?\$.*?\$(?P=tag)?\$)"""
    r"""|(?P<param>\$\d+)"""
    r"""|(?P<number>(?<![\w.])(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)(?![\w.]))"""
    r"""|(?P<word>[A-Za-z_][\w$]*)"""
    r"""|(?P<space>\s+)"""
    r"""|(?P<other>.)""",
    re.S,
)
_BY_LIST_ENDS = {"limit", "offset", "having", "window", "union", "intersect", "except", "fetch", "for", "where",
                 "from", "returning", "on", "select"}
MAX_TRACKED = 200  # distinct values kept with their counts per place; beyond, only counted
MAX_DISTINCT = 100_000  # distinct values counted exactly per place; beyond, a lower bound
MAX_VARIANTS = 1_000  # whole constant lists counted, for the most frequent one


@dataclass(frozen=True)
class Shape:
    key: str  # the text with $1, $2, ... for its constants, whitespace collapsed, comments dropped
    constants: tuple[str, ...]  # raw SQL of each, in order

    def bind(self, constants: Sequence[str] | None = None) -> str:
        """The key with ``constants`` (default: its own) in place of ``$1, $2, ...``."""
        values = self.constants if constants is None else constants
        return bind(self.key, values)


def bind(key: str, constants: Sequence[str]) -> str:
    """``key`` with raw SQL ``constants`` in place of its ``$n`` (outside strings and names)."""
    def sub(m: re.Match[str]) -> str:
        if m.lastgroup == "param":
            n = int(m.group()[1:])
            return constants[n - 1] if 0 < n <= len(constants) else m.group()
        return m.group()

    return _TOKEN.sub(sub, key)


def parameters(sql: str) -> list[int]:
    """The numbers of ``sql``'s ``$n`` placeholders (outside strings, names and comments), in order."""
    return [int(m.group()[1:]) for m in _TOKEN.finditer(sql) if m.lastgroup == "param"]


def has_parameters(sql: str) -> bool:
    """Whether ``sql`` has ``$n`` placeholders (outside strings, names and comments)."""
    return bool(parameters(sql))


def canonical(sql: str) -> str:
    """``sql`` reduced to what two spellings of one statement share: every value (constant or ``$n``) is
    ``?``, words are lower case, spaces and comments are gone. A text sampled from pg_stat_activity and
    pg_stat_statements' normalized text of it have the same canonical form."""
    out = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup
        if kind in ("space", "comment"):
            continue
        out.append("?" if kind in ("string", "dollar", "number", "param") else m.group().lower())
    return " ".join(out)


def shape(sql: str) -> Shape:
    """``sql`` with its constants replaced by ``$n``. A text that has ``$n`` already (a prepared statement
    from a log) is its own shape: its values come from the log's parameters."""
    out: list[str] = []
    constants: list[str] = []
    has_params = False
    by_depth: int | None = None  # paren depth of the ORDER BY / GROUP BY list we are in, if any
    depth = 0
    last = ""  # the last significant token, lower-cased
    in_open: int | None = None  # index in ``out`` of the "(" after IN, while only constants follow

    def emit(text: str) -> None:
        out.append(text)

    for m in _TOKEN.finditer(sql):
        kind, text = m.lastgroup, m.group()
        if kind == "comment":
            if out and out[-1] != " ":
                emit(" ")
            continue
        if kind == "space":
            if out and out[-1] != " ":
                emit(" ")
            continue
        low = text.lower()
        if kind == "param":
            has_params = True
        if kind in ("string", "dollar") or (kind == "number" and not (by_depth == depth and last in ("by", ","))):
            constants.append(text)
            emit(f"${len(constants)}")
            last = "$"
            continue
        if kind == "word":
            if low == "by" and last in ("order", "group"):
                by_depth = depth
            elif by_depth is not None and low in _BY_LIST_ENDS and depth <= by_depth:
                by_depth = None
        elif text == "(":
            depth += 1
            in_open = len(out) if last == "in" else None
        elif text == ")":
            if in_open is not None:
                _collapse_in_list(out, constants, in_open)
            in_open = None
            depth -= 1
            if by_depth is not None and depth < by_depth:
                by_depth = None
        elif text == ";" and by_depth is not None:
            by_depth = None
        if in_open is not None and text not in ("(", ",") and kind != "param":
            in_open = None
        emit(text)
        last = low
    key = "".join(out).strip()
    if has_params:
        return Shape(" ".join(sql.split()), ())
    return Shape(key, tuple(constants))


def _collapse_in_list(out: list[str], constants: list[str], open_at: int) -> None:
    """``IN ($3, $4, $5)`` -> ``IN ($3)`` holding ``1, 2, 3``: one place whatever the list's length."""
    items = [t for t in out[open_at + 1:] if t not in (" ",)]
    params = [t for t in items if t != ","]
    if len(params) < 2 or not all(p.startswith("$") for p in params):
        return
    first = int(params[0][1:])
    joined = ", ".join(constants[first - 1:])
    del constants[first - 1:]
    constants.append(joined)
    del out[open_at + 1:]
    out.append(f"${first}")


@dataclass
class ShapeStats:
    """What one shape's occurrences had in common and where they differed, in bounded memory."""

    key: str
    first: str  # the first text seen: where a file or log line points
    places: list[Counter[str]] = field(default_factory=list)
    distinct: list[set[int]] = field(default_factory=list)
    overflow: list[int] = field(default_factory=list)  # occurrences of values not tracked by count
    variants: Counter[tuple[str, ...]] = field(default_factory=Counter)
    texts: int = 0

    def add(self, constants: Sequence[str], count: int = 1) -> None:
        self.texts += count
        while len(self.places) < len(constants):
            self.places.append(Counter())
            self.distinct.append(set())
            self.overflow.append(0)
        for i, value in enumerate(constants):
            counter = self.places[i]
            if value in counter or len(counter) < MAX_TRACKED:
                counter[value] += count
            else:
                self.overflow[i] += count
            if len(self.distinct[i]) < MAX_DISTINCT:
                self.distinct[i].add(hash(value))
        key = tuple(constants)
        if key in self.variants or len(self.variants) < MAX_VARIANTS:
            self.variants[key] += count

    @property
    def representative(self) -> tuple[str, ...]:
        """The most frequent list of constants (the first seen breaks ties)."""
        return self.variants.most_common(1)[0][0] if self.variants else ()

    def values(self) -> tuple[Values, ...]:
        return tuple(Values(tuple(c.most_common(20)), len(d), sum(c.values()) + o, position=i + 1)
                     for i, (c, d, o) in enumerate(zip(self.places, self.distinct, self.overflow, strict=True)))
