"""``medsearch eval --exclude-duplicates COS``: the leakage-free image -> image figures leave
out each query's near-duplicate cluster, checked against brute force on the sample with
planted copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.search.duplicates import IndexedVectors
from indexer.storage.folder import IndexFolder
from tests.support.planted_duplicates import (
    brute_force_clusters,
    index_planted,
    midpoint_thresholds,
)
from tests.unit.evaluation.test_eval_series import eval_json


@pytest.fixture(scope="module")
def planted_index(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("planted-eval")
    index_dir = index_planted(root, tiny_model_dir)
    return index_dir


def brute_force_precision(index_dir: Path, threshold: float) -> float:
    """Mean P@10 of same-modality image -> image, the query and its cluster left out."""
    folder = IndexFolder(index_dir)
    with folder.open_store() as store:
        indexed = IndexedVectors.read(folder, store, folder.read_info())
        ids, values = store.field_values("modality")
    label = dict(zip(ids.tolist(), values, strict=True))
    clusters = brute_force_clusters(indexed.ids, indexed.matrix, indexed.checksums, threshold)
    cluster_of = {i: c for c in clusters for i in c}
    scores = indexed.matrix @ indexed.matrix.T
    found = []
    for q, query in enumerate(indexed.ids.tolist()):
        if label.get(query) is None:
            continue
        left_out = cluster_of.get(query, frozenset()) | {query}
        rows = [r for r, i in enumerate(indexed.ids.tolist()) if i not in left_out]
        relevant = [label.get(int(indexed.ids[r])) == label[query] for r in rows]
        if not any(relevant):
            continue
        order = sorted(range(len(rows)), key=lambda j: (-scores[q, rows[j]], rows[j]))
        found.append(sum(relevant[j] for j in order[:10]) / 10)
    return float(np.mean(found))


def test_leakage_free_figures_leave_near_duplicates_out(planted_index: Path) -> None:
    folder = IndexFolder(planted_index)
    with folder.open_store() as store:
        indexed = IndexedVectors.read(folder, store, folder.read_info())
    threshold = midpoint_thresholds(indexed.matrix, 3)[-1]
    # the brute force leaves no series out; modalities: many images share one
    own = ("--include-own-series", "--label-field", "modality")
    data = eval_json(planted_index, *own, "--exclude-duplicates", str(threshold))
    (entry,) = data["indexes"]
    assert data["settings"]["exclude_duplicates"] == threshold
    figures = entry["image_to_image_leakage_free"]
    assert figures["P@10"] == pytest.approx(brute_force_precision(planted_index, threshold))
    # without the option and without a group field there is no leakage-free task
    plain = eval_json(planted_index, *own)["indexes"][0]
    assert "image_to_image_leakage_free" not in plain
    # near copies flatter the plain figures
    assert plain["image_to_image"]["P@10"] >= figures["P@10"]
