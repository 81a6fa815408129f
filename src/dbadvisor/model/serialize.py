"""The model's frozen dataclasses as JSON-ready data and back, guided by their type hints.

One generic pair of functions serves every model type (a snapshot, its capabilities), so a new field is
saved and read back without code written for it: ``to_data`` turns dataclasses into dicts, tuples and
frozensets into lists, enums into their values and datetimes into ISO text; ``from_data`` rebuilds the
typed object, field by field, from what the hints say. Unknown fields are refused, missing ones take
their defaults, so an older file still reads and a hand-edited one fails clearly.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin

T = TypeVar("T")


class ShapeError(ValueError):
    """Data that does not have the shape its type asks for."""


def to_data(value: Any) -> Any:
    """``value`` as plain JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(to_data(v) for v in value)
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_data(cls: type[T], data: Any, where: str = "") -> T:
    """Rebuild a ``cls`` (a dataclass) from ``to_data`` output; ``where`` names the place in errors."""
    value: T = _build(cls, data, where or cls.__name__)
    return value


def _build(tp: Any, data: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return data
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _build(option, data, where)
            except (ShapeError, TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ShapeError(errors[0] if errors else f"{where}: unexpected {data!r}")
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(data, list | tuple):
            raise ShapeError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        return tuple(_build(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True)))
    if origin in (frozenset, set):
        if not isinstance(data, list):
            raise ShapeError(f"{where}: expected a list")
        return frozenset(_build(get_args(tp)[0], v, where) for v in data)
    if origin in (Mapping, dict) or tp in (dict, Mapping):
        if not isinstance(data, dict):
            raise ShapeError(f"{where}: expected an object")
        args = get_args(tp) or (str, Any)
        return {str(k): _build(args[1], v, f"{where}.{k}") for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise ShapeError(f"{where}: expected an object for {tp.__name__}")
        hints = _hints(tp)
        known = {f.name for f in dataclasses.fields(tp) if f.init}
        extra = sorted(set(data) - known)
        if extra:
            raise ShapeError(f"{where}: unknown field(s) {', '.join(extra)}")
        return tp(**{k: _build(hints[k], v, f"{where}.{k}") for k, v in data.items()})
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if tp is datetime:
        if not isinstance(data, str):
            raise ShapeError(f"{where}: expected an ISO timestamp")
        return datetime.fromisoformat(data)
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ShapeError(f"{where}: expected a number")
        return float(data)
    if tp in (int, str, bool):
        if not isinstance(data, tp) or (tp is int and isinstance(data, bool)):
            raise ShapeError(f"{where}: expected {tp.__name__}, not {type(data).__name__}")
        return data
    raise ShapeError(f"{where}: cannot read a {tp!r}")
