"""FAISS inner-product indexes over unit vectors, keyed by image id.

One module per index family (flat, ivf, hnsw, and the compressed ivfsq and ivfpq, which
re-rank exactly from the vector file), named in :mod:`.registry`. ``auto``
(:mod:`.auto`) picks the most exact type that fits the memory budget; approximate types are
calibrated at build time so recall@10 against exact search reaches :data:`TARGET_RECALL`
(:mod:`.calibration`). Every index type is checked against brute force in the tests.
"""

from __future__ import annotations

from ..errors import InvalidRequestError
from ..storage.folder import FAISS_FILE, RECENT_FILE, IndexFolder
from ..storage.info import IndexInfo
from ..storage.vectors import Rows, VectorFile
from .auto import AUTO_FLAT_MAX, choose_index_type
from .base import ADD_CHUNK, AnnIndex, FloatArray, IdArray, RowSource, VectorTable, id_selector
from .calibration import RERANK_START, TARGET_RECALL, calibrate
from .exact import EXACT_BLOCK, exact_top_k, ids_scoring_at_least, recall_at_k, sample_queries
from .files import load, load_recent, save, save_recent, with_knobs
from .ivf import ivf_list_count
from .registry import INDEX_TYPES, family

__all__ = [
    "ADD_CHUNK",
    "AUTO_FLAT_MAX",
    "EXACT_BLOCK",
    "INDEX_TYPES",
    "TARGET_RECALL",
    "AnnIndex",
    "FloatArray",
    "IdArray",
    "RowSource",
    "build",
    "calibrate",
    "choose_index_type",
    "estimate_bytes",
    "exact_top_k",
    "id_selector",
    "ids_scoring_at_least",
    "ivf_list_count",
    "load",
    "load_published",
    "load_recent",
    "recall_at_k",
    "sample_queries",
    "save",
    "save_recent",
    "with_knobs",
]


def build(
    kind: str,
    dim: int,
    ids: IdArray,
    vectors: RowSource,
    *,
    seed: int = 0,
    memory: int | None = None,
    table: VectorTable | None = None,
) -> AnnIndex:
    """A new index of ``kind`` holding ``vectors`` under ``ids``, calibrated when approximate.

    ``vectors`` is only ever read in slices, so a lazy source keeps the build's memory at about
    the index itself. A re-ranking type also needs ``table``, the vectors by id, which a lazy
    :class:`~indexer.storage.vectors.Rows` brings itself. ``memory`` sizes a compressed code.
    """
    chosen = family(kind)
    if chosen.reranks and table is None:
        if not isinstance(vectors, Rows):
            raise InvalidRequestError(f"a {kind} index re-ranks from the vector file: give it")
        table = vectors.table
    index = chosen.create(dim, vectors, seed=seed, memory=memory)
    ann = AnnIndex(
        index,
        chosen,
        chosen.initial_param(index),
        RERANK_START if chosen.reranks else 0,
        table if chosen.reranks else None,
    )
    ann.add(ids, vectors)
    if (ann.search_param or ann.rerank_factor) and len(ids) > 0:
        calibrate(ann, ids, vectors, seed=seed)
    return ann


def load_published(
    folder: IndexFolder,
    info: IndexInfo,
    *,
    checked: bool = True,
    vectors: VectorFile | None = None,
    previous: AnnIndex | None = None,
    previous_info: IndexInfo | None = None,
) -> AnnIndex:
    """The published index of ``folder`` with the knobs ``info`` records, re-ranking (where
    its type does) from ``vectors``, by default the folder's vector file, with its recent part
    where the info records one. ``checked``: against the recorded checksums.

    ``previous``, the index of the version ``previous_info`` describes, lends its main part when
    ``index.faiss`` is the same file (same checksum): a new version that only changed the recent
    part is then loaded without reading the main file again, nor holding it twice.
    """
    recorded = info.checksums.get(FAISS_FILE)
    same_main = (
        previous is not None
        and previous_info is not None
        and recorded is not None
        and previous_info.checksums.get(FAISS_FILE) == recorded
    )
    rerank = info.rerank_factor or 0
    if same_main and previous is not None:
        ann = with_knobs(previous.index, FAISS_FILE, info.search_param, rerank)
    else:
        ann = load(
            folder.faiss_path,
            info.search_param,
            recorded if checked else None,
            rerank_factor=rerank,
        )
    if RECENT_FILE in info.checksums:
        recent_checksum = info.checksums[RECENT_FILE] if checked else None
        load_recent(ann, folder.recent_path, recent_checksum)
    if ann.family.reranks:
        ann.table = (vectors or folder.vector_file(info.dim)).row_table()
    return ann


def estimate_bytes(kind: str, n: int, dim: int, memory: int | None = None) -> int:
    """Memory an index of ``kind`` takes for ``n`` vectors of ``dim`` (sized for ``memory``)."""
    return family(kind).estimate_bytes(n, dim, memory)
