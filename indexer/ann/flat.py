"""Exact search over every stored vector, held in full (float32) by FAISS."""

from __future__ import annotations

from typing import Any

from .base import IndexFamily, RowSource, faiss

#: bytes per vector an id map adds (the id itself)
ID_BYTES = 8


class FlatFamily(IndexFamily):
    name = "flat"
    exact_range = True

    def create(self, dim: int, vectors: RowSource, *, seed: int, memory: int | None) -> Any:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def estimate_bytes(self, n: int, dim: int, memory: int | None = None) -> int:
        return n * (dim * 4 + ID_BYTES)

    def holds(self, index: Any) -> bool:
        inner = faiss.downcast_index(index.index) if hasattr(index, "id_map") else index
        return isinstance(inner, faiss.IndexFlat)


FAMILY = FlatFamily()
