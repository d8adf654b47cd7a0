"""Facet counts: ``GET /api/facets`` under filters, each field counted with the other fields'
filters applied, and a search's own (``facets: true``) among the images above its minimum score."""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any
from urllib.parse import quote

from flask.testing import FlaskClient

from tests.support.facet_truth import (
    FIELDS,
    brute_force_facets,
    cut_below_rank,
    scores_of_every_image,
)
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_DIR


def facets(client: FlaskClient, filters: dict[str, Any] | None = None) -> dict[str, Counter]:
    query = "" if filters is None else "?filters=" + quote(json.dumps(filters))
    response = client.get("/api/facets" + query)
    assert response.status_code == 200, response.get_json()
    return {
        field: Counter({item["value"]: item["count"] for item in values})
        for field, values in response.get_json()["facets"].items()
    }


def matching(client: FlaskClient, filters: dict[str, Any]) -> list[dict[str, Any]]:
    body = {"text": "an image", "k": SAMPLE_COUNT, "filters": filters}
    response = client.post("/api/search", json=body)
    assert response.status_code == 200, response.get_json()
    return [hit["metadata"] for hit in response.get_json()["results"]]


def counts(rows: list[dict[str, Any]], field: str) -> Counter:
    return Counter(row[field] for row in rows if row.get(field) is not None)


def test_a_filter_changes_the_other_fields_counts_but_not_its_own(client: FlaskClient) -> None:
    everything = facets(client)
    modality = everything["modality"].most_common()[-1][0]
    narrowed = facets(client, {"modality": modality})
    # the field filtered keeps every value selectable, with its counts over every image
    assert narrowed["modality"] == everything["modality"]
    rows = matching(client, {"modality": modality})
    assert narrowed["body_part"] == counts(rows, "body_part")
    assert narrowed["body_part"] != everything["body_part"]
    assert sum(narrowed["format"].values()) == len(rows) < SAMPLE_COUNT


def test_each_field_is_counted_under_the_other_fields_filters(client: FlaskClient) -> None:
    everything = facets(client)
    modality = everything["modality"].most_common(1)[0][0]
    body_part = counts(matching(client, {"modality": modality}), "body_part").most_common(1)[0][0]
    filters = {"modality": [modality], "body_part": body_part}
    both = facets(client, filters)
    assert both["modality"] == counts(matching(client, {"body_part": body_part}), "modality")
    assert both["body_part"] == counts(matching(client, {"modality": modality}), "body_part")
    assert both["label"] == counts(matching(client, filters), "label")
    # counted again from the cache, the same answer
    assert facets(client, filters) == both


def test_facet_filters_are_checked_like_search_filters(client: FlaskClient) -> None:
    for query, message in [
        ("filters=" + quote('{"nope": "CT"}'), "unknown filter field"),
        ("filters=" + quote('["CT"]'), "must be an object"),
        ("filters=" + quote("{not json"), "must be a JSON object"),
    ]:
        response = client.get("/api/facets?" + query)
        assert response.status_code == 400, query
        assert message in response.get_json()["error"]["message"]
    # an empty value is no filter
    assert facets(client, {}) == facets(client)
    assert client.get("/api/facets?filters=").status_code == 200


def search_facets(client: FlaskClient, body: dict[str, Any]) -> dict[str, Counter]:
    response = client.post("/api/search", json={**body, "facets": True})
    assert response.status_code == 200, response.get_json()
    return {
        field: Counter({item["value"]: item["count"] for item in values})
        for field, values in response.get_json()["facets"].items()
    }


def test_a_search_counts_the_facets_among_the_images_above_its_minimum_score(
    client: FlaskClient, app_retriever: Any
) -> None:
    text = "chest X-ray with pleural effusion"
    query = app_retriever.embed_text(text)
    scores = scores_of_every_image(app_retriever, query)
    for rank in (4, 20):
        floor = cut_below_rank(scores.values(), rank)
        for filters in (None, {"modality": "CR"}, {"body_part": "chest", "modality": ["CR"]}):
            body = {"text": text, "k": 1, "min_score": floor, "filters": filters}
            counted = search_facets(client, body)
            assert {f: counted.get(f, Counter()) for f in FIELDS} == brute_force_facets(
                app_retriever, query, floor, filters
            )
    # fewer images above a higher cut-off: every count falls or stays
    low = search_facets(client, {"text": text, "min_score": cut_below_rank(scores.values(), 20)})
    high = search_facets(client, {"text": text, "min_score": cut_below_rank(scores.values(), 4)})
    assert all(high[f][v] <= n for f in low for v, n in low[f].items())
    assert sum(high["format"].values()) == 4 < sum(low["format"].values()) == 20
    # without a minimum score, the counts GET /api/facets gives for the same filters
    assert search_facets(client, {"text": text, "filters": {"modality": "CR"}}) == facets(
        client, {"modality": "CR"}
    )
    # not asked for, not counted
    plain = client.post("/api/search", json={"text": text, "min_score": 0.1}).get_json()
    assert "facets" not in plain


def test_an_uploaded_image_search_counts_the_facets_too(
    client: FlaskClient, app_retriever: Any, ids_by_file: dict[str, int]
) -> None:
    image_id = ids_by_file["images/cxr_05.jpg"]
    query = app_retriever.vectors_for([image_id])[0]
    floor = cut_below_rank(scores_of_every_image(app_retriever, query).values(), 6)
    data = (SAMPLE_DIR / "images" / "cxr_05.jpg").read_bytes()
    form = {"file": (io.BytesIO(data), "cxr_05.jpg"), "facets": "true", "min_score": str(floor)}
    response = client.post("/api/search/image", data=form, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    counted = response.get_json()["facets"]
    # the upload embeds to about its stored vector: the same six images
    assert sum(item["count"] for item in counted["format"]) == 6
    # a "similar" search leaves the query image out of the counts, as out of its results
    similar = search_facets(client, {"image_id": image_id, "min_score": floor})
    assert sum(similar["format"].values()) == 5
    for value in ("yes", 1.5):
        response = client.post("/api/search", json={"text": "x", "facets": value})
        assert response.status_code == 400
        assert "facets must be true or false" in response.get_json()["error"]["message"]
