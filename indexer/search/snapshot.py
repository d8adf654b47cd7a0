"""One published version of an index as a search sees it, and the rankings it answers.

A :class:`Snapshot` is immutable: the ANN index, the vector file, the group vectors and the null
distribution of one ``index_info.json``. Loading it checks its files against the checksums that
info records, the vector file by its blocks as rows are read (:mod:`indexer.storage.block_guard`),
so a :class:`~indexer.search.retriever.Retriever` can swap snapshots atomically and every search
sees one whole version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .. import ann
from ..errors import IndexCorruptError
from ..storage.block_digests import guard_of
from ..storage.checksums import PrefixDigest
from ..storage.folder import VECTORS_FILE, IndexFolder
from ..storage.group_files import PublishedGroups, load_groups
from ..storage.info import IndexInfo
from ..storage.null_scores import NullScores, load_null_scores
from ..storage.vectors import VectorFile

#: filtered searches over at most this many images are exact brute force over the raw vectors
BRUTE_FORCE_MAX = 50_000

Ranking = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Snapshot:
    info: IndexInfo
    index: ann.AnnIndex
    vectors: VectorFile
    info_mtime: float
    #: digest of the published rows of the vector file (None when the info records no checksum)
    vectors_digest: PrefixDigest | None
    #: the group vectors of each group field (series_key, study_key, case ...)
    groups: Mapping[str, PublishedGroups]
    #: the scores unrelated queries get (None: a version published before they were measured)
    null: NullScores | None = None

    @classmethod
    def load(cls, folder: IndexFolder, previous: Snapshot | None) -> Snapshot:
        """The published version of ``folder``, its files checked against its checksums."""
        mtime = folder.info_path.stat().st_mtime
        info = folder.read_info()
        if not folder.faiss_path.is_file():
            raise IndexCorruptError(
                f"{folder.path} has no {folder.faiss_path.name} yet: the first "
                "`medsearch index` run did not finish; run it again"
            )
        recorded = info.checksums
        guard = guard_of(folder, info, previous.vectors.guard if previous else None)
        vectors = VectorFile(folder.vectors_path, info.dim, guard)
        index = ann.load_published(
            folder,
            info,
            vectors=vectors,
            previous=previous.index if previous else None,
            previous_info=previous.info if previous else None,
        )
        digest = None
        # a version published before block digests is hashed whole
        if guard is None and VECTORS_FILE in recorded and info.vector_rows is not None:
            start = previous.vectors_digest if previous is not None else None
            digest = vectors.checked_digest(info.vector_rows, recorded[VECTORS_FILE], start)
        groups = {field: load_groups(folder, info, field) for field in info.group_fields or ()}
        null = load_null_scores(folder, info)
        return cls(info, index, vectors, mtime, digest, groups, null)

    def top(self, query: np.ndarray, want: int, allowed: np.ndarray | None) -> Ranking:
        """The ``want`` best (score, id) of the images in ``allowed`` (None: all), best first."""
        if self.index.ntotal == 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if allowed is not None and len(allowed) <= BRUTE_FORCE_MAX:
            # a narrow filter is answered exactly from the raw vectors
            return self.exact_top(query, want, allowed)
        scores, ids = self.index.search(query[None, :], want, allowed)
        found = ids[0] >= 0
        if allowed is not None and found.sum() < min(want, len(allowed)):
            # the ANN probe saw too few matches: fall back to exact search over the matches
            return self.exact_top(query, want, allowed)
        return scores[0][found], ids[0][found]

    def exact_top(self, query: np.ndarray, want: int, allowed: np.ndarray) -> Ranking:
        """The ``want`` best of ``allowed`` scored exactly from the stored vectors."""
        # the matches' vectors are read a block at a time, however many images a filter selects
        vectors = self.vectors.rows_of(allowed)
        scores, ids = ann.exact_top_k(vectors, allowed, query[None, :], want)
        return scores[0], ids[0]

    def exact_ranking(
        self, query: np.ndarray, allowed: np.ndarray | None, indexed_ids: Callable[[], np.ndarray]
    ) -> Ranking:
        """Every image of ``allowed`` (None: every published one, of ``indexed_ids()``) ranked
        exactly."""
        ids = allowed if allowed is not None else self.published_ids(indexed_ids())
        return self.exact_top(query, len(ids), ids)

    def published_ids(self, indexed_ids: np.ndarray) -> np.ndarray:
        """The ids among ``indexed_ids`` whose vectors this version's vector file holds."""
        rows = self.info.vector_rows
        return indexed_ids[indexed_ids <= (rows if rows is not None else self.vectors.rows())]

    def ids_scoring_at_least(self, query: np.ndarray, min_score: float) -> np.ndarray:
        """Ids of every image scoring at least ``min_score``, sorted, exactly: by the index's
        range search where it looks at whole vectors, else from the stored vectors."""
        if self.index.family.exact_range:
            return self.index.ids_scoring_at_least(query, min_score)
        ids = self.index.ids()
        return ann.ids_scoring_at_least(self.vectors.rows_of(ids), ids, query, min_score)
