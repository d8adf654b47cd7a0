"""The Retriever every front end uses: filters against brute force, paging, errors, reloads."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer.ann import exact_top_k
from indexer.encoders import Encoder
from indexer.errors import InvalidRequestError, NotFoundError
from indexer.prompts import TEMPLATE_RULE
from indexer.search import snapshot as snapshot_module
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from tests.support.facet_truth import (
    as_counters,
    brute_force_facets,
    cut_below_rank,
    scores_of_every_image,
)
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_IMAGES, index_sample, run_cli


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
@pytest.mark.parametrize("brute_force_max", [snapshot_module.BRUTE_FORCE_MAX, 0])
def test_filters_return_min_k_matches_in_score_order(
    retriever: Retriever, filters: dict, brute_force_max: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0: every filter goes through the ANN index with an id selector, as large filters do
    monkeypatch.setattr(snapshot_module, "BRUTE_FORCE_MAX", brute_force_max)
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
    assert result.hits == [] and result.total == 0 and result.suggestions == {}
    assert "suggestions" not in result.to_dict()
    # a text value in another case than the stored one is named in the empty result
    result = retriever.search(text="x-ray", filters={"modality": ["ct", "PET"], "bits_stored": 13})
    assert result.hits == [] and result.suggestions == {"modality": ["CT"]}
    assert result.to_dict()["suggestions"] == {"modality": ["CT"]}


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
    # the query image is left out of its own results
    assert 3 not in [h.id for h in ranked] and len(ranked) == 10
    pixels = retriever.search(vector=retriever.vectors_for([3])[0], k=11).hits
    assert pixels[0].id == 3 and [h.id for h in pixels[1:]] == [h.id for h in ranked]
    floor = ranked[4].score
    kept = retriever.search(image_id=3, k=10, min_score=floor).hits
    assert [h.id for h in kept] == [h.id for h in ranked if h.score >= floor]
    others = retriever.search(image_id=3, k=5, exclude_ids=[ranked[0].id]).hits
    assert [h.id for h in others] == [h.id for h in ranked[1:6]]


def test_classify_gives_probabilities(retriever: Retriever) -> None:
    labels = ["chest X-ray", "brain MRI", "histopathology"]
    result = retriever.classify(labels, image_id=1)
    assert sorted(r.label for r in result) == sorted(labels)
    assert sum(r.probability for r in result) == pytest.approx(1.0, abs=1e-6)
    assert [r.probability for r in result] == sorted((r.probability for r in result), reverse=True)
    logits = retriever.encoder.logit_scale * np.array([r.score for r in result])
    softmax = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose([r.probability for r in result], softmax, rtol=1e-5)
    image = Image.open(SAMPLE_IMAGES / "cxr_01.jpg")
    by_image = retriever.classify(labels, image=image, template="an image of {}")
    query = retriever.embed_image(image)
    prompts = retriever.encoder.encode_texts([f"an image of {label}" for label in labels])
    expected = dict(zip(labels, (prompts @ query).tolist(), strict=True))
    assert {r.label: r.score for r in by_image} == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one of text, image, image_id, vector"),
        ({"text": "a", "image_id": 1}, "not text and image_id"),
        ({"text": "   "}, "text must be a non-empty string"),
        ({"text": "a", "k": 0}, "k must be at least 1"),
        ({"text": "a", "offset": -1}, "offset must be at least 0"),
        ({"text": "a", "filters": {"no_such_field": "x"}}, "unknown filter field 'no_such_field'"),
        ({"text": "a", "filters": {"modality": []}}, "modality"),
        ({"text": "a", "filters": {"modality": {"$ne": 1}}}, "modality"),
        ({"text": "a", "filters": {"modality": 5}}, "filter 'modality': 5 cannot match"),
        ({"vector": [0.1, 0.2]}, "vector must have 128 numbers"),
        ({"vector": [float("inf")] * 128}, "vector must be finite"),
        ({"vector": [float("nan")] * 128}, "vector must be finite"),
        ({"vector": [0.0] * 128}, "not all zeros"),
    ],
)
def test_bad_queries_raise_invalid_request(
    retriever: Retriever, kwargs: dict, message: str
) -> None:
    assert retriever.encoder.dim == 128
    with pytest.raises(InvalidRequestError, match=re.escape(message)):
        retriever.search(**kwargs)


def test_any_finite_vector_is_scaled_to_unit_length(retriever: Retriever) -> None:
    direction = retriever.vectors_for([5])[0].astype(np.float64)
    expected = [h.id for h in retriever.search(vector=direction, k=5).hits]
    for scale in (1e-300, 1e300):
        assert [h.id for h in retriever.search(vector=direction * scale, k=5).hits] == expected


def test_shape_rules_are_left_to_the_front_ends(retriever: Retriever) -> None:
    """A k above the service's max_k is the JSON API's rule, not the library's."""
    assert retriever.settings.max_k < 5000
    assert len(retriever.search(text="x-ray", k=5000).hits) == SAMPLE_COUNT


def test_unknown_ids_raise_not_found(retriever: Retriever) -> None:
    with pytest.raises(NotFoundError):
        retriever.search(image_id=10_000)
    with pytest.raises(NotFoundError):
        retriever.get(0)


@pytest.mark.parametrize(
    ("labels", "template", "message"),
    [
        ([], "{}", "labels must be a non-empty list"),
        (["a"], "no placeholder", TEMPLATE_RULE),
        (["a"], "{} and {}", TEMPLATE_RULE),
        (["a"], "{{}}{}", TEMPLATE_RULE),
    ],
)
def test_bad_classify_requests(
    retriever: Retriever, labels: list[str], template: str, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(message)):
        retriever.classify(labels, image_id=1, template=template)


@pytest.mark.parametrize("template", ["a {{x}} of {}", "a {x} of {}", "{0} {} }{", "{{}}"])
def test_template_braces_other_than_the_placeholder_are_plain_text(
    retriever: Retriever, tiny_encoder: Encoder, template: str
) -> None:
    (result,) = retriever.classify(["lung"], image_id=1, template=template)
    prompt = template.replace("{}", "lung")
    expected = float(tiny_encoder.encode_texts([prompt])[0] @ retriever.vectors_for([1])[0])
    assert result.score == pytest.approx(expected, abs=1e-5)
    assert result.probability == pytest.approx(1.0)


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
        assert retriever.info().count == 2
        assert retriever.refresh() is False
        shutil.copy(SAMPLE_IMAGES / "fundus_01.jpg", corpus / "fundus_01.jpg")
        run_cli("index", corpus, *args)
        assert retriever.refresh() is True
        assert retriever.info().count == 3
        assert len(retriever.search(text="retina", k=10).hits) == 3
    finally:
        retriever.close()


def test_a_repeated_image_query_is_embedded_once(
    sample_settings: Settings, tiny_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real_encode = tiny_encoder.encode_prepared

    def counting_encode(images: list[np.ndarray]) -> np.ndarray:
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


def _check_facets_under_cut_offs(retriever: Retriever) -> None:
    """Facet counts under a minimum score against brute force over the stored vectors."""
    query = retriever.embed_text("chest X-ray with pleural effusion")
    scores = scores_of_every_image(retriever, query)
    for rank in (3, 12, 25):
        floor = cut_below_rank(scores.values(), rank)
        for filters in (None, {"modality": "CR"}, {"modality": "CR", "body_part": "chest"}):
            result = retriever.search(
                vector=query, k=1, filters=filters, min_score=floor, count_facets=True
            )
            assert result.facets is not None
            expected = brute_force_facets(retriever, query, floor, filters)
            assert as_counters(result.facets) == expected
            if filters is None:
                assert sum(expected["format"].values()) == rank
    # a "similar" query leaves its own image out of the counts, as out of its results
    own = retriever.vectors_for([3])[0]
    floor = cut_below_rank(scores_of_every_image(retriever, own).values(), 6)
    result = retriever.search(image_id=3, k=1, min_score=floor, count_facets=True)
    assert result.facets is not None
    expected = brute_force_facets(retriever, own, floor, exclude={3})
    assert as_counters(result.facets) == expected and sum(expected["format"].values()) == 5
    # no minimum score: the counts of every image under the filters, as facets() gives them
    result = retriever.search(vector=query, k=1, filters={"modality": "CR"}, count_facets=True)
    assert result.facets == retriever.facets({"modality": "CR"})
    assert "facets" in result.to_dict() and "facets" not in retriever.search(text="x").to_dict()


def test_facets_under_a_minimum_score_count_every_image_above_it(retriever: Retriever) -> None:
    assert retriever.info().index_type == "flat"  # a range search over the index
    _check_facets_under_cut_offs(retriever)


def test_facets_under_a_minimum_score_are_exact_on_an_approximate_index(
    tmp_path: Path, sample_index_dir: Path, tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(sample_index_dir, index_dir)
    # the same vectors, only the ANN index rebuilt as another type
    index_sample(index_dir, tiny_model_dir, "--index-type", "hnsw")
    opened = Retriever.open(Settings(index_dir=index_dir, device="cpu"), encoder=tiny_encoder)
    try:
        assert opened.info().index_type == "hnsw"  # scored from the stored vectors
        _check_facets_under_cut_offs(opened)
    finally:
        opened.close()
