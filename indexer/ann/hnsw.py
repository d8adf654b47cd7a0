"""HNSW: a neighbour graph over full vectors; fast, but ids cannot be removed in place."""

from __future__ import annotations

from typing import Any

from .base import IndexFamily, RowSource, faiss
from .flat import ID_BYTES

#: graph neighbours per vector (twice as many on the bottom layer)
NEIGHBOURS = 32
#: efSearch calibration starts from
START_EF = 64


class HnswFamily(IndexFamily):
    name = "hnsw"
    removable = False

    def create(self, dim: int, vectors: RowSource, *, seed: int, memory: int | None) -> Any:
        hnsw = faiss.IndexHNSWFlat(dim, NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        return faiss.IndexIDMap2(hnsw)

    def estimate_bytes(self, n: int, dim: int, memory: int | None = None) -> int:
        # bottom-layer links, plus about one upper-layer link list per NEIGHBOURS vectors
        links = (2 * NEIGHBOURS + NEIGHBOURS // 16 + 2) * 4
        return n * (dim * 4 + ID_BYTES + links + 8)

    def initial_param(self, index: Any) -> int:
        return START_EF

    def param_limit(self, index: Any) -> int:
        return 4096

    def search_parameters(self, selector: Any, param: int) -> Any:
        return faiss.SearchParametersHNSW(sel=selector, efSearch=param)

    def holds(self, index: Any) -> bool:
        inner = faiss.downcast_index(index.index) if hasattr(index, "id_map") else index
        return isinstance(inner, faiss.IndexHNSW)


FAMILY = HnswFamily()
