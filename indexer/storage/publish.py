"""Bringing the ANN index in line with the metadata and publishing a new index version.

The metadata database and the raw vector file are the truth; ``index.faiss`` is derived from them.
Publishing removes ids the database no longer has, adds the ones it lacks (or rebuilds when the
index type changes or cannot remove), writes the index aside and renames it into place, then
writes ``index_info.json`` with a higher generation, which is what a running service watches.
The group vectors (series, studies, cases) are published with it, their checksums beside the
main files' (:mod:`indexer.storage.group_publish`), and so are the scores unrelated queries get
on the new version (:mod:`indexer.storage.null_scores`), and the digests of the blocks of the
vector file (:mod:`indexer.storage.vector_blocks`), which let a service start without hashing it.

The new info records the checksums of what it publishes (:mod:`indexer.storage.checksums`). Before
that, the previous version's checksums are checked: an ``index.faiss`` that does not match (damaged,
or left by a run killed between the two renames) is rebuilt from the vectors, and damaged published
vectors stop the run, since no later run could repair them. An info of an older format is brought up
to date even when nothing else changed. A checkpoint's work beyond what changed is kept small:
the published vectors are hashed once per run and the saved index kept for the next
checkpoint (:mod:`.run_publications`), and the ids to
add and remove are found by binary search over the sorted id lists. Where the index type has
inverted lists, the vectors a checkpoint adds go to the index's recent part
(``index-recent.faiss``, :mod:`indexer.ann.base`), so that a checkpoint writes what was added
since ``index.faiss`` was, not the whole index; once the recent part passes
:data:`RECENT_MAX_BYTES`, or ids are removed, the two are folded and ``index.faiss`` written again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import ann
from ..errors import IndexCorruptError
from ..fault_points import fault_point
from ..id_sets import not_in_sorted
from ..settings import Settings
from ..versions import library_versions, medsearch_version
from . import checksums
from .block_digests import publish_vector_blocks
from .folder import FAISS_FILE, RECENT_FILE, VECTORS_FILE, IndexFolder
from .group_publish import group_fields_of, publish_groups
from .info import FORMAT_VERSION, IndexInfo, utc_timestamp
from .metadata_db import Store
from .null_scores import NullQuerySet, publish_null_scores
from .run_publications import RunPublications
from .vector_blocks import LEGACY_BLOCKS_FILE, RECENT_BLOCKS_FILE
from .vectors import VectorFile

#: rebuild an IVF-type index once the corpus has grown this much since its clustering was trained
IVF_RETRAIN_GROWTH = 4.0
#: the most memory an index's recent part takes before it is folded into the main part: what a
#: checkpoint writes at most, whatever the size of the index (a fold writes the whole index)
RECENT_MAX_BYTES = 128 * 2**20


@dataclass(frozen=True)
class _Synced:
    """The ANN index brought in line with the database, and what that took."""

    index: ann.AnnIndex
    #: vectors its clustering was trained on (for IVF types)
    trained_on: int
    #: whether its main part differs from the published ``index.faiss`` (or there is none)
    main_changed: bool
    #: whether its recent part differs from the published one
    recent_changed: bool = False

    @property
    def changed(self) -> bool:
        return self.main_changed or self.recent_changed


def publish(
    folder: IndexFolder,
    store: Store,
    info: IndexInfo,
    requested_type: str | None = None,
    memory: int | None = None,
    group_fields: Iterable[str] = (),
    null_queries: Sequence[NullQuerySet] = (),
    run: RunPublications | None = None,
) -> IndexInfo:
    """Sync ``index.faiss`` and the group vectors with the store and write the new
    ``index_info.json``; return it.

    ``memory`` (bytes) bounds the index type ``auto`` picks and sizes a compressed code; by
    default it is the settings' budget (``MEDSEARCH_INDEX_MEMORY``, else
    :func:`~indexer.sizes.default_index_memory`), as for the command line. ``group_fields`` are
    fields to give group vectors besides those the index has
    (:mod:`indexer.storage.group_publish`). ``null_queries`` are the model's unrelated queries
    whose scores are measured with the seeded random ones (:mod:`indexer.storage.null_scores`).
    ``run``, kept by a run from one checkpoint to the next, spares reading and hashing again
    what the run published before (:mod:`indexer.storage.run_publications`).
    """
    store.index_extra_fields()
    memory = Settings.from_env().index_memory if memory is None else memory
    vectors = folder.vector_file(info.dim)
    db_ids = store.ids(from_codes=True)
    requested = _requested_type(info, requested_type)
    kind = ann.choose_index_type(requested, len(db_ids), info.dim, memory)
    vector_rows = int(db_ids.max()) if len(db_ids) else 0
    vectors_checksum = _vectors_checksum(vectors, info, vector_rows, run)
    synced = _synced_index(folder, info, kind, db_ids, vectors, memory, run)
    index_checksums = _saved_index_checksums(folder, info, synced)
    if run is not None:
        run.keep_index(_files_key(index_checksums), synced.index, folder.faiss_path)
    failed = store.failure_count()
    fields = group_fields_of(info, group_fields, store)
    groups = publish_groups(folder, store, info, fields, vectors, memory)
    same_groups = fields == (info.group_fields or ()) and all(
        info.checksums.get(name) == checksum for name, checksum in groups.items()
    )
    nulls = publish_null_scores(
        folder, info, synced.index, null_queries, index_changed=synced.changed
    )
    same_nulls = all(info.checksums.get(name) == checksum for name, checksum in nulls.items())
    blocks = publish_vector_blocks(folder, info, vector_rows, run=run)
    unchanged = same_groups and same_nulls and blocks.items() <= info.checksums.items()
    if not synced.changed and unchanged and _is_current(info, len(db_ids), failed):
        # nothing to publish: a new generation would make every running service reload
        return info
    info = _next_version(
        info,
        synced,
        requested=requested,
        count=len(db_ids),
        failed=failed,
        published={
            **index_checksums,
            VECTORS_FILE: vectors_checksum,
            **groups,
            **nulls,
            **blocks,
        },
        vector_rows=vector_rows,
    )
    info = dataclasses.replace(info, group_fields=fields or None)
    folder.write_info(info)
    if RECENT_FILE not in info.checksums:
        folder.recent_path.unlink(missing_ok=True)  # folded into index.faiss
    if RECENT_BLOCKS_FILE not in info.checksums:
        (folder.path / RECENT_BLOCKS_FILE).unlink(missing_ok=True)  # folded into the main file
    (folder.path / LEGACY_BLOCKS_FILE).unlink(missing_ok=True)  # replaced by VECTOR_BLOCKS_FILE
    return info


def _requested_type(info: IndexInfo, requested_type: str | None) -> str:
    """The index type asked for: ``auto`` keeps an explicit earlier choice."""
    requested = requested_type or info.index_type_requested
    if requested == "auto" and info.index_type_requested != "auto":
        return info.index_type_requested
    return requested


def _synced_index(
    folder: IndexFolder,
    info: IndexInfo,
    kind: str,
    db_ids: npt.NDArray[np.int64],
    vectors: VectorFile,
    memory: int,
    run: RunPublications | None,
) -> _Synced:
    """The published index with the removed ids taken out and the new ones added, or a new
    index of every id when it cannot be updated (another type, no removal, or a trained
    clustering the corpus has outgrown)."""
    current, main_intact = _published_index(folder, info, run)
    trained_on = info.trained_count or 0
    have = current.ids() if current is not None else np.zeros(0, dtype=np.int64)
    gone, new_ids = _changes(have, db_ids)
    if current is None or not _can_update(current, kind, len(gone), len(db_ids), trained_on):
        index = ann.build(kind, info.dim, db_ids, vectors.rows_of(db_ids), memory=memory)
        return _Synced(index, len(db_ids), main_changed=True)
    had_recent = current.recent is not None
    current.remove(gone)
    if len(gone):
        current.fold_recent()  # the main part changes anyway: one file again
    elif len(new_ids):
        current.start_recent()
    current.add(new_ids, vectors.rows_of(new_ids))
    if current.recent_bytes > RECENT_MAX_BYTES:
        current.fold_recent()
    main_changed = (
        (len(new_ids) > 0 and current.recent is None)
        or len(gone) > 0
        or (had_recent and current.recent is None)
        or not main_intact
    )
    recent_changed = current.recent is not None and (len(new_ids) > 0 or not had_recent)
    return _Synced(current, trained_on, main_changed, recent_changed)


def _changes(
    have: npt.NDArray[np.int64], db_ids: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The ids to remove from an index holding ``have`` and the ids to add, to hold ``db_ids``
    (both sorted): a run's checkpoint only adds images with ids above every published one,
    which one comparison finds."""
    if len(db_ids) >= len(have) and np.array_equal(db_ids[: len(have)], have):
        return np.zeros(0, dtype=np.int64), db_ids[len(have) :]
    return not_in_sorted(have, db_ids), not_in_sorted(db_ids, have)


def _can_update(current: ann.AnnIndex, kind: str, gone: int, count: int, trained_on: int) -> bool:
    """Whether the published index can be updated in place rather than rebuilt."""
    outgrown = current.list_count is not None and count > IVF_RETRAIN_GROWTH * max(trained_on, 1)
    return current.kind == kind and (current.supports_removal or gone == 0) and not outgrown


def _saved_index_checksums(folder: IndexFolder, info: IndexInfo, synced: _Synced) -> dict[str, str]:
    """Save the changed parts of the index in place of the published ones; the checksums of
    what is published (``index.faiss``, and ``index-recent.faiss`` where there is a recent part)."""
    recorded = info.checksums
    if synced.main_changed:
        published = {FAISS_FILE: ann.save(synced.index, folder.faiss_path)}
        fault_point("publish:after-faiss")
    else:
        published = {
            FAISS_FILE: recorded.get(FAISS_FILE) or checksums.path_checksum(folder.faiss_path)
        }
    if synced.index.recent is not None:
        if synced.recent_changed or RECENT_FILE not in recorded:
            published[RECENT_FILE] = ann.save_recent(synced.index, folder.recent_path)
            fault_point("publish:after-recent")
        else:
            published[RECENT_FILE] = recorded[RECENT_FILE]
    return published


def _files_key(index_checksums: Mapping[str, str]) -> str:
    """One key for the published index files' checksums (what a kept index is matched by)."""
    return f"{index_checksums.get(FAISS_FILE)} {index_checksums.get(RECENT_FILE)}"


def _is_current(info: IndexInfo, count: int, failed: int) -> bool:
    """Whether ``info`` already describes these counts, in the current format."""
    current_format = info.format_version == FORMAT_VERSION and FAISS_FILE in info.checksums
    return current_format and (count, failed) == (info.count, info.failed)


def _next_version(
    info: IndexInfo,
    synced: _Synced,
    *,
    requested: str,
    count: int,
    failed: int,
    published: dict[str, str],
    vector_rows: int,
) -> IndexInfo:
    """The info of the next generation: the synced index, the counts and the checksums of the
    ``published`` files, written by this MedSearch in the current format."""
    return dataclasses.replace(
        info,
        index_type=synced.index.kind,
        index_type_requested=requested,
        search_param=synced.index.search_param,
        rerank_factor=synced.index.rerank_factor or None,
        trained_count=synced.trained_on,
        count=count,
        failed=failed,
        generation=info.generation + 1,
        updated_at=utc_timestamp(),
        versions=library_versions(),
        format_version=FORMAT_VERSION,
        written_by=medsearch_version(),
        checksums=published,
        vector_rows=vector_rows,
    )


def _published_index(
    folder: IndexFolder, info: IndexInfo, run: RunPublications | None
) -> tuple[ann.AnnIndex | None, bool]:
    """The published ANN index to update (the one ``run`` saved last, while it is the one
    published), or None to build one (missing, or not as recorded); and whether
    ``index.faiss`` holds its main part as saved (else it is written again)."""
    if not folder.faiss_path.is_file():
        return None, False
    kept = run.take_index(_files_key(info.checksums), folder.faiss_path) if run else None
    if kept is not None:
        index, main_intact = kept
        if index.family.reranks:  # the vector file has grown since it was mapped
            index.table = folder.vector_file(info.dim).memmap()
        return index, main_intact
    try:
        return ann.load_published(folder, info), True
    except IndexCorruptError:
        return None, False


def _vectors_checksum(
    vectors: VectorFile, info: IndexInfo, rows: int, run: RunPublications | None
) -> str:
    """The checksum of the first ``rows`` rows of vectors.f16, once the rows the previous
    version published are found to match its checksum (or go on from ``run``'s digest of
    them, which this run checked and hashed)."""
    recorded = info.checksums.get(VECTORS_FILE)
    start = None
    if recorded is not None and info.vector_rows is not None:
        kept = run.remembered(vectors.path, info.vector_rows, recorded) if run else None
        start = kept or vectors.checked_digest(info.vector_rows, recorded)
    digest = vectors.digest(rows, start)
    if run is not None:
        run.remember(vectors.path, rows, digest)
    return digest.checksum()
