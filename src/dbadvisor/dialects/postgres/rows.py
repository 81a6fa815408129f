"""A psycopg row factory that maps catalog rows straight into the model's frozen dataclasses.

Column names must match field names. Values are converted by the field's declared type: arrays become
tuples, ``key=value`` arrays (reloptions) become mappings, strings become enums, and JSON objects become
nested dataclasses (an index's keys, a column's statistics).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

from psycopg.rows import RowFactory, RowMaker

T = TypeVar("T")

Converter = Callable[[Any], Any]


def typed_row(cls: type[T]) -> RowFactory[T]:
    """Row factory for ``cursor(row_factory=typed_row(Model))``."""

    def factory(cursor: Any) -> RowMaker[T]:
        names = [d.name for d in cursor.description or ()]
        fields = _field_converters(cls)  # type: ignore[arg-type]
        unknown = [n for n in names if n not in fields]
        if unknown:
            raise TypeError(f"query columns {unknown} are not fields of {cls.__name__}")
        convs = [(name, fields[name]) for name in names]

        def make(values: Sequence[Any]) -> T:
            return cls(**{name: conv(v) for (name, conv), v in zip(convs, values, strict=True)})

        return make

    return factory


def build(cls: type[T], values: Mapping[str, Any]) -> T:
    """Build a model object from a mapping, with the same conversions as ``typed_row``."""
    fields = _field_converters(cls)  # type: ignore[arg-type]
    return cls(**{k: fields[k](v) for k, v in values.items()})


@cache
def _field_converters(cls: type) -> dict[str, Converter]:
    hints = typing.get_type_hints(cls)
    return {f.name: _converter(hints[f.name]) for f in dataclasses.fields(cls)}


def _converter(tp: Any) -> Converter:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        conv = _converter(inner[0]) if len(inner) == 1 else _identity
        return lambda v: None if v is None else conv(v)
    if origin is tuple:
        elem = _converter(args[0]) if args else _identity
        return lambda v: () if v is None else tuple(elem(x) for x in v)
    if origin in (Mapping, dict) or tp is Mapping:
        return _mapping
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return lambda v: v if isinstance(v, tp) else tp(v)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return lambda v: v if isinstance(v, tp) else build(tp, v)
    if tp is int:
        return lambda v: v if v is None else int(v)
    if tp is float:
        return lambda v: v if v is None else float(v)
    return _identity


def _identity(v: Any) -> Any:
    return v


def _mapping(v: Any) -> Mapping[str, str]:
    if v is None:
        return {}
    if isinstance(v, Mapping):
        return dict(v)
    out: dict[str, str] = {}
    for item in v:  # PostgreSQL option arrays: {"fillfactor=70", "autovacuum_enabled=false"}
        key, _, value = str(item).partition("=")
        out[key] = value
    return out
