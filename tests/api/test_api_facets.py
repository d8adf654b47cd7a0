"""``GET /api/facets`` under filters: each field counted with the other fields' filters applied."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote

from flask.testing import FlaskClient

from tests.support.helpers import SAMPLE_COUNT


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
