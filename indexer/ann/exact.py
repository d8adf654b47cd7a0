"""Exact search and recall: the brute force every index type is measured against."""

from __future__ import annotations

import numpy as np

from .base import AnnIndex, FloatArray, IdArray, RowSource, score_cut

#: rows scored at a time by exact search
EXACT_BLOCK = 65_536


def sample_queries(vectors: RowSource, n: int, seed: int = 0) -> FloatArray:
    """Held-out-like queries: stored vectors moved by noise, renormalised.

    Half land near the data (cosine ~0.85 to their source), half far from it (cosine ~0.55),
    as text queries do: they sit apart from the image vectors they find, and are the harder
    case for an inverted-list index.
    """
    rng = np.random.default_rng(seed)
    picked = np.asarray(
        vectors[rng.choice(len(vectors), min(n, len(vectors)), replace=False)], dtype=np.float32
    )
    noise = rng.standard_normal(picked.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    scale = np.where(np.arange(len(picked)) % 2 == 0, 0.6, 1.5).astype(np.float32)[:, None]
    queries = picked + scale * noise
    return (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)


def exact_top_k(
    vectors: RowSource, ids: IdArray, queries: FloatArray, k: int
) -> tuple[FloatArray, IdArray]:
    """Brute-force top-``k`` by inner product, best first.

    Rows are scored a block at a time and only each block's own top ``k`` is kept, so memory
    stays at one block's scores however many vectors there are.
    """
    k = min(k, len(ids))
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(ids), EXACT_BLOCK):
        block = np.asarray(vectors[start : start + EXACT_BLOCK], dtype=np.float32)
        scores = queries @ block.T
        if scores.shape[1] > k:
            keep = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            keep.sort(axis=1)  # block order, so equal scores rank as a full sort would
            scores = np.take_along_axis(scores, keep, axis=1)
            block_ids = ids[start + keep]
        else:
            block_ids = np.broadcast_to(ids[start : start + len(block)], scores.shape)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate([best_ids, block_ids], axis=1)
        top = np.argsort(-merged_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(merged_scores, top, axis=1)
        best_ids = np.take_along_axis(merged_ids, top, axis=1)
    return best_scores, best_ids


def ids_scoring_at_least(
    vectors: RowSource, ids: IdArray, query: FloatArray, min_score: float
) -> IdArray:
    """Brute force: the ``ids`` whose vectors' inner product with ``query`` is at least
    ``min_score``, in the order of ``ids``, read a block at a time."""
    cut = score_cut(min_score)
    found = [
        ids[start : start + EXACT_BLOCK][
            np.asarray(vectors[start : start + EXACT_BLOCK], dtype=np.float32) @ query >= cut
        ]
        for start in range(0, len(ids), EXACT_BLOCK)
    ]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def recall_at_k(
    ann: AnnIndex, vectors: RowSource, ids: IdArray, queries: FloatArray, k: int = 10
) -> float:
    """Mean share of the exact top-``k`` that ``ann`` returns."""
    _, truth = exact_top_k(vectors, ids, queries, k)
    return recall_against(ann, truth, queries)


def recall_against(ann: AnnIndex, truth: IdArray, queries: FloatArray) -> float:
    """Mean share of each query's ``truth`` ids that ``ann`` returns in as many results."""
    _, found = ann.search(queries, truth.shape[1])
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth.tolist(), found.tolist(), strict=True))
    return hits / float(truth.size or 1)
