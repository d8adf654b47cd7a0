"""POST /api/search in keyword and hybrid modes over the real sample index: the same ranking as
the library, matched words on each hit, and the document and the service agreeing on which
requests are refused."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from indexer.settings import Settings
from indexer.storage import keyword_index
from search_api import create_app
from tests.api.test_api_contract import judge_alike
from tests.support.contract import Contract
from tests.support.helpers import assert_error


def search(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/search", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_a_mode_ranks_as_the_library_does(
    client: FlaskClient, app_retriever: Any, mode: str
) -> None:
    body = {
        "text": "pneumonia chest",
        "mode": mode,
        "k": 4,
        "offset": 1,
        "filters": {"modality": "CR"},
    }
    answer = search(client, body)
    expected = app_retriever.search(
        text="pneumonia chest", mode=mode, k=4, offset=1, filters={"modality": "CR"}
    )
    assert [h["id"] for h in answer["results"]] == [h.id for h in expected.hits]
    assert answer["total"] == expected.total
    assert all(h["metadata"]["modality"] == "CR" for h in answer["results"])
    assert [h["matched_terms"] for h in answer["results"]] == [
        list(h.matched_terms) for h in expected.hits
    ]
    if mode == "keyword":
        assert all(h["matched_terms"] for h in answer["results"])


def test_dense_hits_carry_no_matched_terms(client: FlaskClient) -> None:
    answer = search(client, {"text": "pneumonia", "k": 3})
    assert all("matched_terms" not in h for h in answer["results"])
    assert (
        search(client, {"text": "pneumonia", "k": 3, "mode": "dense"})["results"]
        == answer["results"]
    )


def test_keyword_collapse_gives_one_result_per_value(client: FlaskClient) -> None:
    answer = search(client, {"text": "chest", "mode": "keyword", "collapse": "label", "k": 50})
    labels = [h["group"]["value"] for h in answer["results"]]
    assert len(labels) == len(set(labels)) == answer["total"] > 1


@pytest.mark.parametrize(
    "body",
    [
        {"text": "x", "mode": "keyword", "min_score": 0.2},
        {"text": "x", "mode": "hybrid", "min_score": 0.2},
        {"text": "x", "mode": "keyword", "level": "series"},
        {"image_id": 1, "mode": "keyword"},
        {"text": "x", "mode": "sparse"},
        {"text": '"NEAR(a b)" OR ^c*', "mode": "keyword"},
        {"text": "\x00\ud7ff\uffff}{", "mode": "hybrid"},
        {"text": "''", "mode": "keyword"},
    ],
)
def test_the_document_and_the_service_judge_modes_alike(
    client: FlaskClient, contract: Contract, body: dict[str, Any]
) -> None:
    judge_alike(client, contract, body)


def test_an_index_without_the_keyword_table_asks_to_be_indexed_again(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "index"
    shutil.copytree(sample_index_dir, copy)
    with sqlite3.connect(copy / "meta.sqlite") as connection:
        connection.execute(f"DROP TABLE {keyword_index.TABLE}")  # as an older MedSearch left it
    app = create_app(Settings(index_dir=copy, device="cpu", precision="fp32"))
    with app.test_client() as client:
        response = client.post("/api/search", json={"text": "chest", "mode": "hybrid"})
        error = assert_error(response, 400)
        assert "re-run medsearch index" in error["error"]["message"]
        assert client.post("/api/search", json={"text": "chest"}).status_code == 200
