"""Queries of weighted parts against brute force: the vector, the ranking, exclusions, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from indexer.errors import InvalidRequestError, NotFoundError
from indexer.search.query_parts import QueryPart, combined_vector
from indexer.search.retriever import Retriever
from indexer.storage.null_scores import load_null_scores
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_IMAGES

TEXT = "chest X-ray with pleural effusion"
OTHER_TEXT = "brain MRI"


def _independent_units(retriever: Retriever, image: Image.Image) -> dict[str, np.ndarray]:
    """Each part's unit vector computed straight from the encoder and the stored vectors."""
    encoder = retriever.encoder
    texts = encoder.encode_texts([TEXT, OTHER_TEXT])
    return {
        "text": texts[0],
        "other_text": texts[1],
        "image": encoder.encode_images([image])[0],
        "id3": retriever.vectors_for([3])[0],
        "id7": retriever.vectors_for([7])[0],
    }


def _every_stored(retriever: Retriever) -> tuple[np.ndarray, np.ndarray]:
    ids = np.arange(1, SAMPLE_COUNT + 1, dtype=np.int64)
    return ids, retriever.vectors_for(ids.tolist()).astype(np.float64)


@pytest.fixture
def query_image() -> Image.Image:
    return Image.open(SAMPLE_IMAGES / "cxr_01.jpg")


def test_combined_vector_is_the_normalised_weighted_sum(
    retriever: Retriever, query_image: Image.Image
) -> None:
    units = _independent_units(retriever, query_image)
    rng = np.random.default_rng(7)
    free = rng.normal(size=retriever.encoder.dim)
    parts = [
        QueryPart("text", TEXT, 1.0),
        QueryPart("text", OTHER_TEXT, -0.5),
        QueryPart("image", query_image, 0.75),
        QueryPart("image_id", 3, 2.0),
        QueryPart("image_id", 7, -1.25),
        QueryPart("vector", (free * 10).tolist(), 0.3),
    ]
    weighted = (
        1.0 * units["text"]
        - 0.5 * units["other_text"]
        + 0.75 * units["image"]
        + 2.0 * units["id3"]
        - 1.25 * units["id7"]
        + 0.3 * free / np.linalg.norm(free)
    )
    expected = weighted / np.linalg.norm(weighted)
    got = combined_vector(parts, retriever)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.linalg.norm(got) == pytest.approx(1.0, abs=1e-6)
    # scaling every weight by one positive factor changes nothing
    scaled = [QueryPart(p.kind, p.value, p.weight * 40) for p in parts]
    np.testing.assert_allclose(combined_vector(scaled, retriever), got, atol=1e-6)
    # one positive part alone is that part's query
    alone = combined_vector([QueryPart("text", TEXT, 3.0)], retriever)
    np.testing.assert_allclose(alone, retriever.embed_text(TEXT), atol=1e-6)


def test_ranking_is_brute_force_by_the_weighted_sum_of_cosines(retriever: Retriever) -> None:
    parts = [QueryPart("text", TEXT, 1.0), QueryPart("image_id", 3, 1.0)]
    parts.append(QueryPart("image_id", 7, -1.0))
    parts.append(QueryPart("text", OTHER_TEXT, -0.4))
    result = retriever.search(parts=parts, k=SAMPLE_COUNT)
    ids, vectors = _every_stored(retriever)
    units = np.stack(
        [
            retriever.encoder.encode_texts([TEXT])[0],
            vectors[2],
            vectors[6],
            retriever.encoder.encode_texts([OTHER_TEXT])[0],
        ]
    ).astype(np.float64)
    weights = np.array([1.0, 1.0, -1.0, -0.4])
    # Rocchio: the cosine with the combined vector is the weighted sum of the parts' cosines,
    # divided by the length of the weighted sum
    sums = vectors @ units.T @ weights
    expected_scores = sums / np.linalg.norm(weights @ units)
    keep = ~np.isin(ids, [3, 7])
    order = np.argsort(-expected_scores[keep], kind="stable")
    expected_ids = ids[keep][order]
    assert [h.id for h in result.hits] == expected_ids.tolist()
    assert result.total == SAMPLE_COUNT
    scores = {h.id: h.score for h in result.hits}
    for image_id, score in zip(ids[keep], expected_scores[keep], strict=True):
        assert scores[int(image_id)] == pytest.approx(score, abs=1e-4)


def test_less_like_an_image_pushes_its_neighbours_down(retriever: Retriever) -> None:
    plain = retriever.search(text=TEXT, k=SAMPLE_COUNT)
    top = plain.hits[0].id
    steered = retriever.search(
        parts=[QueryPart("text", TEXT), QueryPart("image_id", top, -1.0)], k=SAMPLE_COUNT
    )
    ids, vectors = _every_stored(retriever)
    like_top = vectors @ vectors[top - 1]
    before = {h.id: h.score for h in plain.hits}
    after = {h.id: h.score for h in steered.hits}
    assert top not in after
    # the images most like the unwanted one fall furthest relative to the others
    closest = int(ids[np.argsort(-like_top)][1])
    farthest = int(ids[np.argmin(like_top)])
    assert after[closest] - before[closest] < after[farthest] - before[farthest]


def test_named_images_are_never_results(retriever: Retriever) -> None:
    parts = [
        QueryPart("image_id", 1, 1.0),
        QueryPart("image_id", 2, 0.5),
        QueryPart("image_id", 5, -0.5),
    ]
    result = retriever.search(parts=parts, k=SAMPLE_COUNT, exclude_ids=[9])
    returned = {h.id for h in result.hits}
    assert returned.isdisjoint({1, 2, 5, 9})
    assert len(returned) == SAMPLE_COUNT - 4


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"parts": []}, InvalidRequestError, "parts must hold at least one"),
        (
            {"parts": [QueryPart("text", TEXT, -1.0)]},
            InvalidRequestError,
            "at least one positive weight",
        ),
        (
            {"parts": [QueryPart("text", TEXT, 1.0), QueryPart("text", TEXT, -1.0)]},
            InvalidRequestError,
            "cancel out",
        ),
        (
            {"parts": [QueryPart("image_id", 4, 2.0), QueryPart("image_id", 4, -2.0)]},
            InvalidRequestError,
            "cancel out",
        ),
        (
            {"parts": [QueryPart("text", TEXT)], "text": TEXT},
            InvalidRequestError,
            "not text and parts",
        ),
        ({"parts": [QueryPart("image_id", 10**9)]}, NotFoundError, "10000000"),
        ({"parts": [QueryPart("vector", [1.0, 2.0])]}, InvalidRequestError, "128 numbers"),
        ({"parts": [QueryPart("text", "  ")]}, InvalidRequestError, "non-empty string"),
    ],
)
def test_bad_parts_are_refused(
    retriever: Retriever, kwargs: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        retriever.search(**kwargs)


@pytest.mark.parametrize(
    ("kind", "weight", "message"),
    [
        ("text", 0.0, "must not be 0"),
        ("text", float("nan"), "finite number"),
        ("text", float("inf"), "finite number"),
        ("sound", 1.0, "unknown query part 'sound'"),
    ],
)
def test_bad_part_declarations_are_refused(kind: str, weight: float, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(message)):
        QueryPart(kind, "x", weight)


def test_a_steered_text_stands_against_the_texts_null(retriever: Retriever) -> None:
    plain = retriever.search(text=TEXT, k=3)
    alone = retriever.search(parts=[QueryPart("text", TEXT)], k=3)
    assert [(h.id, h.z) for h in alone.hits] == [(h.id, h.z) for h in plain.hits]
    assert all(h.z is not None for h in alone.hits)
    steered = retriever.search(
        parts=[QueryPart("text", TEXT, 2.0), QueryPart("image_id", 5, 1.0)], k=3, min_z=-10.0
    )
    null = load_null_scores(retriever.folder, retriever.folder.read_info())
    text_null = null.for_query("text") if null is not None else None
    assert text_null is not None
    assert [h.z for h in steered.hits] == [text_null.z(h.score) for h in steered.hits]
