"""Collapsed search (``collapse``) and ``GET /api/groups/<field>/<value>`` over a real index of
four real CT series, every answer checked against the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.settings import Settings
from search_api import create_app
from tests.api.conftest import app_state
from tests.support.contract import ContractClient
from tests.support.ct_series import CT_SERIES_COUNT
from tests.support.helpers import assert_error


@pytest.fixture(scope="module")
def ct_app(ct_series_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    settings = Settings(
        index_dir=ct_series_index_dir,
        device="cpu",
        precision="fp32",
        thumbnail_dir=tmp_path_factory.mktemp("ct-thumbnails"),
    )
    app = create_app(settings)
    yield app
    app_state(app).retriever.close()  # type: ignore[attr-defined]


@pytest.fixture()
def ct_client(ct_app: Flask) -> FlaskClient:
    return ContractClient.of(ct_app)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_similar_images_collapsed_by_series_come_from_every_series(ct_client: FlaskClient) -> None:
    body = ok(ct_client.post("/api/search", json={"image_id": 5, "collapse": "series", "k": 10}))
    own = ok(ct_client.get("/api/images/5"))["metadata"]["series"]
    groups = [hit["group"] for hit in body["results"]]
    assert body["total"] == CT_SERIES_COUNT == len({g["value"] for g in groups}) == len(groups)
    for hit in body["results"]:
        group = hit["group"]
        assert group["field"] == "series" and hit["metadata"]["series"] == group["value"]
        # every image matches but the query itself, which is never a result
        assert group["matched"] == group["size"] - (group["value"] == own)
        assert len(group["next"]) == 3 and all(n["score"] <= hit["score"] for n in group["next"])
    similar = ok(ct_client.get("/api/images/5/similar?collapse=series&k=2&offset=1"))
    assert [h["id"] for h in similar["results"]] == [h["id"] for h in body["results"][1:3]]
    plain = ok(ct_client.post("/api/search", json={"image_id": 5, "k": 10}))
    assert "group" not in plain["results"][0]


def test_a_text_search_pages_over_studies_under_a_filter(ct_client: FlaskClient) -> None:
    body = {"text": "head", "collapse": "study", "filters": {"study": ["ge", "philips_s21610"]}}
    found = ok(ct_client.post("/api/search", json=body))
    assert found["total"] == 2 and {h["group"]["value"] for h in found["results"]} == {
        "ge",
        "philips_s21610",
    }
    second = ok(ct_client.post("/api/search", json={**body, "k": 1, "offset": 1}))
    assert [h["id"] for h in second["results"]] == [found["results"][1]["id"]]


def test_an_unknown_collapse_field_is_a_400(ct_client: FlaskClient) -> None:
    assert_error(ct_client.post("/api/search", json={"text": "x", "collapse": "nope"}), 400)
    assert_error(ct_client.post("/api/search", json={"text": "x", "collapse": ""}), 400)
    assert_error(ct_client.get("/api/images/1/similar?collapse=nope"), 400)


def test_a_group_lists_its_images_in_slice_order(ct_client: FlaskClient) -> None:
    listing = ok(ct_client.get("/api/groups/series/philips_s21570%2Fs2020"))
    assert (listing["field"], listing["value"], listing["size"]) == (
        "series",
        "philips_s21570/s2020",
        140,
    )
    positions = [image["slice_position"] for image in listing["images"]]
    assert positions == sorted(positions) and len(set(positions)) == 140
    numbers = ok(ct_client.get("/api/groups/instance_number/1"))
    assert numbers["value"] == 1 and numbers["size"] == CT_SERIES_COUNT
    assert_error(ct_client.get("/api/groups/series/no%20such%20series"), 404)
    assert_error(ct_client.get("/api/groups/nope/x"), 400)
    assert_error(ct_client.get("/api/groups/series/x?index=other"), 404)


def test_the_document_describes_collapse_and_groups(ct_client: FlaskClient) -> None:
    doc = ok(ct_client.get("/api/openapi.json"))
    search = doc["components"]["schemas"]["SearchRequest"]["properties"]["collapse"]
    assert "series" in search["enum"]
    similar = doc["paths"]["/api/images/{id}/similar"]["get"]["parameters"]
    assert "collapse" in {p["name"] for p in similar}
    assert "/api/groups/{field}/{value}" in doc["paths"]
    assert "group" in doc["components"]["schemas"]["Hit"]["properties"]
