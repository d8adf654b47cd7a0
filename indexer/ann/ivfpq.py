"""IVF with product-quantised vectors (a few dozen bytes each), re-ranked exactly.

Each vector is cut into ``m`` sub-vectors, each stored as the byte of its nearest of 256
trained centroids. ``m`` is the largest of :data:`CODE_BYTES` that divides the dimension,
leaves at least two dimensions per sub-vector, and fits the memory budget. The top
``k * rerank_factor`` candidates by their codes are scored again against the float16 vector
file, so the ranking returned is exact. Too few vectors to train 256 centroids per sub-vector
get fewer (``2 ** bits``, as many as the training vectors can train).
"""

from __future__ import annotations

import math
from typing import Any

from .base import faiss
from .ivf import COMPRESSED_TRAIN_PER_LIST, InvertedListsFamily, ivf_list_count

#: code sizes tried, largest (most exact) first
CODE_BYTES = (64, 48, 32, 24, 16, 8, 4, 2, 1)
#: bits of each sub-vector's code when there are enough training vectors
BITS = 8


def code_sizes(dim: int) -> list[int]:
    """The code sizes (bytes per vector) a ``dim``-dimensional vector can be cut into."""
    fitting = [m for m in CODE_BYTES if dim % m == 0 and dim // m >= 2]
    return fitting or [1]


def code_bits(sample_n: int) -> int:
    """Bits per sub-vector: as many centroids as ``sample_n`` training vectors train well
    (39 each), at most 256."""
    return max(1, min(BITS, int(math.log2(max(sample_n / 39, 2)))))


class IvfPqFamily(InvertedListsFamily):
    name = "ivfpq"
    reranks = True
    train_per_list = COMPRESSED_TRAIN_PER_LIST

    def make(self, quantizer: Any, dim: int, lists: int, code_bytes: int, sample_n: int) -> Any:
        return faiss.IndexIVFPQ(
            quantizer, dim, lists, code_bytes, code_bits(sample_n), faiss.METRIC_INNER_PRODUCT
        )

    def code_bytes(self, n: int, dim: int, memory: int | None) -> int:
        """Sub-vectors per code: the most that keep ``n`` vectors within ``memory`` (the
        fewest if none do)."""
        sizes = code_sizes(dim)
        if memory is None:
            return sizes[0]
        for size in sizes:
            if self._pq_bytes(n, dim, size) <= memory:
                return size
        return sizes[-1]

    def estimate_bytes(self, n: int, dim: int, memory: int | None = None) -> int:
        return self._pq_bytes(n, dim, self.code_bytes(n, dim, memory))

    def memory_bytes(self, index: Any) -> int:
        ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
        stored = self._bytes(int(ivf.ntotal), int(ivf.d), int(ivf.nlist), int(ivf.code_size))
        return stored + int(ivf.pq.ksub) * int(ivf.d) * 4

    def _pq_bytes(self, n: int, dim: int, sub_vectors: int) -> int:
        lists = ivf_list_count(n)
        bits = code_bits(min(n, lists * self.train_per_list))
        code = math.ceil(sub_vectors * bits / 8)
        return self._bytes(n, dim, lists, code) + (1 << bits) * dim * 4

    def holds(self, index: Any) -> bool:
        return isinstance(index, faiss.IndexIVFPQ)


FAMILY = IvfPqFamily()
