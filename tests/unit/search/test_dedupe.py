"""Folding copies in search results (exact copies always, near-duplicates with ``dedupe``),
against a brute-force fold of the exact ranking, on the sample with planted copies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from indexer.encoders import Encoder
from indexer.search.duplicates import IndexedVectors
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from tests.support.planted_duplicates import brute_force_fold, index_planted, midpoint_thresholds


@pytest.fixture(scope="module")
def planted(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, tiny_encoder: Encoder
) -> Iterator[Retriever]:
    root = tmp_path_factory.mktemp("planted-search")
    index_dir = index_planted(root, tiny_model_dir)
    settings = Settings(index_dir=index_dir, device="cpu", precision="fp32")
    retriever = Retriever.open(settings, encoder=tiny_encoder)
    yield retriever
    retriever.close()


def test_pages_equal_a_brute_force_fold(planted: Retriever) -> None:
    indexed = IndexedVectors.read(planted.folder, planted.store, planted.folder.read_info())
    every = set(indexed.ids.tolist())
    query = planted.embed_text("chest X-ray")
    for threshold in [None, *midpoint_thresholds(indexed.matrix, 3)]:
        truth = brute_force_fold(indexed, query, threshold, every)
        for k, offset in [(5, 0), (4, 3), (10, 10), (50, 0)]:
            result = planted.search(vector=query, k=k, offset=offset, dedupe=threshold)
            page = truth[offset : offset + k]
            assert [hit.id for hit in result.hits] == [i for i, _ in page], (threshold, k, offset)
            for hit, (_, copies) in zip(result.hits, page, strict=True):
                assert sorted(i for i, _ in hit.copies) == sorted(copies)
                scores = [s for _, s in hit.copies]
                assert scores == sorted(scores, reverse=True)
                assert all(s <= hit.score + 1e-6 for s in scores)


def test_exact_copies_fold_without_dedupe(planted: Retriever) -> None:
    [original] = [r.id for r in planted.store.get_many(range(1, 40)).values()
                  if r.path == "images/cxr_04.jpg"]  # fmt: skip
    vector = planted.vectors_for([original])[0]
    top = planted.search(vector=vector, k=3).hits[0]
    assert top.id == original  # the lowest id of equal scores
    copies = {planted.get(i).path for i, _ in top.copies}
    assert copies == {"planted/cxr_04_copy.jpg", "planted/again/cxr_04_copy.jpg"}
    assert top.to_dict()["copies"][0]["score"] == pytest.approx(top.score, abs=1e-5)
    # an id query leaves the image out: one of its copies stands for the others
    by_id = planted.search(image_id=original, k=3).hits[0]
    assert planted.get(by_id.id).path.endswith("cxr_04_copy.jpg")
    assert len(by_id.copies) == 1


def test_filters_and_min_score_apply_to_copies(planted: Retriever) -> None:
    indexed = IndexedVectors.read(planted.folder, planted.store, planted.folder.read_info())
    query = planted.embed_text("x-ray of the chest")
    threshold = midpoint_thresholds(indexed.matrix, 2)[-1]
    ids, values = planted.store.field_values("split")
    train = {i for i, v in zip(ids.tolist(), values, strict=True) if v == "train"}
    scores = np.sort(indexed.matrix @ query)[::-1]
    middle = len(scores) // 2
    floor = float(scores[middle] + scores[middle + 1]) / 2  # no score sits on the floor
    truth = brute_force_fold(indexed, query, threshold, train, floor)
    result = planted.search(
        vector=query, k=50, dedupe=threshold, filters={"split": "train"}, min_score=floor
    )
    assert [(h.id, sorted(i for i, _ in h.copies)) for h in result.hits] == [
        (i, sorted(c)) for i, c in truth
    ]


def test_collapsed_results_are_not_folded(planted: Retriever) -> None:
    collapsed = planted.search(text="x", collapse="split")
    folded = planted.search(text="x", dedupe=0.0, collapse="split")
    assert [(h.id, h.copies) for h in folded.hits] == [(h.id, ()) for h in collapsed.hits]
