"""The published files of a group field's vectors, in the index folder's ``groups/``.

Per field (``series_key``, ``case`` ...), named by a stem made from the field's name:

- ``STEM.json``: the field, each group's value, size, representative image and member digest,
  and the knobs of the ANN index;
- ``STEM.ids``: the groups' image ids one group after the other (int64, little-endian);
- ``STEM.f16``: the groups' unit mean vectors (float16), row ``g`` for group id ``g + 1``, the
  layout of ``vectors.f16``;
- ``STEM.faiss``: their ANN index, of the type the registry picks for the group count.

Each is written aside and renamed into place, and ``index_info.json`` records its checksum
under ``groups/NAME`` beside those of the main files: a service refuses a version whose group
files do not match, and ``medsearch verify --deep`` checks them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import ann
from ..errors import IndexCorruptError
from . import checksums
from .atomic import reporting_disk_full, write_atomic
from .checksums import content_checksum
from .folder import GROUPS_DIR, IndexFolder
from .group_vectors import GroupTable
from .info import IndexInfo
from .vectors import F16

_INT64 = np.dtype("<i8")


@dataclass(frozen=True)
class GroupFiles:
    """Where the files of one group field live."""

    folder: Path
    field: str

    @property
    def stem(self) -> str:
        readable = re.sub(r"[^A-Za-z0-9_.-]", "_", self.field)[:40]
        return f"{readable}-{hashlib.sha256(self.field.encode()).hexdigest()[:8]}"

    def name(self, suffix: str) -> str:
        """The file's name as ``index_info.json`` records its checksum (``groups/STEM.json``)."""
        return f"{GROUPS_DIR}/{self.stem}.{suffix}"

    def path(self, suffix: str) -> Path:
        return self.folder / self.name(suffix)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.name(suffix) for suffix in ("json", "ids", "f16", "faiss"))


@dataclass(frozen=True)
class PublishedGroups:
    """One field's published groups, ready to search."""

    table: GroupTable
    index: ann.AnnIndex


def table_bytes(table: GroupTable, index: ann.AnnIndex) -> dict[str, bytes]:
    """The content of the table, ids and vector files, by suffix."""
    described: dict[str, Any] = {
        "field": table.field,
        "values": table.values,
        "sizes": table.sizes.tolist(),
        "representatives": table.representatives.tolist(),
        "digests": table.digests,
        "index_type": index.kind,
        "search_param": index.search_param,
        "rerank_factor": index.rerank_factor,
    }
    return {
        "json": (json.dumps(described, sort_keys=True) + "\n").encode(),
        "ids": np.ascontiguousarray(table.members, dtype=_INT64).tobytes(),
        "f16": np.ascontiguousarray(table.vectors, dtype=F16).tobytes(),
    }


def write_groups(files: GroupFiles, contents: dict[str, bytes], index: ann.AnnIndex) -> None:
    """Write a field's files in place of the published ones (the index last)."""
    for suffix, content in contents.items():
        path = files.path(suffix)
        with reporting_disk_full(files.name(suffix)):
            write_atomic(path, content, durable=True, make_parents=True)
    ann.save(index, files.path("faiss"))


def load_groups(folder: IndexFolder, info: IndexInfo, field: str) -> PublishedGroups:
    """The published groups of ``field`` with their ANN index, every file checked against the
    checksum ``info`` records."""
    files = GroupFiles(folder.path, field)
    raw = {suffix: _checked_bytes(files, info, suffix) for suffix in ("json", "ids", "f16")}
    try:
        described = json.loads(raw["json"])
        sizes = np.asarray(described["sizes"], dtype=np.int64)
        vectors = np.frombuffer(raw["f16"], dtype=F16).reshape(len(sizes), info.dim)
        table = GroupTable(
            field=described["field"],
            values=list(described["values"]),
            members=np.frombuffer(raw["ids"], dtype=_INT64).astype(np.int64),
            sizes=sizes,
            representatives=np.asarray(described["representatives"], dtype=np.int64),
            digests=list(described["digests"]),
            vectors=vectors.astype(np.float32),
        )
        search_param, rerank_factor = int(described["search_param"]), described["rerank_factor"]
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{files.name('json')} cannot be read: {exc}") from exc
    index = ann.load(
        files.path("faiss"),
        search_param,
        info.checksums.get(files.name("faiss")),
        rerank_factor=int(rerank_factor),
    )
    if index.family.reranks:
        index.table = np.asarray(table.vectors, dtype=F16)
    return PublishedGroups(table, index)


def _checked_bytes(files: GroupFiles, info: IndexInfo, suffix: str) -> bytes:
    name = files.name(suffix)
    recorded = info.checksums.get(name)
    try:
        content = files.path(suffix).read_bytes()
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {name}: {exc.strerror}") from exc
    if recorded is not None and content_checksum(content) != recorded:
        raise IndexCorruptError(
            checksums.mismatch_message(name, "run `medsearch index` to rebuild it")
        )
    return content
