"""``level=`` and ``group=`` on the search routes, over real CT series, answers checked against
the OpenAPI document."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.encoders import Encoder
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from search_api import create_app
from tests.support.contract import Contract, ContractClient
from tests.support.helpers import assert_error


@pytest.fixture(scope="module")
def series_app(
    ct_series_index_dir: Path, tiny_encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    settings = Settings(
        index_dir=ct_series_index_dir,
        device="cpu",
        precision="fp32",
        thumbnail_dir=tmp_path_factory.mktemp("thumbnails"),
    )
    retriever = Retriever.open(settings, encoder=tiny_encoder)
    yield create_app(settings, retriever=retriever)
    retriever.close()


@pytest.fixture()
def series_client(series_app: Flask) -> FlaskClient:
    client = ContractClient(series_app, series_app.response_class)
    client.contract = Contract.of(series_app)
    return client


def _search(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/search", json=body)
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def test_a_series_level_search_answers_one_result_per_series(series_client: FlaskClient) -> None:
    answer = _search(series_client, {"text": "head CT", "level": "group:series", "k": 10})
    assert answer["total"] == 4
    groups = [hit["group"] for hit in answer["results"]]
    assert sorted(g["value"] for g in groups) == [
        "ge",
        "philips_s21570/s2010",
        "philips_s21570/s2020",
        "philips_s21610/s2010",
    ]
    assert all(g["field"] == "series" and g["matched"] == g["size"] for g in groups)
    assert all(len(g["next"]) == 3 for g in groups)
    scores = [hit["score"] for hit in answer["results"]]
    assert scores == sorted(scores, reverse=True)
    # k and offset page over series
    second = _search(
        series_client, {"text": "head CT", "level": "group:series", "k": 1, "offset": 1}
    )
    assert second["results"][0]["id"] == answer["results"][1]["id"]


def test_similar_series_puts_the_series_first_and_filters_keep_series_with_a_match(
    series_client: FlaskClient,
) -> None:
    answer = _search(series_client, {"group": "ge", "level": "group:series"})
    assert answer["results"][0]["group"]["value"] == "ge"
    filtered = _search(
        series_client,
        {"group": "ge", "level": "group:study", "filters": {"series": "philips_s21570/s2010"}},
    )
    [study] = [hit["group"] for hit in filtered["results"]]
    assert (study["value"], study["size"], study["matched"]) == ("philips_s21570", 168, 28)
    image_id = answer["results"][0]["id"]
    similar = series_client.get(f"/api/images/{image_id}/similar?level=group:study&k=2")
    assert similar.status_code == 200
    assert [hit["group"]["field"] for hit in similar.get_json()["results"]] == ["study"] * 2
    png = series_client.get(f"/api/images/{image_id}/file").data
    upload = series_client.post(
        "/api/search/image",
        data={"file": (io.BytesIO(png), "q.png"), "level": "group:series"},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 200
    assert upload.get_json()["results"][0]["group"]["field"] == "series"


def test_level_errors(series_client: FlaskClient) -> None:
    body = assert_error(
        series_client.post("/api/search", json={"text": "x", "level": "group:patient_key"}), 400
    )
    assert "patient_key" in body["error"]["message"]
    assert_error(series_client.post("/api/search", json={"text": "x", "level": "slab"}), 400)
    assert_error(series_client.post("/api/search", json={"group": "ge"}), 400)
    assert_error(
        series_client.post("/api/search", json={"group": "ge", "text": "x", "level": "study"}),
        400,
    )
    assert_error(
        series_client.post("/api/search", json={"group": "none", "level": "group:series"}), 404
    )
