"""The searchable index: a FAISS index, the family that made it, and its calibrated knobs.

Families (:mod:`indexer.ann.registry`) say how an index type is built, searched and sized;
:class:`AnnIndex` is what every caller holds. A family that stores compressed codes re-ranks
``k * rerank_factor`` candidates exactly against the float16 vector file, read through a
mapping whose resident pages are bounded (:mod:`indexer.storage.row_table`).

An index of a family with trained inverted lists can hold its newest vectors apart, in a
*recent* part: a FAISS index of the same clustering and codec, holding only the vectors added
since the main part was last saved. A checkpoint of a long run then saves the recent part, whose
size does not grow with the index, and leaves the main file as it is; searches ask both parts
and merge (:mod:`indexer.storage.publish` decides when the parts are folded into one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import faiss as _faiss
import numpy as np
import numpy.typing as npt

from ..id_sets import GrowingIds

# faiss's partial SWIG stubs disagree with its runtime API (SearchParameters keywords ...)
faiss: Any = _faiss

IdArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
#: vectors added to an index per FAISS call, so no more than this many are in memory twice
ADD_CHUNK = 65_536


class RowSource(Protocol):
    """Vectors addressable by row: an array, or :class:`indexer.storage.vectors.Rows` (lazy)."""

    def __len__(self) -> int: ...

    def __getitem__(self, key: Any, /) -> Any: ...


#: float16 rows where the vector of image id ``i`` is row ``i - 1``: an array, or the vector
#: file's :class:`~indexer.storage.row_table.RowTable`, which reads them from a bounded mapping
VectorTable = RowSource


class IndexFamily:
    """One kind of index: how it is made, searched and sized. Subclasses fill these in."""

    #: the index type's name (``--index-type``)
    name = ""
    #: whether ids can be removed in place (else a removal rebuilds)
    removable = True
    #: whether the index has trained inverted lists (nprobe, retrained as the corpus grows)
    inverted_lists = False
    #: whether search re-ranks compressed candidates against the vector file
    reranks = False
    #: whether a range search (:meth:`range_parameters`) looks at every vector, whole: it then
    #: finds exactly what brute force over the vectors finds
    exact_range = False

    def create(self, dim: int, vectors: RowSource, *, seed: int, memory: int | None) -> Any:
        """An empty FAISS index, trained on ``vectors`` when the type needs training."""
        raise NotImplementedError

    def estimate_bytes(self, n: int, dim: int, memory: int | None = None) -> int:
        """Memory an index of ``n`` vectors of ``dim`` takes once loaded (sized for ``memory``)."""
        raise NotImplementedError

    def memory_bytes(self, index: Any) -> int:
        """Memory ``index`` takes."""
        return self.estimate_bytes(int(index.ntotal), int(index.d))

    def initial_param(self, index: Any) -> int:
        """The search knob calibration starts from (0: none)."""
        return 0

    def param_limit(self, index: Any) -> int:
        """The largest useful search knob."""
        return 0

    def search_parameters(self, selector: Any, param: int) -> Any:
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def range_parameters(self, index: Any) -> Any:
        """Search parameters of an exact range search (only where ``exact_range``)."""
        return None

    def holds(self, index: Any) -> bool:
        """Whether a FAISS index read from a file is of this family."""
        raise NotImplementedError

    def ids(self, index: Any) -> IdArray:
        return np.asarray(faiss.vector_to_array(index.id_map), dtype=np.int64)

    def empty_like(self, index: Any) -> Any | None:
        """An empty index trained as ``index`` is, whose vectors can later be folded into it
        (:meth:`fold`), or None where the type cannot keep a recent part."""
        return None

    def fold(self, index: Any, recent: Any) -> None:
        """Move every vector of ``recent`` (made by :meth:`empty_like`) into ``index``."""
        raise NotImplementedError(f"a {self.name} index keeps no recent part")


@dataclass
class AnnIndex:
    """A FAISS index plus the search-time knobs it was calibrated with."""

    index: Any
    family: IndexFamily
    #: nprobe for the IVF types, efSearch for HNSW, unused for flat
    search_param: int = 0
    #: candidates fetched per wanted result before the exact re-rank (re-ranking types only)
    rerank_factor: int = 0
    #: the vectors re-ranked against (re-ranking types only)
    table: VectorTable | None = None
    #: the vectors added since the main part was saved, apart (see the module docstring)
    recent: Any | None = None
    #: the selector of the last read-only ``allowed`` array searched, with that array
    _last_selector: tuple[IdArray, Any] | None = field(default=None, repr=False, compare=False)
    #: every id held, sorted, once asked for (kept up to date by add and remove)
    _sorted_ids: GrowingIds | None = field(default=None, repr=False, compare=False)

    @property
    def kind(self) -> str:
        return self.family.name

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal) + self.recent_count

    @property
    def recent_count(self) -> int:
        """Vectors in the recent part (0 without one)."""
        return int(self.recent.ntotal) if self.recent is not None else 0

    @property
    def memory_bytes(self) -> int:
        """Memory the index itself takes (the mapped vector file is not counted)."""
        return self.family.memory_bytes(self.index) + self.recent_bytes

    @property
    def recent_bytes(self) -> int:
        """Memory the recent part takes (0 without one)."""
        return self.family.memory_bytes(self.recent) if self.recent is not None else 0

    @property
    def keeps_recent(self) -> bool:
        """Whether this type of index can hold its newest vectors in a recent part."""
        return self.family.inverted_lists

    @property
    def supports_removal(self) -> bool:
        return self.family.removable

    @property
    def list_count(self) -> int | None:
        """The inverted lists of an IVF index (its ``nlist``); None for other types."""
        if not self.family.inverted_lists:
            return None
        return int(faiss.extract_index_ivf(self.index).nlist)

    def ids(self) -> IdArray:
        """Every id in the index (sorted; the array is shared, do not change it)."""
        if self._sorted_ids is None:
            parts = [self.family.ids(part) for part in self._parts()]
            self._sorted_ids = GrowingIds(np.sort(np.concatenate(parts)))
        return self._sorted_ids.view()

    def add(self, ids: IdArray, vectors: RowSource) -> None:
        """Add ``vectors`` (row i under ``ids[i]``), a chunk at a time, to the recent part
        where there is one."""
        target = self.recent if self.recent is not None else self.index
        for start in range(0, len(ids), ADD_CHUNK):
            chunk = np.ascontiguousarray(vectors[start : start + ADD_CHUNK], dtype=np.float32)
            target.add_with_ids(chunk, ids[start : start + ADD_CHUNK])
        if self._sorted_ids is not None and len(ids):
            known = self._sorted_ids.view()
            added = np.sort(np.asarray(ids, dtype=np.int64))
            if len(known) and added[0] <= known[-1]:
                self._sorted_ids = GrowingIds(np.union1d(known, added))
            else:  # new images have the highest ids: appended, the others not copied
                self._sorted_ids.append(added)

    def remove(self, ids: IdArray) -> None:
        if not len(ids):
            return
        for part in self._parts():
            part.remove_ids(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids)))
        self._sorted_ids = None

    def start_recent(self) -> bool:
        """Keep the vectors added from now on in a recent part; False where the type cannot."""
        if self.recent is None and self.keeps_recent:
            self.recent = self.family.empty_like(self.index)
        return self.recent is not None

    def fold_recent(self) -> None:
        """Move the recent part's vectors into the main part."""
        if self.recent is not None:
            self.family.fold(self.index, self.recent)
            self.recent = None

    def _parts(self) -> list[Any]:
        return [self.index] if self.recent is None else [self.index, self.recent]

    def search(
        self, queries: FloatArray, k: int, allowed: IdArray | None = None
    ) -> tuple[FloatArray, IdArray]:
        """Top-``k`` (scores, ids) per query; ``allowed`` restricts the ids searched.

        Missing results (fewer than ``k`` ids searched) are id -1.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, self.ntotal)) if self.ntotal else 1
        fetch = min(self.ntotal, k * self.rerank_factor) if self.family.reranks else k
        params = self._params(allowed)
        fetch = max(fetch, k)
        scores, ids = self._search_part(self.index, queries, fetch, params)
        if self.recent is not None:
            # the parts share their clustering, so both probe the same lists: the best of
            # the two candidate lists are the candidates one index holding all would give
            recent = self._search_part(self.recent, queries, fetch, params)
            scores, ids = _best_of_merged(
                np.concatenate([scores, recent[0]], axis=1),
                np.concatenate([ids, recent[1]], axis=1),
                fetch,
            )
        if self.family.reranks:
            return self._rerank(queries, ids, k)
        return scores, ids

    @staticmethod
    def _search_part(
        part: Any, queries: FloatArray, fetch: int, params: Any
    ) -> tuple[FloatArray, IdArray]:
        if len(queries) > 1:
            return part.search(queries, fetch, params=params)
        # One query gains nothing from FAISS's OpenMP team, whose idle spinning afterwards
        # takes a core from the model's; the thread count is per calling thread.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return part.search(queries, fetch, params=params)
        finally:
            faiss.omp_set_num_threads(threads)

    def ids_scoring_at_least(self, query: FloatArray, min_score: float) -> IdArray:
        """Ids of every vector whose inner product with ``query`` is at least ``min_score``,
        sorted, by one range search (only for families whose range search is exact)."""
        if not self.family.exact_range:
            raise NotImplementedError(f"a {self.kind} index has no exact range search")
        # FAISS keeps inner products strictly above the radius: the next float below keeps
        # those equal to min_score too
        radius = float(np.nextafter(score_cut(min_score), np.float32(-np.inf)))
        queries = np.ascontiguousarray(query[None, :], dtype=np.float32)
        params = self.family.range_parameters(self.index)
        found = []
        for part in self._parts():
            limits, _, ids = part.range_search(queries, radius, params=params)
            found.append(np.asarray(ids[limits[0] : limits[1]], dtype=np.int64))
        return np.sort(np.concatenate(found))

    def _rerank(
        self, queries: FloatArray, candidates: IdArray, k: int
    ) -> tuple[FloatArray, IdArray]:
        """The best ``k`` of each query's candidates by exact inner product with stored vectors."""
        if self.table is None:
            raise RuntimeError(f"a {self.kind} index needs its vector file to search")
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, (query, found) in enumerate(zip(queries, candidates, strict=True)):
            # ascending ids read the mapped file in order, and rank ties as exact search does
            found = np.sort(found[found >= 0])
            exact = np.asarray(self.table[found - 1], dtype=np.float32) @ query
            best = np.argsort(-exact, kind="stable")[:k]
            scores[row, : len(best)] = exact[best]
            ids[row, : len(best)] = found[best]
        return scores, ids

    def _params(self, allowed: IdArray | None) -> Any:
        selector = None if allowed is None else self._selector(allowed)
        return self.family.search_parameters(selector, self.search_param)

    def _selector(self, allowed: IdArray) -> Any:
        # a filter's cached ids come back as the same read-only array query after query; its
        # selector (a bitmap over millions of ids) is made once
        last = self._last_selector
        if last is not None and last[0] is allowed:
            return last[1]
        selector = id_selector(allowed)
        if not allowed.flags.writeable:
            self._last_selector = (allowed, selector)
        return selector


def _best_of_merged(scores: FloatArray, ids: IdArray, k: int) -> tuple[FloatArray, IdArray]:
    """The best ``k`` of each row of two parts' results side by side, ties by ascending id;
    missing results (id -1) last."""
    keyed = np.where(ids >= 0, scores, -np.inf)
    order = np.lexsort((ids, -keyed), axis=1)[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)


def score_cut(min_score: float) -> np.float32:
    """A minimum score as a float32 that keeps the same scores: unit vectors' inner products lie
    in [-1, 1], so a cut-off beyond [-2, 2] (even beyond float32's range) means as much."""
    return np.float32(min(max(min_score, -2.0), 2.0))


def id_selector(allowed: IdArray) -> Any:
    """A FAISS selector admitting exactly the ids in ``allowed``.

    A bitmap over ids 0 .. max(allowed) when it is no larger than the ids themselves (a filter
    matching many images: one bit per id instead of a hash set of millions), else a batch of ids.
    The selector holds a reference to the memory it reads, so it lives as long as the selector.
    """
    wanted = np.ascontiguousarray(allowed, dtype=np.int64)
    largest = int(wanted.max()) if len(wanted) else 0
    if len(wanted) and largest < 64 * len(wanted):
        members = np.zeros(largest + 1, dtype=bool)
        members[wanted] = True
        bitmap = np.packbits(members, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        selector.referenced_objects = [bitmap]
    else:
        selector = faiss.IDSelectorBatch(len(wanted), faiss.swig_ptr(wanted))
        selector.referenced_objects = [wanted]
    return selector
