"""Frozen dataclasses read from and written to JSON objects, every field's type checked.

A record's fields are ``str``, ``int``, ``bool``, ``X | None``, ``Mapping[str, str]``,
``tuple[str, ...]`` (a JSON list of strings) or another such record; a field with a default may
be missing. A missing or ill-typed field raises :class:`~indexer.errors.IndexCorruptError` naming
the file (``source``) and the key. Written objects have their keys in sorted order and leave out
fields without a value (``None``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from .errors import IndexCorruptError

_Record = TypeVar("_Record")


def read_record(cls: type[_Record], data: object, source: str, prefix: str) -> _Record:
    """The record of type ``cls`` in ``data``; ``prefix`` leads each key in error messages."""
    if not isinstance(data, dict):
        what = f"{prefix.rstrip('.')!r} in {source}" if prefix else source
        raise IndexCorruptError(f"{what} is not a JSON object")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = prefix + spec.name
        if spec.name in data:
            values[spec.name] = checked_value(data[spec.name], hints[spec.name], source, key)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise IndexCorruptError(f"{source} lacks {key!r}")
    return cls(**values)


def checked_value(value: object, hint: Any, source: str, key: str) -> Any:
    """``value`` if it has the type ``hint`` (nested records are read); otherwise raise."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return read_record(hint, value, source, key + ".")
    origin = typing.get_origin(hint)
    if origin is types.UnionType:  # X | None
        if value is None:
            return None
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) is Mapping:
        if isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return dict(value)
        raise IndexCorruptError(f"{source}: {key!r} must map names to strings")
    if typing.get_origin(hint) is tuple:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise IndexCorruptError(f"{source}: {key!r} must be a list of strings")
    if isinstance(value, hint) and (hint is bool or not isinstance(value, bool)):
        return value
    expected = {int: "an integer", str: "a string", bool: "true or false"}[hint]
    raise IndexCorruptError(f"{source}: {key!r} must be {expected}, not {value!r}")


def write_record(record: object) -> dict[str, Any]:
    """The JSON object of ``record``: keys in sorted order, nested records written alike."""
    out: dict[str, Any] = {}
    for name in sorted(spec.name for spec in dataclasses.fields(record)):  # type: ignore[arg-type]
        value = getattr(record, name)
        if dataclasses.is_dataclass(value):
            value = write_record(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        if value is not None:
            out[name] = value
    return out
