"""Bringing the group vectors in line with the metadata at each publication.

The group fields of an index are those recorded in ``index_info.json``, those named with
``--group-field``, and the DICOM keys (:data:`AUTOMATIC_GROUP_FIELDS`) as soon as some image
carries one; a field once a group field stays one. For each, the groups are computed from the
store's values and the stored vectors, reusing the published table for groups whose images did
not change (:mod:`indexer.storage.group_vectors`), and written only when some group changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from .. import ann
from ..errors import IndexCorruptError
from .folder import IndexFolder
from .group_files import (
    GroupFiles,
    PublishedGroups,
    content_checksum,
    load_groups,
    table_bytes,
    write_groups,
)
from .group_vectors import GroupTable, group_table
from .info import IndexInfo
from .metadata_db import Store
from .vectors import F16, VectorFile

#: fields that are group fields of an index as soon as an image carries them (DICOM series,
#: study and, with a pseudonym secret, patient keys)
AUTOMATIC_GROUP_FIELDS = ("series_key", "study_key", "patient_key")


def group_fields_of(info: IndexInfo, named: Iterable[str], store: Store) -> tuple[str, ...]:
    """The index's group fields: those recorded, those ``named``, and the automatic ones the
    images carry, in that order, each once."""
    present = set(store.filterable_fields())
    automatic = [field for field in AUTOMATIC_GROUP_FIELDS if field in present]
    return tuple(dict.fromkeys([*(info.group_fields or ()), *named, *automatic]))


def publish_groups(
    folder: IndexFolder,
    store: Store,
    info: IndexInfo,
    fields: tuple[str, ...],
    vectors: VectorFile,
    memory: int,
) -> dict[str, str]:
    """Write the group files of ``fields`` whose groups changed since ``info``'s version;
    the checksums of every group file of the new version, by name."""
    published: dict[str, str] = {}
    stored = vectors.memmap()  # mapped once, read a group at a time

    def read_vectors(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        return np.asarray(stored[ids - 1], dtype=np.float32)

    for field in fields:
        files = GroupFiles(folder.path, field)
        previous = _published(folder, info, field)
        ids, values = store.field_values(field)
        computed = group_table(
            field, ids, values, read_vectors, info.dim, previous.table if previous else None
        )
        # stored and searched as float16, as the images' vectors are
        table = dataclasses.replace(computed, vectors=_rounded(computed.vectors))
        if previous is not None and _same_groups(previous.table, table):
            published.update({name: info.checksums[name] for name in files.names})
            continue
        index = _group_index(table, info.dim, memory)
        contents = table_bytes(table, index)
        write_groups(files, contents, index)
        published.update({files.name(s): content_checksum(c) for s, c in contents.items()})
        published[files.name("faiss")] = content_checksum(files.path("faiss").read_bytes())
    return published


def _published(folder: IndexFolder, info: IndexInfo, field: str) -> PublishedGroups | None:
    """The groups ``info``'s version published for ``field``; None when it has none, or its
    files are damaged (then every group is computed again)."""
    files = GroupFiles(folder.path, field)
    if field not in (info.group_fields or ()) or any(n not in info.checksums for n in files.names):
        return None
    try:
        return load_groups(folder, info, field)
    except (IndexCorruptError, OSError):
        return None


def _same_groups(previous: GroupTable, table: GroupTable) -> bool:
    return previous.values == table.values and previous.digests == table.digests


def _group_index(table: GroupTable, dim: int, memory: int) -> ann.AnnIndex:
    """The ANN index of the groups' vectors (group ``g`` under id ``g + 1``), of the type
    ``auto`` picks for their count."""
    kind = ann.choose_index_type("auto", len(table), dim, memory)
    ids = np.arange(1, len(table) + 1, dtype=np.int64)
    rows = np.asarray(table.vectors, dtype=F16)
    return ann.build(kind, dim, ids, table.vectors, memory=memory, table=rows)


def _rounded(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.asarray(vectors, dtype=F16).astype(np.float32)
