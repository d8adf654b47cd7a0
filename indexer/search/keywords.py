"""Keyword and hybrid search: BM25 over the index's words, and its fusion with the dense ranking.

Three modes rank images for a text query:

- ``dense``: by the cosine of the image and text embeddings (the Retriever's own search);
- ``keyword``: by BM25 over the words of captions and text fields
  (:mod:`indexer.storage.keyword_index`); every image holding at least one of the query's words
  is a match, ``score`` is its BM25 score;
- ``hybrid``: the two rankings fused by reciprocal rank fusion (Cormack et al., 2009): an
  image's ``score`` is the sum, over the rankings that hold it, of ``1 / (RRF_K + rank)``, ranks
  counted from 1, with ``RRF_K`` = 60. Each ranking contributes its first
  ``max(HYBRID_DEPTH, k + offset)`` candidates, so pages inside the first ``HYBRID_DEPTH``
  results never change with paging; ties go to the better single rank, then the lower id.

A text without words matches no image by keyword (a hybrid search then ranks by meaning
alone). Filters and exclusions apply to both rankings before they are cut or fused.
``min_score`` stays a cosine cut-off: in hybrid mode it drops dense candidates under it;
keyword mode has no cosine and refuses it. With ``collapse``, the mode's whole ranking is cut
into groups as :func:`indexer.search.collapse.rank_groups` cuts the dense one, each group
placed where its best image ranks. Every keyword and hybrid hit lists the query words its
image holds (``matched_terms``).
"""

from __future__ import annotations

__all__ = ["DENSE", "HYBRID", "KEYWORD", "MODES", "WordRequest", "check_mode", "fuse", "search"]

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InvalidRequestError
from ..records import Facets, GroupSummary, Hit, MetadataValue, SearchResult
from ..storage import keyword_index
from ..storage.filters import Filters
from ..storage.metadata_db import Store
from .collapse import NEXT_SHOWN, RankedGroup, matches, rank_groups
from .modes import DENSE, HYBRID, KEYWORD, MODES

#: the constant of reciprocal rank fusion, as its authors chose it
RRF_K = 60
#: candidates each ranking contributes to a hybrid search at least
HYBRID_DEPTH = 100

Ranking = tuple[np.ndarray, np.ndarray]
#: the dense ranking of the query text: (want, allowed ids or None) -> (scores, ids), best first
DenseTop = Callable[[int, np.ndarray | None], Ranking]
#: hits of (scores, ids) with their group summaries
MakeHits = Callable[[np.ndarray, np.ndarray, Mapping[int, GroupSummary] | None], list[Hit]]


@dataclass(frozen=True)
class WordRequest:
    """A keyword or hybrid search: the query text and what the Retriever's search takes."""

    mode: str
    text: str
    k: int
    offset: int
    filters: Filters | None
    min_score: float | None
    exclude: np.ndarray
    count_facets: bool = False
    collapse: str | None = None


def check_mode(mode: str, *, text: str | None, alone: bool, level: str) -> None:
    """Refuse a mode this MedSearch lacks, and keyword or hybrid searches without a ``text``
    query, with another query kind (``alone`` False) or at a group ``level``."""
    if mode not in MODES:
        raise InvalidRequestError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == DENSE:
        return
    if text is None or not alone:
        raise InvalidRequestError(
            f"mode {mode} searches by text alone: give text and no other query"
        )
    if level != "image":
        raise InvalidRequestError(f"mode {mode} ranks images: give level image (or mode dense)")


def fuse(rankings: Sequence[np.ndarray], rrf_k: int = RRF_K) -> Ranking:
    """Reciprocal rank fusion of rankings of ids (best first): scores and ids, best first."""
    fused: dict[int, float] = {}
    best_rank: dict[int, int] = {}
    for ranked in rankings:
        for rank, image_id in enumerate(ranked.tolist(), start=1):
            fused[image_id] = fused.get(image_id, 0.0) + 1.0 / (rrf_k + rank)
            best_rank[image_id] = min(best_rank.get(image_id, rank), rank)
    order = sorted(fused, key=lambda i: (-fused[i], best_rank[i], i))
    ids = np.asarray(order, dtype=np.int64)
    return np.asarray([fused[i] for i in order], dtype=np.float64), ids


def search(
    store: Store, request: WordRequest, dense_top: DenseTop, make_hits: MakeHits
) -> SearchResult:
    """A keyword or hybrid search (:data:`KEYWORD`, :data:`HYBRID`), paged, collapsed and
    counted as the Retriever's dense search is."""
    started = time.perf_counter()
    if request.mode == KEYWORD and request.min_score is not None:
        raise InvalidRequestError(
            "min_score is a cosine cut-off: it applies in the dense and hybrid modes, not keyword"
        )
    terms = keyword_index.query_terms(request.text)
    allowed = store.ids_matching(request.filters) if request.filters else None
    if request.mode == KEYWORD:
        ranked = keyword_index.ranking(store.engine, terms, within=allowed)
        scores, ids = matches(*ranked, request.exclude, None)
    else:
        scores, ids = _hybrid(store, request, terms, allowed, dense_top)
    if request.collapse is not None:
        hits, total = _collapsed(store, request, scores, ids, make_hits)
    else:
        page = slice(request.offset, request.offset + request.k)
        hits, total = make_hits(scores[page], ids[page], None), len(ids)
    words = keyword_index.matched_terms(store.engine, terms, [hit.id for hit in hits])
    hits = [replace(hit, matched_terms=tuple(words.get(hit.id, ()))) for hit in hits]
    filters = request.filters
    suggestions = store.case_variants(filters) if filters and not total else {}
    searched = time.perf_counter()
    timings = {"embed": 0.0, "search": (searched - started) * 1000}
    facets: Facets | None = None
    if request.count_facets:
        facets = store.facets(filters=filters, within=np.unique(ids))
        timings["facets"] = (time.perf_counter() - searched) * 1000
    timings["total"] = (time.perf_counter() - started) * 1000
    return SearchResult(hits, total, timings, suggestions, facets)


def _hybrid(
    store: Store,
    request: WordRequest,
    terms: Sequence[str],
    allowed: np.ndarray | None,
    dense_top: DenseTop,
) -> Ranking:
    """The fused ranking of the first candidates of the dense and keyword rankings."""
    depth = max(HYBRID_DEPTH, request.k + request.offset)
    want = depth + len(request.exclude)
    dense_scores, dense_ids = matches(*dense_top(want, allowed), request.exclude, request.min_score)
    ranked = keyword_index.ranking(store.engine, terms, limit=want, within=allowed)
    _, word_ids = matches(*ranked, request.exclude, None)
    return fuse([dense_ids[:depth], word_ids[:depth]])


def _collapsed(
    store: Store, request: WordRequest, scores: np.ndarray, ids: np.ndarray, make_hits: MakeHits
) -> tuple[list[Hit], int]:
    """The page of groups of a ranking, and how many groups it holds."""
    field = request.collapse
    assert field is not None
    groups = rank_groups(scores, ids, store.groups.values_of(field, ids.tolist()))
    page = groups[request.offset : request.offset + request.k]
    sizes = store.groups.sizes(field, [group.value for group in page])
    summaries = {group.ids[0]: _summary(field, group, sizes) for group in page}
    best_ids = np.asarray([group.ids[0] for group in page], dtype=np.int64)
    best_scores = np.asarray([group.scores[0] for group in page], dtype=np.float64)
    return make_hits(best_scores, best_ids, summaries), len(groups)


def _summary(field: str, group: RankedGroup, sizes: Mapping[MetadataValue, int]) -> GroupSummary:
    following = zip(group.ids[1 : 1 + NEXT_SHOWN], group.scores[1 : 1 + NEXT_SHOWN], strict=True)
    return GroupSummary(
        field,
        group.value,
        sizes.get(group.value, 1) if group.value is not None else 1,
        len(group.ids),
        tuple((int(i), float(s)) for i, s in following),
    )
