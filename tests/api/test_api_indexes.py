"""Several indexes in one service: ``/api/indexes``, ``index=`` on every route, unknown names,
one encoder per fingerprint, reloads and thumbnail caches per index.

The two indexes hold the same 32 sample images, indexed with two tiny models of different seeds
(so different fingerprints and different vectors).
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.settings import Settings
from search_api import create_app
from search_api.indexes import IndexNameError, IndexSet, name_index_dirs, open_indexes
from tests.support.contract import ContractClient
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_IMAGES, assert_error, run_cli

LABELS = ["chest x-ray", "head CT"]
CPU = ("--device", "cpu", "--quiet")


@pytest.fixture(scope="module")
def two_indexes(
    sample_index_dir: Path, other_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, IndexSet]]:
    settings = Settings(
        index_dir=sample_index_dir,
        device="cpu",
        precision="fp32",
        thumbnail_dir=tmp_path_factory.mktemp("two-index-thumbnails"),
    )
    indexes = open_indexes(settings, [("a", sample_index_dir), ("b", other_index_dir)])
    yield settings, indexes
    indexes.close()


@pytest.fixture(scope="module")
def multi_app(two_indexes: tuple[Settings, IndexSet]) -> Flask:
    settings, indexes = two_indexes
    return create_app(settings, indexes=indexes)


@pytest.fixture()
def multi(multi_app: Flask) -> FlaskClient:
    """A client of the two-index app that checks every answer against its OpenAPI document."""
    return ContractClient.of(multi_app)


def retrievers(multi_app: Flask) -> dict[str, Any]:
    return {index.name: index.retriever for index in multi_app.extensions["medsearch"].indexes}


def ids_of(client: FlaskClient, index: str) -> dict[str, int]:
    body = {"text": "an image", "k": SAMPLE_COUNT, "index": index}
    return {
        hit["path"]: hit["id"]
        for hit in client.post("/api/search", json=body).get_json()["results"]
    }


def test_indexes_lists_every_index_default_first(multi: FlaskClient, multi_app: Flask) -> None:
    listed = multi.get("/api/indexes").get_json()["indexes"]
    assert [entry["name"] for entry in listed] == ["a", "b"]
    by_name = retrievers(multi_app)
    for entry in listed:
        encoder = by_name[entry["name"]].info().encoder
        assert entry["family"] == encoder.family == "open_clip"
        assert entry["model"] == encoder.model
        assert entry["dim"] == by_name[entry["name"]].info().dim
        assert entry["count"] == SAMPLE_COUNT
        assert entry["random_weights"] is True
    assert listed[0]["model"] != listed[1]["model"]


def test_the_document_lists_the_served_names(multi: FlaskClient) -> None:
    doc = multi.get("/api/openapi.json").get_json()
    schema = doc["components"]["schemas"]["SearchRequest"]["properties"]["index"]
    assert schema["enum"] == ["a", "b"] and schema["default"] == "a"
    for path in ("/api/facets", "/api/info", "/api/images/{id}", "/api/images/{id}/file"):
        names = [p["name"] for p in doc["paths"][path]["get"]["parameters"]]
        assert "index" in names, path


def test_each_search_route_uses_the_named_index(multi: FlaskClient, multi_app: Flask) -> None:
    by_name = retrievers(multi_app)
    image = (SAMPLE_IMAGES / "cxr_01.jpg").read_bytes()
    for name in ("a", "b"):
        expected = by_name[name].search(text="chest x-ray", k=5)
        found = multi.post("/api/search", json={"text": "chest x-ray", "k": 5, "index": name})
        hits = found.get_json()["results"]
        assert [h["id"] for h in hits] == [h.id for h in expected.hits]
        assert [h["score"] for h in hits] == pytest.approx([h.score for h in expected.hits])
        assert all(h["thumbnail_url"].endswith(f"?index={name}") for h in hits)
        upload = {"file": (SAMPLE_IMAGES / "cxr_01.jpg").open("rb"), "k": "1", "index": name}
        uploaded = multi.post("/api/search/image", data=upload).get_json()["results"]
        assert uploaded[0]["path"] == "images/cxr_01.jpg"
        assert uploaded[0]["image_url"].endswith(f"?index={name}")
        body = {"image": base64.b64encode(image).decode(), "labels": LABELS, "index": name}
        labels = multi.post("/api/classify", json=body).get_json()["labels"]
        expected_labels = by_name[name].classify(
            LABELS, image_id=ids_of(multi, name)["images/cxr_01.jpg"]
        )
        assert {item["label"]: item["probability"] for item in labels} == pytest.approx(
            {item.label: item.probability for item in expected_labels}, abs=1e-4
        )
    default = multi.post("/api/search", json={"text": "chest x-ray", "k": 5}).get_json()
    named_a = multi.post("/api/search", json={"text": "chest x-ray", "k": 5, "index": "a"})
    assert default["results"] == named_a.get_json()["results"]


def test_each_image_route_uses_the_named_index(multi: FlaskClient, multi_app: Flask) -> None:
    by_name = retrievers(multi_app)
    for name in ("a", "b"):
        image_id = ids_of(multi, name)["images/dcm_ct_small.dcm"]
        record = multi.get(f"/api/images/{image_id}?index={name}").get_json()
        assert record["path"] == "images/dcm_ct_small.dcm"
        assert record["thumbnail_url"] == f"/api/images/{image_id}/thumbnail?index={name}"
        similar = multi.get(f"/api/images/{image_id}/similar?k=3&index={name}").get_json()
        expected = by_name[name].search(image_id=image_id, exclude_ids={image_id}, k=3)
        assert [h["id"] for h in similar["results"]] == [h.id for h in expected.hits]
        thumbnail = multi.get(record["thumbnail_url"] + "&size=64")
        assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
        original = multi.get(record["image_url"])
        assert original.status_code == 200 and original.mimetype == "image/png"
        facets = multi.get(f"/api/facets?index={name}").get_json()["facets"]
        assert sum(item["count"] for item in facets["modality"]) == SAMPLE_COUNT
        info = multi.get(f"/api/info?index={name}").get_json()
        assert info["encoder"]["model"] == by_name[name].info().encoder.model


def test_thumbnails_are_cached_per_index(
    multi: FlaskClient, two_indexes: tuple[Settings, IndexSet]
) -> None:
    settings, _ = two_indexes
    assert settings.thumbnail_dir is not None
    for name in ("a", "b"):
        image_id = ids_of(multi, name)["images/cxr_01.jpg"]
        response = multi.get(f"/api/images/{image_id}/thumbnail?size=64&index={name}")
        assert response.status_code == 200
        assert list((settings.thumbnail_dir / name).rglob("*-64.jpg")), name


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("POST", "/api/search", {"json": {"text": "x", "index": "nope"}}),
        ("POST", "/api/classify", {"json": {"image_id": 1, "labels": ["a"], "index": "nope"}}),
        ("GET", "/api/images/1?index=nope", {}),
        ("GET", "/api/images/1/similar?index=nope", {}),
        ("GET", "/api/images/1/thumbnail?index=nope", {}),
        ("GET", "/api/images/1/file?index=nope", {}),
        ("GET", "/api/facets?index=nope", {}),
        ("GET", "/api/info?index=nope", {}),
    ],
)
def test_an_unknown_index_is_a_404_naming_the_known_ones(
    multi: FlaskClient, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    error = assert_error(multi.open(url, method=method, **kwargs), 404, "unknown_index")["error"]
    assert "'nope'" in error["message"] and "a, b" in error["message"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/images/1?index=",
        "/api/images/1/similar?index=",
        "/api/images/1/thumbnail?index=",
        "/api/images/1/file?index=",
        "/api/facets?index=",
        "/api/info?index=",
    ],
)
def test_an_empty_index_name_is_refused_as_the_document_says(multi: FlaskClient, url: str) -> None:
    """``index=`` names no index (the document's minLength is 1); leaving it out asks for the
    default."""
    error = assert_error(multi.get(url), 400, "invalid_request")["error"]
    assert "index must be the name of a served index" in error["message"]
    assert multi.get(url.removesuffix("?index=")).status_code == 200


def test_an_empty_index_name_in_an_upload_is_refused(multi: FlaskClient) -> None:
    upload = {"file": (SAMPLE_IMAGES / "cxr_01.jpg").open("rb"), "index": ""}
    assert_error(multi.post("/api/search/image", data=upload), 400, "invalid_request")


def test_an_unknown_index_in_an_upload_is_a_404(multi: FlaskClient) -> None:
    upload = {"file": (SAMPLE_IMAGES / "cxr_01.jpg").open("rb"), "index": "nope"}
    assert_error(multi.post("/api/search/image", data=upload), 404, "unknown_index")


def test_one_encoder_per_fingerprint(
    sample_index_dir: Path, other_index_dir: Path, sample_settings: Settings
) -> None:
    same = open_indexes(sample_settings, [("x", sample_index_dir), ("y", sample_index_dir)])
    mixed = open_indexes(
        sample_settings,
        [("x", sample_index_dir), ("y", other_index_dir), ("z", sample_index_dir)],
    )
    try:
        x, y = (same.get(name).retriever for name in ("x", "y"))
        assert x is not y and x.encoder is y.encoder
        x, y, z = (mixed.get(name).retriever for name in ("x", "y", "z"))
        assert x.encoder is z.encoder and x.encoder is not y.encoder
        fingerprints = [r.info().encoder.fingerprint for r in (x, y)]
        assert fingerprints[0] != fingerprints[1]
    finally:
        same.close()
        mixed.close()


def test_each_index_picks_up_its_own_new_versions(
    tmp_path: Path, tiny_model_dir: Path, other_model_dir: Path
) -> None:
    corpora, folders = {}, {}
    for name, model in (("a", tiny_model_dir), ("b", other_model_dir)):
        corpora[name] = tmp_path / f"corpus-{name}"
        corpora[name].mkdir()
        shutil.copy(SAMPLE_IMAGES / "cxr_01.jpg", corpora[name])
        folders[name] = tmp_path / f"index-{name}"
        run_cli("index", corpora[name], "--index", folders[name], "--model", model, *CPU)
    settings = Settings(index_dir=folders["a"], device="cpu", reload_interval=0.0)
    indexes = open_indexes(settings, [(name, folder) for name, folder in folders.items()])
    client = create_app(settings, indexes=indexes).test_client()

    def counts() -> dict[str, int]:
        listed = client.get("/api/indexes").get_json()["indexes"]
        return {entry["name"]: entry["count"] for entry in listed}

    try:
        assert counts() == {"a": 1, "b": 1}
        shutil.copy(SAMPLE_IMAGES / "dcm_ct_small.dcm", corpora["b"])
        args = ("--index", folders["b"], "--model", other_model_dir, *CPU)
        run_cli("index", corpora["b"], *args)
        assert counts() == {"a": 1, "b": 2}
        found = client.post("/api/search", json={"text": "CT", "index": "b"}).get_json()
        assert {hit["path"] for hit in found["results"]} == {"cxr_01.jpg", "dcm_ct_small.dcm"}
        assert client.get("/api/info?index=a").get_json()["count"] == 1
    finally:
        indexes.close()


def test_a_single_index_keeps_its_plain_urls(client: FlaskClient, app: Flask) -> None:
    listed = client.get("/api/indexes").get_json()["indexes"]
    assert [entry["name"] for entry in listed] == [
        app.extensions["medsearch"].settings.index_dir.name
    ]
    hit = client.post("/api/search", json={"text": "x", "k": 1}).get_json()["results"][0]
    assert hit["thumbnail_url"] == f"/api/images/{hit['id']}/thumbnail"
    named = {"text": "x", "k": 1, "index": listed[0]["name"]}
    assert client.post("/api/search", json=named).get_json()["results"][0] == hit


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["a=x", "a=y"], "two indexes are named 'a'"),
        (["my index=x"], "'my index' is not URL-safe"),
        (["x/same", "y/same"], "two indexes are named 'same'"),
        (["=x"], "'' is not URL-safe"),
    ],
)
def test_index_names_must_be_url_safe_and_unique(arguments: list[str], message: str) -> None:
    with pytest.raises(IndexNameError, match=message):
        name_index_dirs(arguments)


def test_index_names_come_from_folders_or_are_given(tmp_path: Path) -> None:
    assert name_index_dirs(["data/ct-index", "xr=data/x"]) == [
        ("ct-index", Path("data/ct-index")),
        ("xr", Path("data/x")),
    ]
    odd = tmp_path / "my scans"
    assert name_index_dirs([str(odd)]) == [("index", odd)]
    equals = tmp_path / "a=b"
    equals.mkdir()
    assert name_index_dirs([str(equals)]) == [("index", equals)]


def test_the_retriever_a_test_gives_is_served_as_the_one_index(
    fake_app: Flask, tmp_path: Path
) -> None:
    listed = fake_app.test_client().get("/api/indexes").get_json()["indexes"]
    assert listed == [
        {
            "name": tmp_path.name,
            "family": "open_clip",
            "model": "",
            "dim": 4,
            "count": 1,
            "random_weights": False,
        }
    ]
    client = fake_app.test_client()
    assert client.post("/api/search", json={"text": "x", "index": tmp_path.name}).status_code == 200
    assert_error(client.post("/api/search", json={"text": "x", "index": "b"}), 404)
