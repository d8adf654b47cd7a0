"""Scanning a corpus folder for candidate files and reading a metadata sidecar.

A :class:`CorpusSource` is what the indexing pipeline reads: a list of :class:`CorpusFile` and the
bytes of each. :class:`FolderSource` is a folder; :mod:`indexer.sources.dicomweb` holds the PACS
one.

:func:`scan_corpus` lists every regular file under a folder in a stable order. It does not
filter by extension: the indexing pipeline sniffs each file's content.

:func:`load_metadata` reads a CSV/TSV (with header) or JSON Lines file that describes images
by their path relative to the corpus root, e.g. ``data/sample/metadata.csv``.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple, Protocol

from ..errors import InvalidRequestError, MetadataFileError
from ..records import MetadataValue

#: columns that name the file a metadata row describes, in order of preference
KEY_COLUMNS: tuple[str, ...] = ("path", "relpath", "file", "filename")

_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


class InstanceUIDs(NamedTuple):
    """What a DICOMweb service needs to retrieve an instance again."""

    study_uid: str
    series_uid: str
    sop_uid: str


@dataclass(frozen=True)
class CorpusFile:
    """One regular file found under the corpus root (or one instance in a PACS)."""

    path: Path  # absolute
    relpath: str  # relative to the corpus root, POSIX separators
    size: int
    mtime: float
    #: the instance's identifiers, for files listed by a DICOMweb service
    uids: InstanceUIDs | None = None


class CorpusSource(Protocol):
    """Where the images of an index come from."""

    #: recorded as the index's ``corpus_root``: a folder, or a DICOMweb base URL
    root: str

    def scan(self) -> list[CorpusFile]:
        """Every candidate file, in a stable order."""
        ...

    def read(self, file: CorpusFile) -> bytes:
        """The file's bytes; :class:`OSError` when this one file cannot be read."""
        ...


class FolderSource:
    """The files under a folder (see :func:`scan_corpus`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise InvalidRequestError(f"corpus folder {folder} does not exist")
        self.root = str(self.folder)

    def scan(self) -> list[CorpusFile]:
        return list(scan_corpus(self.folder))

    def read(self, file: CorpusFile) -> bytes:
        return file.path.read_bytes()


def scan_corpus(root: Path) -> Iterator[CorpusFile]:
    """Every regular file under ``root``, recursively, in sorted order (depth first).

    Hidden files and folders (name starting with ".") are skipped. Symbolic links to files
    are followed. A symbolic link to a folder outside the corpus is followed, and each real
    folder is entered once, so link cycles end; a link to a folder inside the corpus is not
    followed, as that folder is scanned where it really is. Folders that cannot be listed are
    skipped. A missing or unreadable ``root`` raises :class:`InvalidRequestError` at once,
    before the first file is yielded.
    """
    root = Path(root).absolute()
    if not root.exists():
        raise InvalidRequestError(f"corpus folder not found: {root}")
    if not root.is_dir():
        raise InvalidRequestError(f"corpus path is not a folder: {root}")
    try:
        entries = _sorted_entries(root)
    except OSError as exc:
        raise InvalidRequestError(f"corpus folder cannot be read: {root} ({exc.strerror})") from exc
    real_root = os.path.realpath(root)
    return _walk(root, entries, (), real_root, {real_root})


def _walk(
    folder: Path,
    entries: list[os.DirEntry[str]],
    parts: tuple[str, ...],
    real_root: str,
    visited: set[str],
) -> Iterator[CorpusFile]:
    for entry in entries:
        if entry.name.startswith("."):
            continue
        entry_parts = (*parts, entry.name)
        try:
            is_dir = entry.is_dir()  # follows symlinks
            is_file = not is_dir and entry.is_file()
        except OSError:
            continue
        if is_dir:
            real = os.path.realpath(entry.path)
            if entry.is_symlink() and _is_within(real, real_root):
                continue
            if real in visited:  # a link cycle, or a second link to a folder already scanned
                continue
            visited.add(real)
            try:
                children = _sorted_entries(Path(entry.path))
            except OSError:  # no permission, or vanished while scanning
                continue
            yield from _walk(Path(entry.path), children, entry_parts, real_root, visited)
        elif is_file:
            try:
                stat = entry.stat()  # follows symlinks
            except OSError:
                continue
            yield CorpusFile(
                path=folder / entry.name,
                relpath="/".join(entry_parts),
                size=stat.st_size,
                mtime=stat.st_mtime,
            )


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _sorted_entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as iterator:
        return sorted(iterator, key=lambda entry: entry.name)


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
