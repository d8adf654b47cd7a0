"""The evaluation metrics against scikit-learn and hand-computed cases, ties and empty relevance."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    ndcg_score,
    top_k_accuracy_score,
)

from indexer.evaluation import metrics
from indexer.evaluation.bootstrap import mean_of, median_of, overlapping, percentile_interval


def _ranked(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    return np.take_along_axis(relevant, metrics.rank_order(scores), axis=1)


def test_ties_keep_the_lower_column_first() -> None:
    assert metrics.rank_order([[0.5, 0.9, 0.5, 0.1]]).tolist() == [[1, 0, 2, 3]]
    # a relevant candidate tied with an irrelevant one of lower column ranks second
    ranked = _ranked(np.array([[0.9, 0.9, 0.1]]), np.array([[False, True, False]]))
    assert metrics.first_relevant_rank(ranked).tolist() == [2.0]
    assert metrics.average_precision_at_k(ranked, [1], 10).tolist() == [0.5]
    assert metrics.reciprocal_rank([2.0]).tolist() == [0.5]


def test_hand_computed_ranks_precision_and_r_precision() -> None:
    relevant = np.array([[True, False, True, False, False, True]])
    scores = np.array([[0.1, 0.9, 0.8, 0.7, 0.2, 0.6]])
    ranked = _ranked(scores, relevant)  # order 1, 2, 3, 5, 4, 0 -> F T F T F T
    assert ranked.tolist() == [[False, True, False, True, False, True]]
    assert metrics.first_relevant_rank(ranked).tolist() == [2.0]
    assert metrics.precision_at_k(ranked, [3], 4).tolist() == [0.5]
    assert metrics.r_precision(ranked, [3]).tolist() == [pytest.approx(1 / 3)]
    assert metrics.recall_at_k(ranked, [3], 4).tolist() == [pytest.approx(2 / 3)]
    assert metrics.average_precision_at_k(ranked, [3], 10).tolist() == [
        pytest.approx((1 / 2 + 2 / 4 + 3 / 6) / 3)
    ]
    # cut at k = 2: one relevant hit among min(k, R) = 2 possible
    assert metrics.average_precision_at_k(ranked, [3], 2).tolist() == [pytest.approx(0.25)]


def test_empty_relevance_is_nan_and_nothing_found_is_rank_inf() -> None:
    ranked = np.zeros((1, 4), dtype=bool)
    assert np.isnan(metrics.precision_at_k(ranked, [0], 2)[0])
    assert np.isnan(metrics.average_precision_at_k(ranked, [0], 2)[0])
    assert np.isnan(metrics.r_precision(ranked, [0])[0])
    assert np.isnan(metrics.recall_at_k(ranked, [0], 2)[0])
    assert np.isnan(metrics.ndcg_at_k(np.zeros((1, 4)), [np.zeros(0)], 10)[0])
    first = metrics.first_relevant_rank(ranked)
    assert first.tolist() == [np.inf]
    assert metrics.reciprocal_rank(first).tolist() == [0.0]
    assert metrics.hit_at_k(first, 50).tolist() == [0.0]


def test_average_precision_matches_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = int(rng.integers(5, 40))
        scores = rng.permutation(n).astype(float)[None, :]  # distinct scores: no ties
        relevant = rng.random((1, n)) < 0.3
        relevant[0, int(rng.integers(n))] = True
        ranked = _ranked(scores, relevant)
        expected = average_precision_score(relevant[0], scores[0])
        ours = metrics.average_precision_at_k(ranked, relevant.sum(axis=1), n)
        assert ours[0] == pytest.approx(expected)


def test_hit_at_k_matches_top_k_accuracy() -> None:
    rng = np.random.default_rng(3)
    queries, candidates = 30, 12
    scores = rng.random((queries, candidates))
    own = rng.integers(0, candidates, queries)
    relevant = np.zeros_like(scores, dtype=bool)
    relevant[np.arange(queries), own] = True
    first = metrics.first_relevant_rank(_ranked(scores, relevant))
    for k in (1, 5, 10):
        expected = top_k_accuracy_score(own, scores, k=k, labels=np.arange(candidates))
        assert metrics.hit_at_k(first, k).mean() == pytest.approx(expected)


def test_ndcg_matches_scikit_learn() -> None:
    rng = np.random.default_rng(11)
    for _ in range(10):
        n = 25
        scores = rng.permutation(n).astype(float)[None, :]
        gains = np.where(rng.random(n) < 0.3, rng.integers(1, 4, n), 0).astype(float)
        gains[0] = 2.0
        ranked = np.take_along_axis(gains[None, :], metrics.rank_order(scores), axis=1)
        ours = metrics.ndcg_at_k(ranked, [gains[gains > 0]], 10)
        assert ours[0] == pytest.approx(ndcg_score(gains[None, :], scores, k=10))


def test_classification_scores_match_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 4, 60)
    predicted = np.where(rng.random(60) < 0.6, truth, rng.integers(0, 4, 60))
    predicted[predicted == 3] = 2  # class 3 never predicted: precision 0
    matrix = metrics.confusion_matrix(truth, predicted, 5)  # class 4: no image has it
    scores = metrics.classification_scores(matrix)
    assert scores["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert scores["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, predicted))
    expected_f1 = f1_score(truth, predicted, labels=[0, 1, 2, 3], average="macro", zero_division=0)
    assert scores["macro_f1"] == pytest.approx(expected_f1)
    assert matrix.sum() == 60 and matrix[:, 3].sum() == 0


def test_prediction_ties_go_to_the_first_label() -> None:
    assert metrics.predicted_classes([[0.4, 0.4, 0.2], [0.1, 0.3, 0.3]]).tolist() == [0, 1]


def test_bootstrap_is_seeded_and_brackets_the_figure() -> None:
    values = np.random.default_rng(0).random(200)
    first = percentile_interval(mean_of(values), 200, 500, seed=1)
    assert first == percentile_interval(mean_of(values), 200, 500, seed=1)
    assert first is not None and first[0] < values.mean() < first[1]
    assert percentile_interval(mean_of(np.full(10, 0.5)), 10, 100, seed=0) == (0.5, 0.5)
    assert percentile_interval(median_of(np.arange(5.0)), 5, 100, seed=0) is not None
    assert percentile_interval(mean_of(np.zeros(0)), 0, 100, seed=0) is None
    assert percentile_interval(mean_of(values), 200, 0, seed=0) is None
    assert overlapping((0.1, 0.3), (0.3, 0.5)) and not overlapping((0.1, 0.2), (0.3, 0.5))
