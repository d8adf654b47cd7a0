"""``GET /api/duplicates``, ``/api/duplicates/threshold`` and ``dedupe`` on search, over a real
index of the sample with planted copies, checked against the library and brute force."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from indexer.search.duplicates import IndexedVectors
from indexer.settings import Settings
from search_api import create_app
from tests.support.contract import Contract, ContractClient
from tests.support.helpers import assert_error
from tests.support.planted_duplicates import (
    brute_force_clusters,
    index_planted,
    midpoint_thresholds,
)


@pytest.fixture(scope="module")
def planted_app(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Flask]:
    root = tmp_path_factory.mktemp("planted-api")
    index_dir = index_planted(root, tiny_model_dir)
    settings = Settings(
        index_dir=index_dir, device="cpu", precision="fp32", thumbnail_dir=root / "thumbs"
    )
    app = create_app(settings)
    yield app
    app.extensions["medsearch"].retriever.close()


@pytest.fixture()
def client(planted_app: Flask) -> Any:
    client = ContractClient(planted_app, planted_app.response_class)
    client.contract = Contract.of(planted_app)
    return client


def test_clusters_are_the_brute_force_ones_with_their_images(
    planted_app: Flask, client: Any
) -> None:
    retriever = planted_app.extensions["medsearch"].retriever
    indexed = IndexedVectors.read(retriever.folder, retriever.store, retriever.folder.read_info())
    threshold = midpoint_thresholds(indexed.matrix, 2)[-1]
    body = client.get(f"/api/duplicates?threshold={threshold}&limit=1000").get_json()
    truth = brute_force_clusters(indexed.ids, indexed.matrix, indexed.checksums, threshold)
    assert {frozenset(c["ids"]) for c in body["clusters"]} == truth
    assert body["threshold_rule"] == "given" and body["cluster_count"] == len(truth)
    first = body["clusters"][0]
    assert [m["id"] for m in first["members"]] == first["ids"]
    thumbnail = client.get(first["members"][0]["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
    limited = client.get(f"/api/duplicates?threshold={threshold}&limit=1").get_json()
    assert len(limited["clusters"]) == 1 and limited["cluster_count"] == len(truth)


def test_leakage_across_split_and_the_adaptive_threshold(client: Any) -> None:
    adaptive = client.get("/api/duplicates/threshold").get_json()
    body = client.get("/api/duplicates?across=split").get_json()
    assert body["threshold"] == adaptive["threshold"] and body["threshold_rule"] == "adaptive"
    assert body["leakage"] and body["leakage"][0]["values"] == ["test", "train"]
    for cluster in body["clusters"]:
        assert {m["value"] for m in cluster["members"]} >= {"test", "train"}
    assert sum(c["size"] for c in body["clusters"]) == body["images_in_clusters"]


def test_bad_requests(client: Any) -> None:
    assert_error(client.get("/api/duplicates?threshold=1.5"), 400, "invalid_request")
    assert_error(client.get("/api/duplicates?across=nope"), 400)
    assert_error(client.get("/api/duplicates?limit=-1"), 400)
    assert_error(client.post("/api/search", json={"text": "x", "dedupe": "near"}), 400)


def test_search_folds_copies(client: Any) -> None:
    plain = client.post("/api/search", json={"text": "chest x-ray", "k": 50}).get_json()
    folded = client.post(
        "/api/search", json={"text": "chest x-ray", "k": 50, "dedupe": 0.5}
    ).get_json()
    listed = {h["id"] for h in plain["results"]} | {
        c["id"] for h in plain["results"] for c in h.get("copies", [])
    }
    assert len(listed) == 38  # every image once, as a result or as a copy
    assert len(folded["results"]) < len(plain["results"])
    again = {h["id"] for h in folded["results"]} | {
        c["id"] for h in folded["results"] for c in h.get("copies", [])
    }
    assert again == listed
    similar = client.get(f"/api/images/{plain['results'][0]['id']}/similar?dedupe=0.5&k=5")
    assert similar.status_code == 200
