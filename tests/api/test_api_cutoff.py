"""min_relative, min_z, z, percentile and below_cut_off through the real app, on every search
route, and on an index published before null distributions."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.storage.folder import NULL_SCORES_FILE, IndexFolder
from search_api import create_app
from tests.api.conftest import app_state
from tests.support.contract import ContractClient
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_IMAGES, assert_error

QUERY = "chest x-ray with ground-glass opacities"


def _post(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/search", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_every_result_carries_the_retrievers_standing(
    client: FlaskClient, app_retriever: Retriever
) -> None:
    answer = _post(client, {"text": QUERY, "k": SAMPLE_COUNT})
    expected = app_retriever.search(text=QUERY, k=SAMPLE_COUNT).hits
    assert [(h["id"], h["z"], h["percentile"]) for h in answer["results"]] == [
        (h.id, h.z, h.percentile) for h in expected
    ]
    assert all(isinstance(h["z"], float) for h in answer["results"])
    assert "below_cut_off" not in answer


def test_min_z_and_min_relative_cut_as_the_retriever_does(
    client: FlaskClient, app_retriever: Retriever
) -> None:
    every = _post(client, {"text": QUERY, "k": SAMPLE_COUNT})["results"]
    zs = sorted(h["z"] for h in every)
    min_z = (zs[len(zs) // 2 - 1] + zs[len(zs) // 2]) / 2
    cut = _post(client, {"text": QUERY, "k": 10, "min_z": min_z})
    kept = [h["id"] for h in every if h["z"] >= min_z]
    assert [h["id"] for h in cut["results"]] == kept[:10]
    assert cut["below_cut_off"] == 10 - len(kept[:10])
    relative = _post(client, {"text": QUERY, "k": SAMPLE_COUNT, "min_relative": 0.95})
    top = every[0]["score"]
    assert [h["id"] for h in relative["results"]] == [
        h["id"] for h in every if h["score"] >= top - 0.05 * abs(top)
    ]
    # the upload form and /similar take them as text
    image = (SAMPLE_IMAGES / "cxr_01.jpg").read_bytes()
    form = {"file": (io.BytesIO(image), "q.jpg"), "min_z": "1e9", "k": "4"}
    uploaded = client.post("/api/search/image", data=form, content_type="multipart/form-data")
    assert uploaded.status_code == 200, uploaded.get_json()
    assert uploaded.get_json()["results"] == []
    assert uploaded.get_json()["below_cut_off"] == 4
    similar = client.get(f"/api/images/{every[0]['id']}/similar?k=5&min_relative=1")
    assert similar.status_code == 200, similar.get_json()
    assert len(similar.get_json()["results"]) == 1
    assert similar.get_json()["below_cut_off"] == 4


@pytest.mark.parametrize(
    "body, message",
    [
        ({"min_relative": 1.5}, "min_relative must be a number from 0 to 1"),
        ({"min_relative": -0.1}, "min_relative must be a number from 0 to 1"),
        ({"min_z": "high"}, "min_z must be a finite number"),
    ],
)
def test_bad_cut_offs_are_400(client: FlaskClient, body: dict, message: str) -> None:
    response = client.post("/api/search", json={"text": QUERY, **body})
    assert_error(response, 400, "invalid_request")
    assert message in response.get_json()["error"]["message"]


def test_the_document_declares_the_cut_offs(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    body = doc["components"]["schemas"]
    search_body = json.dumps(doc["paths"]["/api/search"])
    assert "min_relative" in json.dumps(body) + search_body
    hit = body["Hit"]["properties"]
    assert hit["z"]["type"] == ["number", "null"]
    assert hit["percentile"]["maximum"] == 100
    assert "below_cut_off" in body["SearchResponse"]["properties"]


@pytest.fixture(scope="module")
def old_app(sample_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app over a copy of the sample index as published before null distributions."""
    copy = tmp_path_factory.mktemp("old-index") / "index"
    shutil.copytree(sample_index_dir, copy)
    folder = IndexFolder(copy)
    data = json.loads(folder.info_path.read_text())
    del data["checksums"][NULL_SCORES_FILE]
    folder.info_path.write_text(json.dumps(data))
    (copy / NULL_SCORES_FILE).unlink()
    app = create_app(Settings(index_dir=copy, device="cpu", precision="fp32"))
    yield app
    retriever = app_state(app).retriever
    assert isinstance(retriever, Retriever)
    retriever.close()


def test_an_older_index_answers_without_z_and_refuses_min_z(old_app: Flask) -> None:
    client = ContractClient.of(old_app)
    answer = _post(client, {"text": QUERY, "k": 3, "min_relative": 0.5})
    assert [h["z"] for h in answer["results"]] == [None] * len(answer["results"])
    assert [h["percentile"] for h in answer["results"]] == [None] * len(answer["results"])
    response = client.post("/api/search", json={"text": QUERY, "min_z": 2})
    assert_error(response, 400, "invalid_request")
    assert "run `medsearch index` again" in response.get_json()["error"]["message"]
