"""Reading a metadata sidecar: a CSV/TSV (with header) or JSON Lines file that describes images
by their path relative to the corpus root, e.g. ``data/sample/metadata.csv``.

:func:`load_metadata` turns it into ``relpath -> {field: value}``; the indexing pipeline stores
those fields with the images they name.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import MetadataFileError
from ..records import MetadataValue

#: columns that name the file a metadata row describes, in order of preference
KEY_COLUMNS: tuple[str, ...] = ("path", "relpath", "file", "filename")

_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


def load_metadata(path: Path) -> dict[str, dict[str, MetadataValue]]:
    """Read a metadata sidecar: relpath -> {field: value}.

    ``.csv``/``.tsv`` files need a header row; ``.jsonl``/``.ndjson``/``.json`` files hold
    one JSON object per line. The key column is the first of :data:`KEY_COLUMNS` present; its
    value is normalised to a POSIX path relative to the corpus root. Field names are
    lower-cased, stripped, and spaces become "_". Empty values are dropped. CSV values stay
    strings; JSON scalars keep their type and nested values are stored as JSON text. Problems
    raise :class:`MetadataFileError` naming the line. A UTF-8 byte order mark is accepted.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _CSV_DELIMITERS and suffix not in _JSONL_SUFFIXES:
        raise MetadataFileError(
            f"{path.name}: unknown metadata file type {suffix or '(none)'!r}; "
            "use .csv, .tsv or .jsonl"
        )
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            if suffix in _CSV_DELIMITERS:
                rows = _read_csv(stream, _CSV_DELIMITERS[suffix])
            else:
                rows = _read_jsonl(stream)
            return _index_rows(rows)
    except MetadataFileError as exc:
        raise MetadataFileError(f"{path.name}: {exc.message}") from None
    except FileNotFoundError as exc:
        raise MetadataFileError(f"metadata file not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise MetadataFileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise MetadataFileError(f"{path.name}: cannot be read ({exc.strerror})") from exc


# A row is its line number, the raw value of its key column, and its other fields.
_Row = tuple[int, str, dict[str, MetadataValue]]


def _read_csv(stream: Iterable[str], delimiter: str) -> Iterator[_Row]:
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return
        names = [_field_name(name) for name in header]
        seen = [name for name in names if name]
        if len(seen) != len(set(seen)):
            duplicate = next(name for name in seen if seen.count(name) > 1)
            raise MetadataFileError(f"line 1: column {duplicate!r} appears twice")
        key_column = next((name for name in KEY_COLUMNS if name in names), None)
        if key_column is None:
            raise MetadataFileError(f"line 1: no file column (one of {', '.join(KEY_COLUMNS)})")
        line = reader.line_num
        for record in reader:
            start, line = line + 1, reader.line_num
            if not any(value.strip() for value in record):
                continue  # blank line
            if len(record) > len(names):
                raise MetadataFileError(
                    f"line {start}: {len(record)} values but the header has {len(names)} columns"
                )
            # a short row is fine: its missing trailing values are empty
            pairs = zip(names, record, strict=False)
            fields: dict[str, MetadataValue] = {
                name: value.strip() for name, value in pairs if name and value.strip()
            }
            key = fields.pop(key_column, None)
            if not isinstance(key, str):
                raise MetadataFileError(f"line {start}: empty {key_column!r}")
            yield start, key, fields
    except csv.Error as exc:
        raise MetadataFileError(f"line {reader.line_num}: {exc}") from exc


def _read_jsonl(stream: Iterable[str]) -> Iterator[_Row]:
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            raise MetadataFileError(f"line {number}: malformed JSON ({exc})") from exc
        if not isinstance(obj, dict):
            raise MetadataFileError(f"line {number}: expected a JSON object")
        fields: dict[str, MetadataValue] = {}
        for raw_name, raw_value in obj.items():
            name = _field_name(raw_name)
            if not name:
                continue
            if name in fields:
                raise MetadataFileError(f"line {number}: field {name!r} appears twice")
            value = _json_value(raw_value)
            if value is not None:
                fields[name] = value
        key_column = next((name for name in KEY_COLUMNS if name in fields), None)
        if key_column is None:
            raise MetadataFileError(
                f"line {number}: no file field (one of {', '.join(KEY_COLUMNS)})"
            )
        key = fields.pop(key_column)
        if not isinstance(key, str):
            raise MetadataFileError(f"line {number}: {key_column!r} must be a string")
        yield number, key, fields


def _index_rows(rows: Iterable[_Row]) -> dict[str, dict[str, MetadataValue]]:
    result: dict[str, dict[str, MetadataValue]] = {}
    first_line: dict[str, int] = {}
    for line, raw_key, fields in rows:
        key = _relative_key(raw_key, line)
        if key in result:
            raise MetadataFileError(
                f"line {line}: {key!r} is already described on line {first_line[key]}"
            )
        result[key] = fields
        first_line[key] = line
    return result


def _field_name(raw: str) -> str:
    return re.sub(r"\s+", "_", raw.strip().lower())


def _relative_key(raw: str, line: int) -> str:
    text = raw.strip().replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    if text.startswith("/"):
        raise MetadataFileError(f"line {line}: path {raw!r} must be relative to the corpus folder")
    parts = [part for part in PurePosixPath(text).parts if part != "."]
    if not parts:
        raise MetadataFileError(f"line {line}: empty path")
    if ".." in parts:
        raise MetadataFileError(f"line {line}: path {raw!r} leaves the corpus folder")
    return "/".join(parts)


def _json_value(value: Any) -> MetadataValue:
    """A JSON value as a metadata scalar; None for empty values (null, "", [], {})."""
    if value is None or (isinstance(value, (str, list, dict)) and not value):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")
