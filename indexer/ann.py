"""FAISS inner-product indexes over unit vectors, keyed by image id.

``auto`` stays exact (flat) up to :data:`AUTO_FLAT_MAX` vectors and switches to IVF beyond, with
``nprobe`` calibrated at build time so recall@10 against exact search stays at or above
:data:`TARGET_RECALL`. Results of every index type are checked against brute force in the tests.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import faiss as _faiss
import numpy as np
import numpy.typing as npt

from . import checksums
from .atomic import reporting_disk_full, write_atomic
from .errors import IndexCorruptError, InvalidRequestError

# faiss's partial SWIG stubs disagree with its runtime API (SearchParameters keywords ...)
faiss: Any = _faiss

AUTO_FLAT_MAX = 100_000
TARGET_RECALL = 0.98
INDEX_TYPES = ("flat", "ivf", "hnsw")
IdArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
#: vectors added to an index per FAISS call, so no more than this many are in memory twice
ADD_CHUNK = 65_536
#: rows scored at a time by exact search
EXACT_BLOCK = 65_536


class RowSource(Protocol):
    """Vectors addressable by row: an array, or :class:`indexer.vector_file.Rows` (lazy)."""

    def __len__(self) -> int: ...

    def __getitem__(self, key: Any, /) -> Any: ...


@dataclass
class AnnIndex:
    """A FAISS index plus the search-time knob it was calibrated with."""

    index: Any
    kind: str
    #: nprobe for IVF, efSearch for HNSW, unused for flat
    search_param: int = 0
    #: the selector of the last read-only ``allowed`` array searched, with that array
    _last_selector: tuple[IdArray, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> IdArray:
        """Every id in the index (sorted)."""
        if self.kind == "ivf":
            ivf = faiss.extract_index_ivf(self.index)
            invlists = ivf.invlists
            parts = [
                faiss.rev_swig_ptr(invlists.get_ids(lst), invlists.list_size(lst)).copy()
                for lst in range(ivf.nlist)
                if invlists.list_size(lst)
            ]
            ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        else:
            ids = faiss.vector_to_array(self.index.id_map)
        return np.sort(ids.astype(np.int64))

    def add(self, ids: IdArray, vectors: RowSource) -> None:
        """Add ``vectors`` (row i under ``ids[i]``), a chunk at a time."""
        for start in range(0, len(ids), ADD_CHUNK):
            chunk = np.ascontiguousarray(vectors[start : start + ADD_CHUNK], dtype=np.float32)
            self.index.add_with_ids(chunk, ids[start : start + ADD_CHUNK])

    def remove(self, ids: IdArray) -> None:
        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids)))

    @property
    def list_count(self) -> int | None:
        """The inverted lists of an IVF index (its ``nlist``); None for other types."""
        return int(faiss.extract_index_ivf(self.index).nlist) if self.kind == "ivf" else None

    @property
    def supports_removal(self) -> bool:
        return self.kind in ("flat", "ivf")

    def search(
        self, queries: FloatArray, k: int, allowed: IdArray | None = None
    ) -> tuple[FloatArray, IdArray]:
        """Top-``k`` (scores, ids) per query; ``allowed`` restricts the ids searched."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, self.ntotal)) if self.ntotal else 1
        params = self._params(allowed)
        if len(queries) > 1:
            scores, ids = self.index.search(queries, k, params=params)
            return scores, ids
        # One query gains nothing from FAISS's OpenMP team, whose idle spinning afterwards
        # takes a core from the model's; the thread count is per calling thread.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.index.search(queries, k, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        return scores, ids

    def _params(self, allowed: IdArray | None) -> Any:
        selector = None if allowed is None else self._selector(allowed)
        if self.kind == "ivf":
            return faiss.SearchParametersIVF(sel=selector, nprobe=self.search_param)
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self.search_param)
        return faiss.SearchParameters(sel=selector) if selector is not None else None

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


def choose_index_type(requested: str, n: int) -> str:
    """The concrete index type for ``requested`` (auto|flat|ivf|hnsw) at ``n`` vectors."""
    if requested == "auto":
        return "flat" if n <= AUTO_FLAT_MAX else "ivf"
    if requested not in INDEX_TYPES:
        raise InvalidRequestError(f"unknown index type {requested!r}: use auto, flat, ivf or hnsw")
    return requested


def build(kind: str, dim: int, ids: IdArray, vectors: RowSource, *, seed: int = 0) -> AnnIndex:
    """A new index of ``kind`` holding ``vectors`` under ``ids``, calibrated when approximate.

    ``vectors`` is only ever read in slices, so a lazy source keeps the build's memory at about
    the index itself.
    """
    if kind == "flat":
        ann = AnnIndex(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), "flat")
    elif kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        ann = AnnIndex(faiss.IndexIDMap2(hnsw), "hnsw", search_param=64)
    elif kind == "ivf":
        nlist = ivf_list_count(len(ids))
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.seed = seed
        rng = np.random.default_rng(seed)
        sample = vectors[rng.choice(len(vectors), min(len(vectors), nlist * 64), replace=False)]
        ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
        ann = AnnIndex(ivf, "ivf", search_param=min(32, nlist))
    else:
        raise InvalidRequestError(f"unknown index type {kind!r}")
    ann.add(ids, vectors)
    if kind != "flat" and len(ids) > 0:
        calibrate(ann, ids, vectors, seed=seed)
    return ann


def ivf_list_count(n: int) -> int:
    """About 4 sqrt(n) inverted lists, at least enough training points per list."""
    return int(min(max(8, 4 * math.sqrt(max(n, 1))), max(8, n // 39)))


def sample_queries(vectors: RowSource, n: int, seed: int = 0) -> FloatArray:
    """Held-out-like queries: stored vectors moved by noise, renormalised.

    Half land near the data (cosine ~0.85 to their source), half far from it (cosine ~0.55),
    as text queries do: they sit apart from the image vectors they find, and are the harder
    case for an inverted-list index.
    """
    rng = np.random.default_rng(seed)
    picked = np.asarray(
        vectors[rng.choice(len(vectors), min(n, len(vectors)), replace=False)], dtype=np.float32
    )
    noise = rng.standard_normal(picked.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    scale = np.where(np.arange(len(picked)) % 2 == 0, 0.6, 1.5).astype(np.float32)[:, None]
    queries = picked + scale * noise
    return (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)


def exact_top_k(
    vectors: RowSource, ids: IdArray, queries: FloatArray, k: int
) -> tuple[FloatArray, IdArray]:
    """Brute-force top-``k`` by inner product, best first.

    Rows are scored a block at a time and only each block's own top ``k`` is kept, so memory
    stays at one block's scores however many vectors there are.
    """
    k = min(k, len(ids))
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(ids), EXACT_BLOCK):
        block = np.asarray(vectors[start : start + EXACT_BLOCK], dtype=np.float32)
        scores = queries @ block.T
        if scores.shape[1] > k:
            keep = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            keep.sort(axis=1)  # block order, so equal scores rank as a full sort would
            scores = np.take_along_axis(scores, keep, axis=1)
            block_ids = ids[start + keep]
        else:
            block_ids = np.broadcast_to(ids[start : start + len(block)], scores.shape)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate([best_ids, block_ids], axis=1)
        top = np.argsort(-merged_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(merged_scores, top, axis=1)
        best_ids = np.take_along_axis(merged_ids, top, axis=1)
    return best_scores, best_ids


def recall_at_k(
    ann: AnnIndex, vectors: RowSource, ids: IdArray, queries: FloatArray, k: int = 10
) -> float:
    """Mean share of the exact top-``k`` that ``ann`` returns."""
    _, truth = exact_top_k(vectors, ids, queries, k)
    return _recall(ann, truth, queries)


def _recall(ann: AnnIndex, truth: IdArray, queries: FloatArray) -> float:
    _, found = ann.search(queries, truth.shape[1])
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth.tolist(), found.tolist(), strict=True))
    return hits / float(truth.size or 1)


def calibrate(
    ann: AnnIndex, ids: IdArray, vectors: RowSource, *, seed: int = 0, n_queries: int = 200
) -> float:
    """Raise the search knob (nprobe / efSearch) until recall@10 reaches TARGET_RECALL."""
    queries = sample_queries(vectors, n_queries, seed=seed)
    limit = faiss.extract_index_ivf(ann.index).nlist if ann.kind == "ivf" else 4096
    _, truth = exact_top_k(vectors, ids, queries, 10)
    recall = _recall(ann, truth, queries)
    while recall < TARGET_RECALL and ann.search_param < limit:
        ann.search_param = min(limit, ann.search_param * 2)
        recall = _recall(ann, truth, queries)
    return recall


def save(ann: AnnIndex, path: Path) -> str:
    """Write the index beside ``path`` and move it into place in one durable, atomic step.

    Returns the checksum of the bytes written. They go through Python file writes, so a full
    disk raises :class:`~indexer.errors.DiskFullError` instead of leaving a cut file behind.
    """
    digest = hashlib.sha256()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:

            def sink(chunk: bytes) -> int:
                digest.update(chunk)
                return handle.write(chunk)

            faiss.write_index(ann.index, faiss.PyCallbackIOWriter(sink))

    with reporting_disk_full(path.name):
        write_atomic(path, write, durable=True)
    return f"{checksums.ALGORITHM}:{digest.hexdigest()}"


def load(path: Path, search_param: int, checksum: str | None = None) -> AnnIndex:
    """Read an index; its type comes from the file itself, not from what the info says.

    With ``checksum``, the file is hashed before it is parsed, through the same open file (so a
    newer file renamed into place meanwhile cannot slip in), and a mismatch raises
    :class:`~indexer.errors.IndexCorruptError`.
    """
    try:
        with open(path, "rb") as handle:
            if checksum is not None and checksums.file_checksum(handle) != checksum:
                raise IndexCorruptError(
                    checksums.mismatch_message(path.name, "run `medsearch index` to rebuild it")
                )
            handle.seek(0)
            index = faiss.read_index(faiss.PyCallbackIOReader(handle.read))
    except (RuntimeError, OSError) as exc:
        raise IndexCorruptError(f"cannot read {path}: {exc}") from exc
    return AnnIndex(index, index_kind(index), search_param)


def index_kind(index: Any) -> str:
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    inner = faiss.downcast_index(index.index) if hasattr(index, "id_map") else index
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexFlat):
        return "flat"
    raise IndexCorruptError(f"unsupported FAISS index {type(inner).__name__}")
