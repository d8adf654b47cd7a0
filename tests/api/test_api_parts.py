"""POST /api/search with weighted ``parts``: the ranking against brute force, the document, the
refusals (the Python client sending ``parts=`` through: ``test_client_http.py``)."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient

from search_api.schema.params import MAX_QUERY_PARTS
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_IMAGES, assert_error

TEXT = "chest x-ray with ground-glass opacities"


def _search(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/search", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _brute_force(retriever: Any, units: list[np.ndarray], weights: list[float]) -> list[int]:
    """Every image ranked by the weighted sum of its cosines with the parts' unit vectors."""
    ids = list(range(1, SAMPLE_COUNT + 1))
    vectors = retriever.vectors_for(ids).astype(np.float64)
    sums = vectors @ np.stack(units).astype(np.float64).T @ np.asarray(weights)
    order = np.argsort(-sums, kind="stable")
    return [ids[i] for i in order]


def test_text_more_like_and_less_like_ids_rank_as_brute_force(
    client: FlaskClient, app_retriever: Any
) -> None:
    parts = [
        {"text": TEXT},
        {"image_id": 4, "weight": 0.5},
        {"image_id": 9, "weight": -1},
    ]
    body = _search(client, {"parts": parts, "k": SAMPLE_COUNT})
    text_unit = app_retriever.encoder.encode_texts([TEXT])[0]
    stored = app_retriever.vectors_for([4, 9])
    expected = _brute_force(app_retriever, [text_unit, stored[0], stored[1]], [1.0, 0.5, -1.0])
    assert [hit["id"] for hit in body["results"]] == [i for i in expected if i not in (4, 9)]
    assert body["total"] == SAMPLE_COUNT


def test_an_uploaded_image_part_counts_as_its_image_query(
    client: FlaskClient, app_retriever: Any
) -> None:
    data = (SAMPLE_IMAGES / "cxr_01.jpg").read_bytes()
    encoded = base64.b64encode(data).decode()
    alone = _search(client, {"image": encoded, "k": 6})
    as_part = _search(client, {"parts": [{"image": encoded, "weight": 2.5}], "k": 6})
    assert [h["id"] for h in as_part["results"]] == [h["id"] for h in alone["results"]]
    assert [h["score"] for h in as_part["results"]] == pytest.approx(
        [h["score"] for h in alone["results"]], abs=1e-5
    )
    assert "decode" in as_part["timings_ms"]


def test_vector_parts_of_the_index_dimension(client: FlaskClient, app_retriever: Any) -> None:
    dim = int(app_retriever.info().dim)
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=dim), rng.normal(size=dim)
    body = _search(
        client,
        {"parts": [{"vector": a.tolist()}, {"vector": b.tolist(), "weight": -0.25}], "k": 5},
    )
    units = [a / np.linalg.norm(a), b / np.linalg.norm(b)]
    assert [h["id"] for h in body["results"]] == _brute_force(app_retriever, units, [1, -0.25])[:5]


def test_the_document_declares_parts(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    schema = document["components"]["schemas"]["SearchRequest"]
    parts = schema["properties"]["parts"]
    assert parts["maxItems"] == MAX_QUERY_PARTS and parts["minItems"] == 1
    assert set(parts["items"]["properties"]) == {"text", "image", "image_id", "vector", "weight"}
    assert {"required": ["parts"]} in schema["oneOf"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"parts": []}, 400, "non-empty list"),
        ({"parts": {"text": "x"}}, 400, "non-empty list"),
        ({"parts": [{"text": "x"}] * (MAX_QUERY_PARTS + 1)}, 400, "at most"),
        ({"parts": [{"text": "x", "weight": 0}]}, 400, "weight"),
        ({"parts": [{"text": "x", "weight": "2"}]}, 400, "weight"),
        ({"parts": [{"text": "x", "weight": 1e6}]}, 400, "weight"),
        ({"parts": [{"text": "x", "weight": None}]}, 400, "weight"),
        ({"parts": [{"weight": 1}]}, 400, "exactly one"),
        ({"parts": [{"text": "x", "image_id": 1}]}, 400, "exactly one"),
        ({"parts": [{"txt": "x"}]}, 400, "unknown key 'txt'"),
        ({"parts": ["x"]}, 400, "object"),
        ({"parts": [{"text": ""}]}, 400, "non-empty string"),
        ({"parts": [{"text": "x", "weight": -1}]}, 400, "positive weight"),
        ({"parts": [{"text": "x"}, {"text": "x", "weight": -1}]}, 400, "cancel out"),
        ({"parts": [{"text": "x"}], "text": "y"}, 400, "exactly one"),
        ({"parts": [{"vector": [1.0, 2.0]}]}, 400, "numbers"),
        ({"parts": [{"image": "bm90IGFuIGltYWdl"}]}, 422, None),
        ({"parts": [{"image_id": 123456}]}, 404, None),
    ],
)
def test_bad_parts_are_refused(
    client: FlaskClient, body: dict[str, Any], status: int, words: str | None
) -> None:
    error = assert_error(client.post("/api/search", json=body), status)
    if words is not None:
        assert words in error["error"]["message"]
