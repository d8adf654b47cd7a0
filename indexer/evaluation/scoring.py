"""Exact scoring shared by the evaluation tasks: ranking blocks, relevance, per-query values.

Scores are inner products of unit vectors (the index's metric), computed in blocks of queries so
that a large index never needs a full queries x images matrix. Each task returns, per query, the
values the figures average (hit@K, reciprocal rank, precision ...), so the figures, their
bootstrap intervals and the per-group breakdown all come from the same arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from . import metrics

#: K of the recall figures
RECALL_KS = (1, 5, 10, 50)
#: cut-off of precision and average precision in image-to-image retrieval
IMAGE_K = 10
#: queries scored per block at most, and score cells per block at most (memory stays bounded)
BLOCK = 256
BLOCK_CELLS = 4_000_000

FloatMatrix = npt.NDArray[np.float32]
BoolMatrix = npt.NDArray[np.bool_]
#: rows of a block of queries -> (relevant, excluded) masks over the candidates
Relevance = Callable[[npt.NDArray[np.int64]], tuple[BoolMatrix, BoolMatrix]]
Progress = Callable[[int], None]

PerQuery = dict[str, npt.NDArray[np.float64]]


def ranked_blocks(
    queries: FloatMatrix,
    candidates: FloatMatrix,
    relevance: Relevance,
    progress: Progress,
    collapse: npt.NDArray[np.int64] | None = None,
) -> Iterator[tuple[npt.NDArray[np.int64], BoolMatrix, npt.NDArray[np.int64]]]:
    """Per block of queries: their rows, the ranked relevance and the number of relevant.

    Excluded candidates are scored -inf, so they rank last and never count as relevant. With
    ``collapse`` (a group code per candidate, -1: none) groups are ranked instead of candidates
    (:func:`collapsed`).
    """
    block = block_size(len(candidates))
    for start in range(0, len(queries), block):
        rows = np.arange(start, min(start + block, len(queries)), dtype=np.int64)
        scores = (queries[rows] @ candidates.T).astype(np.float64)
        relevant, excluded = relevance(rows)
        relevant = relevant & ~excluded
        scores[excluded] = -np.inf
        if collapse is not None:
            scores, relevant = collapsed(scores, relevant, collapse)
        order = metrics.rank_order(scores)
        ranked = np.take_along_axis(relevant, order, axis=1)
        yield rows, ranked, relevant.sum(axis=1)
        progress(len(rows))


def collapsed(
    scores: npt.NDArray[np.float64], relevant: BoolMatrix, collapse: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], BoolMatrix]:
    """Scores and relevance of groups instead of candidates, as collapsed search ranks them.

    A group (the candidates sharing a code; a candidate with code -1 is a group of its own)
    scores its best candidate's score, and is relevant when any of its candidates is relevant
    (and not excluded). A group whose candidates are all excluded scores -inf.
    """
    groups = group_index(collapse)
    count = int(groups.max()) + 1 if len(groups) else 0
    group_scores = np.full((len(scores), count), -np.inf)
    group_relevant = np.zeros((len(scores), count), dtype=bool)
    for row in range(len(scores)):
        np.maximum.at(group_scores[row], groups, scores[row])
        np.logical_or.at(group_relevant[row], groups, relevant[row])
    return group_scores, group_relevant


def group_index(codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each candidate's group number: its code, or a number of its own where the code is -1."""
    lacking = codes < 0
    numbered = codes.copy()
    start = int(codes.max()) + 1 if len(codes) else 0
    numbered[lacking] = start + np.arange(int(lacking.sum()))
    return numbered


def block_size(candidates: int) -> int:
    """Queries per block: up to :data:`BLOCK`, fewer over many candidates."""
    return max(1, min(BLOCK, BLOCK_CELLS // max(candidates, 1)))


def cross_modal(first_ranks: npt.NDArray[np.float64]) -> PerQuery:
    """Text-to-image or image-to-text per query: hit@K, reciprocal rank, first relevant rank."""
    out: PerQuery = {f"R@{k}": metrics.hit_at_k(first_ranks, k) for k in RECALL_KS}
    out["MRR"] = metrics.reciprocal_rank(first_ranks)
    out["median_rank"] = first_ranks
    return out


def first_ranks_exact(
    queries: FloatMatrix,
    candidates: FloatMatrix,
    relevance: Relevance,
    progress: Progress,
    collapse: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.float64]:
    """First relevant rank of every query over all candidates (or their groups)."""
    parts = [
        metrics.first_relevant_rank(ranked)
        for _, ranked, _ in ranked_blocks(queries, candidates, relevance, progress, collapse)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def same_image(
    query_rows: npt.NDArray[np.int64],
    candidate_rows: npt.NDArray[np.int64],
    groups: npt.NDArray[np.int64] | None,
) -> Relevance:
    """Relevance of cross-modal retrieval: the query's own image, and its group's with groups.

    ``query_rows`` / ``candidate_rows`` are image rows; ``groups`` the group code of every image
    row (-1 where an image has no group: then only its own image is relevant).
    """

    def relevance(block: npt.NDArray[np.int64]) -> tuple[BoolMatrix, BoolMatrix]:
        mine = query_rows[block][:, None]
        relevant = mine == candidate_rows[None, :]
        if groups is not None:
            query_groups = groups[mine]
            relevant |= (query_groups >= 0) & (query_groups == groups[candidate_rows][None, :])
        return relevant, np.zeros_like(relevant)

    return relevance


def same_label(
    query_rows: npt.NDArray[np.int64],
    labels: npt.NDArray[np.int64],
    *exclusions: npt.NDArray[np.int64] | None,
) -> Relevance:
    """Relevance of image-to-image retrieval over all images: same label, the query excluded.

    Each of ``exclusions`` (a group code per image row, -1: none) excludes every image of the
    query's own group too: its case or patient (leakage-free), its series.
    """
    every_row = np.arange(len(labels), dtype=np.int64)

    def relevance(block: npt.NDArray[np.int64]) -> tuple[BoolMatrix, BoolMatrix]:
        mine = query_rows[block][:, None]
        relevant = (labels[mine] == labels[None, :]) & (labels[None, :] >= 0)
        excluded = mine == every_row[None, :]
        for groups in exclusions:
            if groups is not None:
                query_groups = groups[mine]
                excluded |= (query_groups >= 0) & (query_groups == groups[None, :])
        return relevant, excluded

    return relevance


def image_to_image(ranked: BoolMatrix, n_relevant: npt.NDArray[np.int64]) -> PerQuery:
    """P@10, AP@10 and R-precision of each query (NaN where it has nothing relevant)."""
    return {
        f"P@{IMAGE_K}": metrics.precision_at_k(ranked, n_relevant, IMAGE_K),
        f"mAP@{IMAGE_K}": metrics.average_precision_at_k(ranked, n_relevant, IMAGE_K),
        "R-precision": metrics.r_precision(ranked, n_relevant),
    }


def image_to_image_exact(
    vectors: FloatMatrix,
    query_rows: npt.NDArray[np.int64],
    relevance: Relevance,
    progress: Progress,
    collapse: npt.NDArray[np.int64] | None = None,
) -> PerQuery:
    parts = [
        image_to_image(ranked, n_relevant)
        for _, ranked, n_relevant in ranked_blocks(
            vectors[query_rows], vectors, relevance, progress, collapse
        )
    ]
    return concat(parts)


def judged_retrieval(
    query_vectors: FloatMatrix,
    vectors: FloatMatrix,
    gains: list[dict[int, float]],
    progress: Progress,
) -> PerQuery:
    """nDCG@10 and recall@K of each judged query; ``gains[q]`` maps image rows to grades."""
    parts: list[PerQuery] = []
    block = block_size(len(vectors))
    for start in range(0, len(query_vectors), block):
        rows = list(range(start, min(start + block, len(query_vectors))))
        scores = (query_vectors[rows] @ vectors.T).astype(np.float64)
        order = metrics.rank_order(scores)
        grade_matrix = np.zeros(scores.shape)
        for i, q in enumerate(rows):
            for row, grade in gains[q].items():
                grade_matrix[i, row] = grade
        ranked = np.take_along_axis(grade_matrix, order, axis=1)
        n_relevant = (grade_matrix > 0).sum(axis=1)
        ideal = [np.asarray(list(gains[q].values())) for q in rows]
        part: PerQuery = {"nDCG@10": metrics.ndcg_at_k(ranked, ideal, 10)}
        for k in RECALL_KS:
            part[f"R@{k}"] = metrics.recall_at_k(ranked, n_relevant, k)
        parts.append(part)
        progress(len(rows))
    return concat(parts)


def zero_shot(
    cosines: FloatMatrix, probabilities_of: Callable[[FloatMatrix], Any], truth: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Predicted and true class of each labelled image from its cosines to the label prompts."""
    probabilities = probabilities_of(cosines)
    return metrics.predicted_classes(probabilities), np.asarray(truth, dtype=np.int64)


def concat(parts: list[PerQuery]) -> PerQuery:
    if not parts:
        return {}
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
