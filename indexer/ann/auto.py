"""``--index-type auto``: the most exact index type that fits the memory budget.

Exact (flat) up to :data:`AUTO_FLAT_MAX` vectors, then IVF-Flat, then the compressed types:
8-bit scalar quantisation, then product quantisation with the largest code that fits.
"""

from __future__ import annotations

from ..errors import IndexMemoryError
from ..sizes import format_size
from .registry import FAMILIES, family

AUTO_FLAT_MAX = 100_000
#: the types auto tries beyond flat, most exact first
_BY_EXACTNESS = ("ivf", "ivfsq", "ivfpq")
#: fewer vectors than this cannot train an inverted-list index: it is flat until they grow
MIN_TRAINING_VECTORS = 2


def choose_index_type(requested: str, n: int, dim: int, memory: int) -> str:
    """The concrete index type for ``requested`` (auto or a type) at ``n`` vectors of ``dim``.

    ``memory`` (bytes) bounds what auto picks; raises
    :class:`~indexer.errors.IndexMemoryError` when not even the smallest type fits.
    """
    if requested != "auto":
        wanted = family(requested)
        return "flat" if wanted.inverted_lists and n < MIN_TRAINING_VECTORS else requested
    if n < MIN_TRAINING_VECTORS or (
        n <= AUTO_FLAT_MAX and FAMILIES["flat"].estimate_bytes(n, dim) <= memory
    ):
        return "flat"
    for kind in _BY_EXACTNESS:
        if FAMILIES[kind].estimate_bytes(n, dim, memory) <= memory:
            return kind
    smallest = FAMILIES[_BY_EXACTNESS[-1]].estimate_bytes(n, dim, memory)
    raise IndexMemoryError(
        f"an index of {n:,} vectors of dimension {dim} needs at least {format_size(smallest)} "
        f"of memory, more than the {format_size(memory)} allowed: raise "
        "MEDSEARCH_INDEX_MEMORY (or --index-memory)"
    )
