"""Classification, facets, health, info and the bearer token (the OpenAPI document has
``test_api_contract.py``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.settings import Settings
from search_api import create_app
from tests.support.helpers import SAMPLE_DIR

LABELS = ["chest x-ray", "head CT", "retina photograph", "histology slide"]


def test_classify_indexed_image(client: FlaskClient, ids_by_file: dict[str, int]) -> None:
    image_id = ids_by_file["images/cxr_01.jpg"]
    response = client.post("/api/classify", json={"image_id": image_id, "labels": LABELS})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert sorted(item["label"] for item in body["labels"]) == sorted(LABELS)
    probabilities = [item["probability"] for item in body["labels"]]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(-1.0 <= item["score"] <= 1.0 for item in body["labels"])
    assert body["timings_ms"]["total"] >= 0


def test_classify_uploaded_image_with_template(client: FlaskClient) -> None:
    image = base64.b64encode((SAMPLE_DIR / "images" / "histo_01.png").read_bytes()).decode()
    body = {"image": image, "labels": ["colon", "lung"], "template": "a micrograph of the {}"}
    response = client.post("/api/classify", json=body)
    assert response.status_code == 200, response.get_json()
    labels = response.get_json()["labels"]
    assert sum(item["probability"] for item in labels) == pytest.approx(1.0, abs=1e-5)


def test_facets_count_every_image(client: FlaskClient, sample_rows: list[dict[str, str]]) -> None:
    facets = client.get("/api/facets").get_json()["facets"]
    modality = {item["value"]: item["count"] for item in facets["modality"]}
    assert sum(modality.values()) == len(sample_rows) == 32
    assert modality["CR"] == 18  # 16 chest X-ray JPEGs and 2 CR DICOM files
    counts = [item["count"] for item in facets["label"]]
    assert counts == sorted(counts, reverse=True)


def test_health_and_info(client: FlaskClient) -> None:
    assert client.get("/api/health").get_json() == {"status": "ok"}
    info = client.get("/api/info").get_json()
    assert info["count"] == 32
    assert info["dim"] > 0
    assert info["metric"] == "inner_product"
    assert set(info["encoder"]) >= {"name", "fingerprint", "model", "random_weights"}
    assert isinstance(info["version"], str) and info["version"]


@pytest.fixture(scope="module")
def token_app(api_settings: Settings, app_retriever: Any) -> Flask:
    return create_app(api_settings.replace(api_token="correct horse"), retriever=app_retriever)


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong", "Basic correct horse", "correct horse"],
)
def test_token_rejects(token_app: Flask, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    client = token_app.test_client()
    for method, url in [("get", "/api/info"), ("post", "/api/search"), ("get", "/api/nope")]:
        response = getattr(client, method)(url, headers=headers, json={"text": "x"})
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"


def test_token_accepts(token_app: Flask) -> None:
    client = token_app.test_client()
    good = {"Authorization": "Bearer correct horse"}
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/info", headers=good).status_code == 200
    response = client.post("/api/search", json={"text": "x", "k": 1}, headers=good)
    assert response.status_code == 200
    thumb = response.get_json()["results"][0]["thumbnail_url"]
    assert client.get(thumb).status_code == 401
    assert client.get(thumb, headers=good).status_code == 200
    assert client.get("/").status_code != 401  # the page is not under the API token


def test_browser_session_stands_in_for_the_token(token_app: Flask) -> None:
    client = token_app.test_client()
    assert client.post("/api/session", json={"token": "wrong"}).status_code == 401
    assert client.post("/api/session", json={}).status_code == 400
    assert client.post("/api/session", json={"token": "x", "extra": 1}).status_code == 400
    assert client.post("/api/session", data="correct horse").status_code == 415
    assert client.get("/api/info").status_code == 401

    response = client.post("/api/session", json={"token": "correct horse"})
    assert response.status_code == 200
    assert response.get_json() == {"signed_in": True, "token_required": True}
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    assert "correct" not in set_cookie  # the cookie holds a value derived from the token
    # The cookie now opens every API route, the thumbnails (plain <img> requests) included.
    assert client.get("/api/info").status_code == 200
    hit = client.post("/api/search", json={"text": "x", "k": 1}).get_json()["results"][0]
    assert client.get(hit["thumbnail_url"]).status_code == 200

    assert client.delete("/api/session").status_code == 204
    assert client.get("/api/info").status_code == 401


def test_a_forged_session_cookie_is_refused(token_app: Flask) -> None:
    client = token_app.test_client()
    client.set_cookie("medsearch_session", "0" * 64)
    assert client.get("/api/info").status_code == 401
    client.set_cookie("medsearch_session", "correct horse")
    assert client.get("/api/info").status_code == 401


def test_signing_in_without_a_configured_token(client: FlaskClient) -> None:
    response = client.post("/api/session", json={"token": "anything"})
    assert response.get_json() == {"signed_in": True, "token_required": False}
    assert "Set-Cookie" not in response.headers
