"""Inverted-list (IVF) indexes: k-means lists, of which ``nprobe`` are searched per query.

:class:`InvertedListsFamily` holds what every IVF type shares (list count, bounded training,
sizes, ids); :data:`FAMILY` is IVF-Flat, whose lists hold the full float32 vectors. The
compressed types (:mod:`.ivfsq`, :mod:`.ivfpq`) store codes and re-rank exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import IdArray, IndexFamily, RowSource, faiss
from .flat import ID_BYTES

#: most inverted lists: k-means training costs iterations x sample x lists x dim
MAX_LISTS = 4096
#: training points per list of IVF-Flat
TRAIN_PER_LIST = 64
#: training points per list of the compressed types: FAISS's least, since their re-rank
#: makes up for rougher lists and their builds are the large ones
COMPRESSED_TRAIN_PER_LIST = 40
#: nprobe calibration starts from
START_NPROBE = 32


def ivf_list_count(n: int) -> int:
    """About 4 sqrt(n) inverted lists, at least enough training points per list, no more
    than :data:`MAX_LISTS` nor than there are vectors."""
    count = int(min(max(8, 4 * math.sqrt(max(n, 1))), max(8, n // 39), MAX_LISTS))
    return max(1, min(count, n)) if n > 0 else count


def training_sample(vectors: RowSource, size: int, seed: int) -> np.ndarray:
    """A seeded random sample of ``size`` of ``vectors`` (all when there are fewer)."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(vectors), min(len(vectors), size), replace=False)
    return np.ascontiguousarray(vectors[picked], dtype=np.float32)


class InvertedListsFamily(IndexFamily):
    """What every IVF type shares; subclasses say how the lists store vectors."""

    inverted_lists = True
    #: training points per list (bounded by MAX_LISTS, so is the training's cost)
    train_per_list = TRAIN_PER_LIST

    def make(self, quantizer: Any, dim: int, lists: int, code_bytes: int, sample_n: int) -> Any:
        """The untrained FAISS index with ``code_bytes`` bytes per vector."""
        raise NotImplementedError

    def code_bytes(self, n: int, dim: int, memory: int | None) -> int:
        """Bytes each vector's code takes in the lists."""
        raise NotImplementedError

    def trained_bytes(self, dim: int, code_bytes: int) -> int:
        """Memory the trained codec takes beyond the list centroids."""
        return 0

    def create(self, dim: int, vectors: RowSource, *, seed: int, memory: int | None) -> Any:
        n = len(vectors)
        lists = ivf_list_count(n)
        sample = training_sample(vectors, lists * self.train_per_list, seed)
        index = self.make(
            faiss.IndexFlatIP(dim), dim, lists, self.code_bytes(n, dim, memory), len(sample)
        )
        index.cp.seed = seed
        index.train(sample)
        return index

    def estimate_bytes(self, n: int, dim: int, memory: int | None = None) -> int:
        code = self.code_bytes(n, dim, memory)
        return self._bytes(n, dim, ivf_list_count(n), code)

    def memory_bytes(self, index: Any) -> int:
        ivf = faiss.extract_index_ivf(index)
        return self._bytes(int(ivf.ntotal), int(ivf.d), int(ivf.nlist), int(ivf.code_size))

    def _bytes(self, n: int, dim: int, lists: int, code: int) -> int:
        return n * (code + ID_BYTES) + lists * dim * 4 + self.trained_bytes(dim, code)

    def initial_param(self, index: Any) -> int:
        return min(START_NPROBE, self.param_limit(index))

    def param_limit(self, index: Any) -> int:
        return int(faiss.extract_index_ivf(index).nlist)

    def search_parameters(self, selector: Any, param: int) -> Any:
        return faiss.SearchParametersIVF(sel=selector, nprobe=param)

    def ids(self, index: Any) -> IdArray:
        ivf = faiss.extract_index_ivf(index)
        invlists = ivf.invlists
        parts = [
            faiss.rev_swig_ptr(invlists.get_ids(lst), invlists.list_size(lst)).copy()
            for lst in range(ivf.nlist)
            if invlists.list_size(lst)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def empty_like(self, index: Any) -> Any:
        # a copy of the trained index without its lists: they are set aside while it is
        # cloned (cloning them would copy the whole index)
        ivf = faiss.extract_index_ivf(index)
        lists, owned = ivf.invlists, ivf.own_invlists
        ivf.own_invlists = False  # so that replace_invlists does not free them
        empty = faiss.ArrayInvertedLists(ivf.nlist, ivf.code_size)  # Python frees it
        ivf.replace_invlists(empty, False)
        try:
            recent = faiss.clone_index(index)
        finally:
            ivf.replace_invlists(lists, owned)
        recent.reset()
        return recent

    def fold(self, index: Any, recent: Any) -> None:
        faiss.extract_index_ivf(index).merge_from(faiss.extract_index_ivf(recent), 0)


class IvfFlatFamily(InvertedListsFamily):
    name = "ivf"
    #: its lists hold whole vectors, so probing every list is exact
    exact_range = True

    def range_parameters(self, index: Any) -> Any:
        return faiss.SearchParametersIVF(nprobe=self.param_limit(index))

    def make(self, quantizer: Any, dim: int, lists: int, code_bytes: int, sample_n: int) -> Any:
        return faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)

    def code_bytes(self, n: int, dim: int, memory: int | None) -> int:
        return dim * 4

    def holds(self, index: Any) -> bool:
        return isinstance(index, faiss.IndexIVFFlat)


FAMILY = IvfFlatFamily()
