"""Bringing the ANN index in line with the metadata and publishing a new index version.

The metadata database and the raw vector file are the truth; ``index.faiss`` is derived from them.
Publishing removes ids the database no longer has, adds the ones it lacks (or rebuilds when the
index type changes or cannot remove), writes the index aside and renames it into place, then
writes ``index_info.json`` with a higher generation, which is what a running service watches.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from . import ann
from .index_folder import IndexFolder, library_versions
from .index_info import IndexInfo
from .store import Store

#: rebuild an IVF index once the corpus has grown this much since its clustering was trained
IVF_RETRAIN_GROWTH = 4.0


def publish(
    folder: IndexFolder, store: Store, info: IndexInfo, requested_type: str | None = None
) -> IndexInfo:
    """Sync ``index.faiss`` with the store and write the new ``index_info.json``; return it."""
    dim = info.dim
    vectors = folder.vector_file(dim)
    db_ids = store.ids()
    requested = requested_type or info.index_type_requested
    if requested == "auto" and info.index_type_requested != "auto":
        requested = info.index_type_requested  # keep an explicit earlier choice
    kind = ann.choose_index_type(requested, len(db_ids))
    current = (
        ann.load(folder.faiss_path, info.search_param) if (folder.faiss_path.is_file()) else None
    )
    trained_on = info.trained_count or 0
    have = current.ids() if current is not None else np.zeros(0, dtype=np.int64)
    gone = np.setdiff1d(have, db_ids)
    reuse = (
        current is not None
        and current.kind == kind
        and (current.supports_removal or len(gone) == 0)
        and not (kind == "ivf" and len(db_ids) > IVF_RETRAIN_GROWTH * max(trained_on, 1))
    )
    if reuse and current is not None:
        index = current
        index.remove(gone)
        new_ids = np.setdiff1d(db_ids, have)
        index.add(new_ids, vectors.rows_of(new_ids))
        changed = len(new_ids) > 0 or len(have) != len(db_ids)
    else:
        index = ann.build(kind, dim, db_ids, vectors.rows_of(db_ids))
        trained_on = len(db_ids)
        changed = True
    changed = changed or not folder.faiss_path.is_file()
    if changed:
        ann.save(index, folder.faiss_path)
    failed = store.failure_count()
    if not changed and (len(db_ids), failed) == (info.count, info.failed):
        # nothing to publish: a new generation would make every running service reload
        return info
    info = dataclasses.replace(
        info,
        index_type=index.kind,
        index_type_requested=requested,
        search_param=index.search_param,
        trained_count=trained_on,
        count=len(db_ids),
        failed=failed,
        generation=info.generation + 1,
        updated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        versions=library_versions(),
    )
    folder.write_info(info)
    return info
