"""Retrieval and classification metrics, per query, in plain numpy.

A ranking is a matrix with one row per query: ``ranked[q, i]`` is the relevance (True/False, or
a grade for nDCG) of the candidate at rank ``i + 1`` of query ``q``. :func:`rank_order` makes the
rankings, and fixes how ties are broken: candidates with equal scores keep their column order,
and columns are in ascending image id, so among equal scores the lower id ranks first. The
result is deterministic and neither flatters nor penalises a model on average.

Every per-query function returns one value per row, so the bootstrap can resample queries.
A query without any relevant candidate ("empty relevance") has no precision, recall or average
precision: those functions give NaN for it, and the caller leaves it out (and says how many
queries remained). A query whose relevant candidates all fall outside a truncated ranking (the
served index returns only the top results) has first rank ``inf`` and reciprocal rank 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def rank_order(scores: npt.ArrayLike) -> IntArray:
    """Column indices of each row of ``scores`` from best to worst (ties: lower column first)."""
    array = np.asarray(scores, dtype=np.float64)
    return np.argsort(-array, axis=1, kind="stable").astype(np.int64)


def first_relevant_rank(ranked: npt.ArrayLike) -> FloatArray:
    """1-based rank of the first relevant candidate of each row; ``inf`` when there is none."""
    relevant = np.asarray(ranked) > 0
    if relevant.shape[1] == 0:
        return np.full(relevant.shape[0], np.inf)
    first = relevant.argmax(axis=1).astype(np.float64) + 1.0
    first[~relevant.any(axis=1)] = np.inf
    return first


def hit_at_k(first_ranks: npt.ArrayLike, k: int) -> FloatArray:
    """1.0 where a relevant candidate is among the top ``k``, else 0.0 (the papers' R@K)."""
    return (np.asarray(first_ranks, dtype=np.float64) <= k).astype(np.float64)


def reciprocal_rank(first_ranks: npt.ArrayLike) -> FloatArray:
    """1 / first relevant rank (0 when nothing relevant was ranked); its mean is the MRR."""
    return 1.0 / np.asarray(first_ranks, dtype=np.float64)


def precision_at_k(ranked: npt.ArrayLike, n_relevant: npt.ArrayLike, k: int) -> FloatArray:
    """Share of the top ``k`` that is relevant (NaN for a query with no relevant candidate)."""
    relevant = np.asarray(ranked) > 0
    values = relevant[:, :k].sum(axis=1) / float(k)
    return _nan_where_empty(values, n_relevant)


def recall_at_k(ranked: npt.ArrayLike, n_relevant: npt.ArrayLike, k: int) -> FloatArray:
    """Share of a query's relevant candidates found in its top ``k`` (NaN when it has none)."""
    relevant = np.asarray(ranked) > 0
    total = np.asarray(n_relevant, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = relevant[:, :k].sum(axis=1) / total
    return _nan_where_empty(values, n_relevant)


def average_precision_at_k(ranked: npt.ArrayLike, n_relevant: npt.ArrayLike, k: int) -> FloatArray:
    """AP@k: the mean of precision@i over the relevant ranks i <= k, divided by min(k, R).

    With every relevant candidate in the top ``k`` it equals the full average precision.
    """
    relevant = (np.asarray(ranked) > 0)[:, :k].astype(np.float64)
    total = np.asarray(n_relevant, dtype=np.float64)
    positions = np.arange(1, relevant.shape[1] + 1, dtype=np.float64)
    precision_at_each = np.cumsum(relevant, axis=1) / positions
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (precision_at_each * relevant).sum(axis=1) / np.minimum(total, k)
    return _nan_where_empty(values, n_relevant)


def r_precision(ranked: npt.ArrayLike, n_relevant: npt.ArrayLike) -> FloatArray:
    """Precision at rank R, R being the query's number of relevant candidates (NaN if R = 0)."""
    relevant = np.asarray(ranked) > 0
    total = np.asarray(n_relevant, dtype=np.int64)
    found = np.array([relevant[q, : total[q]].sum() for q in range(len(total))], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = found / total
    return _nan_where_empty(values, n_relevant)


def ndcg_at_k(ranked_gains: npt.ArrayLike, ideal_gains: list[FloatArray], k: int) -> FloatArray:
    """nDCG@k with linear gains: sum of gain / log2(rank + 1), over the same of the ideal order.

    ``ideal_gains[q]`` holds every judged gain of query ``q`` (any order); NaN when none is > 0.
    """
    gains = np.asarray(ranked_gains, dtype=np.float64)[:, :k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    dcg = (gains * discounts[: gains.shape[1]]).sum(axis=1)
    values = np.full(len(ideal_gains), np.nan)
    for q, judged in enumerate(ideal_gains):
        best = np.sort(np.asarray(judged, dtype=np.float64))[::-1][:k]
        ideal = float((best * discounts[: len(best)]).sum())
        if ideal > 0:
            values[q] = dcg[q] / ideal
    return values


def confusion_matrix(truth: npt.ArrayLike, predicted: npt.ArrayLike, n_classes: int) -> IntArray:
    """``matrix[t, p]``: how many images of class ``t`` were predicted as class ``p``."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def classification_scores(matrix: npt.ArrayLike) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro-F1 of a confusion matrix.

    Only classes that occur among the true labels count in the balanced accuracy and macro-F1
    (a label nobody has cannot be recalled); a class never predicted has precision 0.
    """
    counts = np.asarray(matrix, dtype=np.float64)
    total = counts.sum()
    correct = np.diag(counts)
    true_per_class = counts.sum(axis=1)
    predicted_per_class = counts.sum(axis=0)
    present = true_per_class > 0
    recall = np.divide(correct, true_per_class, out=np.zeros_like(correct), where=present)
    precision = np.divide(
        correct, predicted_per_class, out=np.zeros_like(correct), where=predicted_per_class > 0
    )
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros_like(correct), where=denominator > 0
    )
    return {
        "accuracy": float(correct.sum() / total) if total else float("nan"),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
    }


def predicted_classes(probabilities: npt.ArrayLike) -> IntArray:
    """The most probable class of each row (ties: the lower class index, i.e. label order)."""
    return np.asarray(np.argmax(np.asarray(probabilities), axis=1), dtype=np.int64)


def _nan_where_empty(values: Any, n_relevant: npt.ArrayLike) -> FloatArray:
    out = np.asarray(values, dtype=np.float64).copy()
    out[np.asarray(n_relevant) == 0] = np.nan
    return out
