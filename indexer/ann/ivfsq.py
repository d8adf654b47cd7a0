"""IVF with 8-bit scalar-quantised vectors (a byte per dimension), re-ranked exactly.

A quarter of IVF-Flat's memory; the top ``k * rerank_factor`` candidates by their codes are
scored again against the float16 vector file, so the ranking returned is exact.
"""

from __future__ import annotations

from typing import Any

from .base import faiss
from .ivf import COMPRESSED_TRAIN_PER_LIST, InvertedListsFamily


class IvfSqFamily(InvertedListsFamily):
    name = "ivfsq"
    reranks = True
    train_per_list = COMPRESSED_TRAIN_PER_LIST

    def make(self, quantizer: Any, dim: int, lists: int, code_bytes: int, sample_n: int) -> Any:
        return faiss.IndexIVFScalarQuantizer(
            quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )

    def code_bytes(self, n: int, dim: int, memory: int | None) -> int:
        return dim

    def trained_bytes(self, dim: int, code_bytes: int) -> int:
        return 2 * dim * 4  # each dimension's range

    def holds(self, index: Any) -> bool:
        return isinstance(index, faiss.IndexIVFScalarQuantizer)


FAMILY = IvfSqFamily()
