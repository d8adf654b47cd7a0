"""Folding copies in search results: exact copies always, near-duplicates with ``dedupe``.

The ranking (filters, exclusions and ``min_score`` applied; equal scores by id) is walked best
first. A result is *folded* into the highest-ranked result kept before it that is an exact copy
of it (the same sha256) or, with ``dedupe=COS``, whose stored vector is within cosine ``COS``
of its own; otherwise it is kept. ``k`` and ``offset`` count kept results, and each kept result
lists the results folded into it as its ``copies``.

Which results are kept depends only on the ranking above them, so the index is asked for more
candidates until the page's results are found (or every eligible image is ranked exactly). A
page result's copies are found exactly, wherever they rank: the images within ``COS`` of it
(an exact range search) and its exact copies, kept when they are eligible, rank after it and
are not within reach of a result kept before it. With an exact index the page equals a
brute-force fold of the exact ranking.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..id_sets import in_sorted
from .collapse import CANDIDATE_GROWTH, Ranking, matches

#: (id, score) of a result folded into a kept one
Copy = tuple[int, float]


@dataclass(frozen=True)
class FoldSource:
    """What folding reads: the index's ranking, stored vectors, checksums and range search."""

    #: the index's best ``n`` candidates among the eligible images
    top: Callable[[int], Ranking]
    #: every eligible image ranked exactly
    exact: Callable[[], Ranking]
    #: stored vectors of ids, float32 [n, dim]
    vectors_of: Callable[[Sequence[int]], np.ndarray]
    #: sha256 of ids
    checksums_of: Callable[[Sequence[int]], dict[int, str]]
    #: ids holding each sha256
    images_with: Callable[[Sequence[str]], dict[str, list[int]]]
    #: every image whose stored vector scores at least the cosine against a unit vector
    within: Callable[[np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class FoldRequest:
    """One page of a folded search."""

    query: np.ndarray
    k: int
    offset: int
    #: cosine within which results fold (None: exact copies only)
    threshold: float | None
    eligible: int
    allowed: np.ndarray | None
    exclude: np.ndarray
    min_score: float | None


@dataclass(frozen=True)
class FoldedResult:
    id: int
    score: float
    copies: tuple[Copy, ...]


def folded_page(source: FoldSource, request: FoldRequest) -> list[FoldedResult]:
    """The page's kept results, best first, each with its copies (best first)."""
    wanted = request.k + request.offset
    if wanted == 0 or request.eligible == 0:
        return []
    # as many candidates as the page needs: a compressed index re-ranks rerank_factor rows for
    # each, and results rarely fold; the loop asks for more when some do
    want = wanted + len(request.exclude)
    while True:
        exhausted = want >= request.eligible
        found_scores, found_ids = source.exact() if exhausted else source.top(want)
        scores, ids = matches(found_scores, found_ids, request.exclude, request.min_score)
        checksums = source.checksums_of(ids.tolist())
        scores = _copies_tied(scores, ids, checksums)
        order = np.lexsort((ids, -scores))
        scores, ids = scores[order], ids[order]
        kept = _kept(source, ids, checksums, request.threshold, wanted)
        floor_reached = (
            request.min_score is not None
            and len(found_scores) > 0
            and found_scores[-1] < request.min_score
        )
        if len(kept) >= wanted or exhausted or floor_reached:
            break
        want = request.eligible if len(found_ids) < want else want * CANDIDATE_GROWTH
    kept_sums = {checksums[int(ids[i])] for i in kept if int(ids[i]) in checksums}
    # what every result's copies need, read once for the page
    twins = source.images_with(sorted(kept_sums)) if kept_sums else {}
    kept_ids = [_first_twin(int(ids[i]), request, checksums, twins) for i in kept]
    page = kept_ids[request.offset : wanted]
    if not page:
        return []
    page_vectors = source.vectors_of(page)
    return [
        FoldedResult(
            image_id,
            score,
            _copies(source, request, kept_ids, position, checksums, twins, own_vector),
        )
        for position, (image_id, score, own_vector) in enumerate(
            zip(page, _scores(page_vectors, request.query), page_vectors, strict=True),
            start=request.offset,
        )
    ]


def _first_twin(
    image_id: int, request: FoldRequest, checksums: dict[int, str], twins: dict[str, list[int]]
) -> int:
    """The kept result as the lowest eligible id among its exact copies. They hold one vector,
    so they tie, and ties rank by id: a copy with a lower id may lie past the candidates the
    index gave (``checksums`` learns the id's checksum)."""
    checksum = checksums.get(image_id)
    if checksum is None:
        return image_id
    others = np.asarray(twins.get(checksum, []), dtype=np.int64)
    others = others[(others < image_id) & ~in_sorted(others, request.exclude)]
    if request.allowed is not None:
        others = others[in_sorted(others, request.allowed)]
    if not len(others):
        return image_id
    first = int(others.min())
    checksums[first] = checksum
    return first


def _copies_tied(scores: np.ndarray, ids: np.ndarray, checksums: dict[int, str]) -> np.ndarray:
    """The scores with exact copies given one score (their best): they hold the same vector,
    and only the rounding of a matrix product over different rows can tell them apart."""
    best: dict[str, float] = {}
    for image_id, score in zip(ids.tolist(), scores.tolist(), strict=True):
        checksum = checksums.get(image_id)
        if checksum is not None:
            best[checksum] = max(best.get(checksum, score), score)
    tied = [
        best.get(checksums.get(i, ""), s)
        for i, s in zip(ids.tolist(), scores.tolist(), strict=True)
    ]
    return np.asarray(tied, dtype=scores.dtype)


def _kept(
    source: FoldSource,
    ids: np.ndarray,
    checksums: dict[int, str],
    threshold: float | None,
    wanted: int,
) -> list[int]:
    """Positions of the ranking's kept results, up to ``wanted`` of them."""
    vectors = source.vectors_of(ids.tolist()) if threshold is not None and len(ids) else None
    kept: list[int] = []
    kept_checksums: set[str] = set()
    for position, image_id in enumerate(ids.tolist()):
        if len(kept) == wanted:
            break
        checksum = checksums.get(image_id)
        if checksum in kept_checksums:
            continue
        if vectors is not None and kept:
            if float(np.max(vectors[kept] @ vectors[position])) >= np.float32(threshold):
                continue
        kept.append(position)
        if checksum is not None:
            kept_checksums.add(checksum)
    return kept


def _scores(vectors: np.ndarray, query: np.ndarray) -> list[float]:
    """Scores of stored vectors, each row summed on its own so that an image's score does not
    depend on which other images share its page."""
    products = vectors.astype(np.float64) * query.astype(np.float64)
    return [float(np.float32(s)) for s in products.sum(axis=1)]


def _copies(
    source: FoldSource,
    request: FoldRequest,
    kept: list[int],
    position: int,
    checksums: dict[int, str],
    images_with: dict[str, list[int]],
    own_vector: np.ndarray,
) -> tuple[Copy, ...]:
    """The eligible images folded into the kept result at ``position``, best first
    (``checksums``: of the kept results at least; ``images_with``: the images holding each
    kept result's checksum; ``own_vector``: the result's stored vector)."""
    own = kept[position]
    twins = images_with.get(checksums[own], []) if own in checksums else []
    candidates = set(twins)
    if request.threshold is not None:
        candidates.update(source.within(own_vector, request.threshold).tolist())
    candidates -= set(kept)
    candidates -= set(request.exclude.tolist())
    if candidates and request.allowed is not None:
        listed = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        candidates = set(listed[in_sorted(listed, request.allowed)].tolist())
    if not candidates:
        return ()
    ids = sorted(candidates)
    vectors = source.vectors_of(ids)
    own_score = float(own_vector @ request.query)
    # an exact copy holds the very same vector: its score is the result's own, whatever the
    # rounding of a matrix product over other rows
    twin_set = set(twins)
    scores = np.where(np.isin(ids, list(twin_set)), np.float32(own_score), vectors @ request.query)
    reached = np.zeros(len(ids), dtype=bool)
    earlier = kept[:position]
    if earlier:
        # an image within reach of a result kept higher up is folded into that one
        earlier_sums = {checksums[i] for i in earlier if i in checksums}
        candidate_sums = source.checksums_of(ids)
        reached |= np.asarray([candidate_sums.get(i) in earlier_sums for i in ids])
        if request.threshold is not None:
            near = vectors @ source.vectors_of(earlier).T
            reached |= near.max(axis=1) >= np.float32(request.threshold)
    copies = [
        (image_id, float(score))
        for image_id, score, gone in zip(ids, scores.tolist(), reached.tolist(), strict=True)
        if not gone
        and (request.min_score is None or score >= request.min_score)
        and (score < own_score or (score == own_score and image_id > own))
    ]
    return tuple(sorted(copies, key=lambda c: (-c[1], c[0])))
