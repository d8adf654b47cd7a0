"""The Retriever every front end uses: filters against brute force, paging, errors, reloads."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer.ann import exact_top_k
from indexer.encoders import Encoder
from indexer.errors import InvalidRequestError, NotFoundError
from indexer.retriever import Retriever
from indexer.settings import Settings
from tests.helpers import SAMPLE_COUNT, SAMPLE_IMAGES, run_cli


def _brute_force(retriever: Retriever, query: np.ndarray, ids: np.ndarray, k: int) -> list[int]:
    vectors = retriever.vectors_for(ids.tolist())
    _, top = exact_top_k(vectors, ids, query[None, :], k)
    return top[0].tolist()


@pytest.mark.parametrize(
    "filters",
    [
        {"modality": "CT"},
        {"label": ["ARDS", "Pneumocystis"]},
        {"body_part": "chest", "label": "No Finding"},
        {"format": "dicom"},
        {"rows": 512},
    ],
)
def test_filters_return_min_k_matches_in_score_order(retriever: Retriever, filters: dict) -> None:
    allowed = retriever.store.ids_matching(filters)
    assert 0 < len(allowed) < SAMPLE_COUNT
    query = retriever.embed_text("chest X-ray with pleural effusion")
    for k in (1, 3, 20):
        result = retriever.search(vector=query, k=k, filters=filters)
        assert result.total == len(allowed)
        assert [h.id for h in result.hits] == _brute_force(retriever, query, allowed, k)
        assert len(result.hits) == min(k, len(allowed))


def test_a_filter_matching_nothing_returns_nothing(retriever: Retriever) -> None:
    result = retriever.search(text="x-ray", filters={"modality": "PET"})
    assert result.hits == [] and result.total == 0


def test_offset_pages_through_the_ranking(retriever: Retriever) -> None:
    everything = [h.id for h in retriever.search(text="fundus photograph", k=SAMPLE_COUNT).hits]
    pages = [
        h.id
        for off in range(0, SAMPLE_COUNT, 7)
        for h in retriever.search(text="fundus photograph", k=7, offset=off).hits
    ]
    assert pages == everything


def test_min_score_and_exclusions(retriever: Retriever) -> None:
    ranked = retriever.search(image_id=3, k=10).hits
    assert ranked[0].id == 3
    floor = ranked[4].score
    kept = retriever.search(image_id=3, k=10, min_score=floor).hits
    assert [h.id for h in kept] == [h.id for h in ranked if h.score >= floor]
    similar = retriever.search(image_id=3, k=5, exclude_ids=[3]).hits
    assert [h.id for h in similar] == [h.id for h in ranked[1:6]]


def test_classify_gives_probabilities(retriever: Retriever) -> None:
    labels = ["chest X-ray", "brain MRI", "histopathology"]
    result = retriever.classify(labels, image_id=1)
    assert sorted(r.label for r in result) == sorted(labels)
    assert sum(r.probability for r in result) == pytest.approx(1.0, abs=1e-6)
    assert [r.probability for r in result] == sorted((r.probability for r in result), reverse=True)
    image = Image.open(SAMPLE_IMAGES / "cxr_01.jpg")
    by_image = retriever.classify(labels, image=image, template="an image of {}")
    assert len(by_image) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"text": "a", "image_id": 1},
        {"text": "   "},
        {"text": "a", "k": 0},
        {"text": "a", "k": 1001},
        {"text": "a", "k": "5"},
        {"text": "a", "offset": -1},
        {"text": "a", "min_score": float("nan")},
        {"text": "a", "filters": {"no_such_field": "x"}},
        {"text": "a", "filters": {"modality": []}},
        {"text": "a", "filters": {"modality": {"$ne": 1}}},
        {"vector": [0.1, 0.2]},
        {"vector": [float("inf")] * 128},
        {"vector": [0.0] * 128},
        {"vector": "abc"},
        {"image_id": "3"},
    ],
)
def test_bad_queries_raise_invalid_request(retriever: Retriever, kwargs: dict) -> None:
    with pytest.raises(InvalidRequestError):
        retriever.search(**kwargs)


def test_unknown_ids_raise_not_found(retriever: Retriever) -> None:
    with pytest.raises(NotFoundError):
        retriever.search(image_id=10_000)
    with pytest.raises(NotFoundError):
        retriever.get(0)


@pytest.mark.parametrize(
    "labels, template",
    [
        ([], "{}"),
        ("chest", "{}"),
        (["a", ""], "{}"),
        (["a"], "no placeholder"),
        (["a"] * 101, "{}"),
    ],
)
def test_bad_classify_requests(retriever: Retriever, labels: object, template: str) -> None:
    with pytest.raises(InvalidRequestError):
        retriever.classify(labels, image_id=1, template=template)  # type: ignore[arg-type]


def test_facets_count_the_corpus(retriever: Retriever) -> None:
    facets = retriever.facets()
    assert sum(n for _, n in facets["format"]) == SAMPLE_COUNT
    assert dict(facets["modality"])["CT"] == 3
    assert "width" in retriever.filterable_fields() and "width" not in facets


def test_a_running_retriever_picks_up_a_new_version(
    tmp_path: Path, tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("cxr_01.jpg", "cxr_02.jpg"):
        shutil.copy(SAMPLE_IMAGES / name, corpus / name)
    index_dir = tmp_path / "index"
    args = ("--index", index_dir, "--model", tiny_model_dir, "--device", "cpu", "--quiet")
    run_cli("index", corpus, *args)
    retriever = Retriever.open(Settings(index_dir=index_dir, device="cpu"), encoder=tiny_encoder)
    try:
        assert retriever.info()["count"] == 2
        assert retriever.refresh() is False
        shutil.copy(SAMPLE_IMAGES / "fundus_01.jpg", corpus / "fundus_01.jpg")
        run_cli("index", corpus, *args)
        assert retriever.refresh() is True
        assert retriever.info()["count"] == 3
        assert len(retriever.search(text="retina", k=10).hits) == 3
    finally:
        retriever.close()


def test_a_repeated_image_query_is_embedded_once(
    sample_settings: Settings, tiny_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real_encode = tiny_encoder.encode_prepared

    def counting_encode(images):  # type: ignore[no-untyped-def]
        calls.append(len(images))
        return real_encode(images)

    monkeypatch.setattr(tiny_encoder, "encode_prepared", counting_encode)
    fresh = Retriever.open(sample_settings, encoder=tiny_encoder)
    try:
        image = Image.open(SAMPLE_IMAGES / "fundus_01.jpg").convert("RGB")
        first = fresh.search(image=image, k=5)
        # Paging and filtering send the same picture again, here re-encoded losslessly as PNG.
        png = io.BytesIO()
        image.save(png, "PNG")
        again = fresh.search(image=Image.open(png), k=5, offset=5)
        other = fresh.search(image=image.rotate(90), k=5)
    finally:
        fresh.close()
    assert calls == [1, 1]  # the first image and the rotated one
    assert [h.id for h in again.hits] == [
        h.id for h in fresh.search(vector=fresh.embed_image(image), k=10).hits[5:]
    ]
    expected = tiny_encoder.encode_images([image])[0]
    assert float(np.dot(fresh.embed_image(image), expected)) >= 0.99999
    assert first.hits and other.hits
