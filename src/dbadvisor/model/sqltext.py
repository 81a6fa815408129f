"""Validation of the SQL fragments an operation carries as text (index expressions, predicates, the
definition a drop keeps to rebuild the index).

A report is data a person may edit, so an operation read back from one must not smuggle a statement in
through its one free-text field: a fragment is accepted only when it is a single expression (or, for a
definition, a single CREATE INDEX statement) with no statement separator, no comment and no subquery.
PostgreSQL adds its own guard on top (index expressions and predicates must be immutable), but we do not
lean on it.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import TokenType, exp
from sqlglot.errors import SqlglotError

NAMEDATALEN = 63  # PostgreSQL truncates identifiers longer than this many bytes
# pg_get_indexdef's form, or SQLite's (the CREATE INDEX text as written, its whitespace collapsed).
_DEFINITION = re.compile(r'^CREATE (UNIQUE )?INDEX (IF NOT EXISTS )?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$.]*) '
                         r'ON (ONLY )?\S', re.IGNORECASE)
_WORD = re.compile(r"^[a-z_][a-z0-9_]*$")
_QUALIFIED_WORD = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


class FragmentError(ValueError):
    """A field of an operation is not what its schema allows."""


def identifier(value: object, what: str) -> str:
    """A name: any text PostgreSQL keeps as it is (it is always quoted when rendered)."""
    if not isinstance(value, str) or not value or "\x00" in value:
        raise FragmentError(f"{what} must be a non-empty name")
    if len(value.encode()) > NAMEDATALEN:
        raise FragmentError(f"{what} is longer than PostgreSQL's {NAMEDATALEN}-byte limit")
    return value


def word(value: object, what: str, qualified: bool = False) -> str:
    """A bare lower-case keyword (an opclass, a storage parameter): rendered unquoted, so it must be one."""
    pattern = _QUALIFIED_WORD if qualified else _WORD
    if not isinstance(value, str) or not pattern.match(value):
        raise FragmentError(f"{what} must be a lower-case word, not {value!r}")
    return value


def _tokens_are_one_piece(text: str, what: str) -> None:
    try:
        tokens = sqlglot.tokenize(text, read="postgres")
    except SqlglotError as exc:
        raise FragmentError(f"{what} cannot be read as SQL: {str(exc).splitlines()[0]}") from None
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            raise FragmentError(f"{what} holds a statement separator")
        if token.comments:
            raise FragmentError(f"{what} holds a comment")


def expression(value: object, what: str, subqueries: bool = False) -> str:
    """One SQL expression (an index key or predicate): no separator, no comment, and no subquery unless
    ``subqueries`` (a policy's USING clause may hold ``(SELECT auth.uid())``, the very fix for it)."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise FragmentError(f"{what} must be a non-empty SQL expression")
    _tokens_are_one_piece(value, what)
    try:
        tree = sqlglot.parse_one(f"SELECT 1 WHERE ({value})", read="postgres")
    except SqlglotError as exc:
        raise FragmentError(f"{what} is not an SQL expression: {str(exc).splitlines()[0]}") from None
    forbidden: tuple[type[exp.Expression], ...] = (exp.Command,) if subqueries else (exp.Select, exp.Subquery,
                                                                                     exp.Command)
    if not isinstance(tree, exp.Select) or any(
            isinstance(node, forbidden) for node in tree.find_all(exp.Expression) if node is not tree):
        raise FragmentError(f"{what} must be a plain expression (no subquery or statement)")
    return value


def index_definition(value: object, what: str) -> str:
    """One ``CREATE [UNIQUE] INDEX name ON table ...`` statement, as pg_get_indexdef prints it."""
    if not isinstance(value, str) or not _DEFINITION.match(value) or "\x00" in value:
        raise FragmentError(f"{what} must be a CREATE INDEX statement as pg_get_indexdef prints it")
    _tokens_are_one_piece(value, what)
    return value


_TYPE = re.compile(r"^[a-z][a-z0-9_ ]*(\([0-9, ]+\))?(\[\])?$")


def type_name(value: object, what: str) -> str:
    """A column type as format_type prints it (``bigint``, ``character varying(20)``, ``integer[]``)."""
    if not isinstance(value, str) or not _TYPE.match(value):
        raise FragmentError(f"{what} must be a type name, not {value!r}")
    return value


_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_NAMES = rf"{_NAME}(?:, {_NAME})*"
_ACTION = r"(?:CASCADE|RESTRICT|NO ACTION|SET NULL|SET DEFAULT)(?: \({_NAMES}\))?"
_FOREIGN_KEY = re.compile(
    rf"^FOREIGN KEY \({_NAMES}\) REFERENCES {_NAME}(?:\.{_NAME})?\({_NAMES}\)"
    rf"(?: MATCH (?:FULL|SIMPLE))?(?: ON UPDATE {_ACTION})?(?: ON DELETE {_ACTION})?"
    r"(?: DEFERRABLE(?: INITIALLY (?:DEFERRED|IMMEDIATE))?)?(?: NOT VALID)?$")


def foreign_key_definition(value: object, what: str) -> str:
    """A foreign key as pg_get_constraintdef prints it (``FOREIGN KEY (a) REFERENCES s.t(id) ON DELETE
    CASCADE``): names, keywords and nothing else."""
    if not isinstance(value, str) or not _FOREIGN_KEY.match(value):
        raise FragmentError(f"{what} must be a foreign key definition as the catalog prints it, not {value!r}")
    return value


def iso_date(value: object, what: str) -> str:
    """A calendar date, ``YYYY-MM-DD``."""
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        raise FragmentError(f"{what} must be a date like 2026-01-31, not {value!r}")
    return value
