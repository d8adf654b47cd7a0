"""Bringing the ANN index in line with the metadata and publishing a new index version.

The metadata database and the raw vector file are the truth; ``index.faiss`` is derived from them.
Publishing removes ids the database no longer has, adds the ones it lacks (or rebuilds when the
index type changes or cannot remove), writes the index aside and renames it into place, then
writes ``index_info.json`` with a higher generation, which is what a running service watches.

The new info records the checksums of what it publishes (:mod:`indexer.storage.checksums`). Before
that, the previous version's checksums are checked: an ``index.faiss`` that does not match (damaged,
or left by a run killed between the two renames) is rebuilt from the vectors, and damaged published
vectors stop the run, since no later run could repair them. An info of an older format is brought up
to date even when nothing else changed.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .. import ann
from ..errors import IndexCorruptError
from ..fault_points import fault_point
from ..sizes import default_index_memory
from . import checksums
from .folder import FAISS_FILE, VECTORS_FILE, IndexFolder, library_versions, medsearch_version
from .info import FORMAT_VERSION, IndexInfo
from .metadata_db import Store
from .vectors import VectorFile

#: rebuild an IVF-type index once the corpus has grown this much since its clustering was trained
IVF_RETRAIN_GROWTH = 4.0


def publish(
    folder: IndexFolder,
    store: Store,
    info: IndexInfo,
    requested_type: str | None = None,
    memory: int | None = None,
) -> IndexInfo:
    """Sync ``index.faiss`` with the store and write the new ``index_info.json``; return it.

    ``memory`` (bytes, default :func:`~indexer.sizes.default_index_memory`) bounds the index
    type ``auto`` picks and sizes a compressed code.
    """
    store.index_extra_fields()
    memory = default_index_memory() if memory is None else memory
    dim = info.dim
    vectors = folder.vector_file(dim)
    db_ids = store.ids()
    requested = requested_type or info.index_type_requested
    if requested == "auto" and info.index_type_requested != "auto":
        requested = info.index_type_requested  # keep an explicit earlier choice
    kind = ann.choose_index_type(requested, len(db_ids), dim, memory)
    vector_rows = int(db_ids.max()) if len(db_ids) else 0
    vectors_checksum = _vectors_checksum(vectors, info, vector_rows)
    current = _published_index(folder, info)
    trained_on = info.trained_count or 0
    have = current.ids() if current is not None else np.zeros(0, dtype=np.int64)
    gone = np.setdiff1d(have, db_ids)
    reuse = (
        current is not None
        and current.kind == kind
        and (current.supports_removal or len(gone) == 0)
        and not (
            current.list_count is not None and len(db_ids) > IVF_RETRAIN_GROWTH * max(trained_on, 1)
        )
    )
    if reuse and current is not None:
        index = current
        index.remove(gone)
        new_ids = np.setdiff1d(db_ids, have)
        index.add(new_ids, vectors.rows_of(new_ids))
        changed = len(new_ids) > 0 or len(have) != len(db_ids)
    else:
        index = ann.build(kind, dim, db_ids, vectors.rows_of(db_ids), memory=memory)
        trained_on = len(db_ids)
        changed = True
    changed = changed or not folder.faiss_path.is_file()
    if changed:
        faiss_checksum = ann.save(index, folder.faiss_path)
        fault_point("publish:after-faiss")
    else:
        faiss_checksum = info.checksums.get(FAISS_FILE) or checksums.path_checksum(
            folder.faiss_path
        )
    failed = store.failure_count()
    current_format = info.format_version == FORMAT_VERSION and FAISS_FILE in info.checksums
    if not changed and current_format and (len(db_ids), failed) == (info.count, info.failed):
        # nothing to publish: a new generation would make every running service reload
        return info
    info = dataclasses.replace(
        info,
        index_type=index.kind,
        index_type_requested=requested,
        search_param=index.search_param,
        rerank_factor=index.rerank_factor or None,
        trained_count=trained_on,
        count=len(db_ids),
        failed=failed,
        generation=info.generation + 1,
        updated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        versions=library_versions(),
        format_version=FORMAT_VERSION,
        written_by=medsearch_version(),
        checksums={FAISS_FILE: faiss_checksum, VECTORS_FILE: vectors_checksum},
        vector_rows=vector_rows,
    )
    folder.write_info(info)
    return info


def _published_index(folder: IndexFolder, info: IndexInfo) -> ann.AnnIndex | None:
    """The published ANN index to update, or None to build one (missing, or not as recorded)."""
    if not folder.faiss_path.is_file():
        return None
    try:
        return ann.load_published(folder, info)
    except IndexCorruptError:
        return None


def _vectors_checksum(vectors: VectorFile, info: IndexInfo, rows: int) -> str:
    """The checksum of the first ``rows`` rows of vectors.f16, once the rows the previous
    version published are found to match its checksum."""
    recorded = info.checksums.get(VECTORS_FILE)
    start = None
    if recorded is not None and info.vector_rows is not None:
        start = vectors.checked_digest(info.vector_rows, recorded)
    return vectors.digest(rows, start).checksum()
