"""Every index type by name: a new type is a new family module plus an entry here."""

from __future__ import annotations

from typing import Any

from ..errors import IndexCorruptError, InvalidRequestError
from . import flat, hnsw, ivf, ivfpq, ivfsq
from .base import IndexFamily

FAMILIES: dict[str, IndexFamily] = {
    family.name: family
    for family in (flat.FAMILY, ivf.FAMILY, hnsw.FAMILY, ivfsq.FAMILY, ivfpq.FAMILY)
}
INDEX_TYPES = tuple(FAMILIES)


def family(kind: str) -> IndexFamily:
    """The family of index type ``kind``."""
    try:
        return FAMILIES[kind]
    except KeyError:
        raise InvalidRequestError(
            f"unknown index type {kind!r}: use auto, {', '.join(INDEX_TYPES)}"
        ) from None


def family_of(index: Any) -> IndexFamily:
    """The family of a FAISS index read from a file."""
    for candidate in FAMILIES.values():
        if candidate.holds(index):
            return candidate
    inner = faiss_name(index)
    raise IndexCorruptError(f"unsupported FAISS index {inner}")


def faiss_name(index: Any) -> str:
    return type(index.index if hasattr(index, "id_map") else index).__name__
