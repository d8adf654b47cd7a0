"""The clip-retrieval compatible routes on the real app over the sample index: the answers of
``/knn-service`` against the index's own vectors, deduplication against a brute-force grouping,
``/metadata`` and ``/indices-list``, the image URL rule, ignored fields and the token."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from flask import Flask

from indexer.settings import Settings
from search_api import create_app
from search_api.clip_compat import DUPLICATE_COSINE, near_duplicates
from search_api.schema.clip_params import IGNORED
from tests.support.contract import Contract
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_IMAGES, assert_error
from tests.support.local_http import QuietHandler, local_http

JPEG = (SAMPLE_IMAGES / "cxr_01.jpg").read_bytes()
#: every key ClipClient sends, as it sends them for a text query
CLIP_CLIENT_BODY = {
    "text": "chest x-ray",
    "image": None,
    "image_url": None,
    "embedding_input": None,
    "deduplicate": True,
    "use_safety_model": True,
    "use_violence_detector": True,
    "indice_name": None,
    "use_mclip": False,
    "aesthetic_score": 9,
    "aesthetic_weight": 0.5,
    "modality": "image",
    "num_images": 10,
    "num_result_ids": 10,
}


def knn(client: Any, **body: Any) -> list[dict[str, Any]]:
    response = client.post("/api/knn-service", json=body)
    assert response.status_code == 200, response.get_json()
    rows: list[dict[str, Any]] = response.get_json()
    return rows


def brute_force_duplicates(vectors: np.ndarray, threshold: float) -> set[int]:
    """Each position joined to every earlier one it reaches through cosines above
    ``threshold`` (a flood fill from each unvisited position in rank order)."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = unit @ unit.T
    seen: set[int] = set()
    dropped: set[int] = set()
    for start in range(len(vectors)):
        if start in seen:
            continue
        frontier, group = [start], {start}
        while frontier:
            node = frontier.pop()
            for other in range(len(vectors)):
                if other not in group and cosines[node, other] > threshold:
                    group.add(other)
                    frontier.append(other)
        seen |= group
        dropped |= group - {start}
    return dropped


def test_a_text_query_ranks_as_the_search_route_with_metadata_on_the_first_images(
    client: Any, app_retriever: Any
) -> None:
    rows = knn(client, text="chest x-ray", num_images=3, num_result_ids=8)
    search = client.post("/api/search", json={"text": "chest x-ray", "k": 8}).get_json()
    assert [row["id"] for row in rows] == [hit["id"] for hit in search["results"]]
    query = app_retriever.embed_text("chest x-ray")
    stored = app_retriever.vectors_for([row["id"] for row in rows])
    assert [row["similarity"] for row in rows] == pytest.approx(stored @ query, abs=1e-4)
    described = [row for row in rows if "url" in row]
    assert described == rows[:3]
    assert all(set(row) == {"id", "similarity"} for row in rows[3:])
    first, hit = rows[0], search["results"][0]
    assert first["image_path"] == hit["path"] and first["caption"] == hit["caption"]
    assert first["modality"] == hit["metadata"]["modality"]
    assert first["url"] == "http://localhost" + hit["image_url"]
    assert client.get(first["url"].removeprefix("http://localhost")).status_code == 200


def test_an_embedding_and_an_image_find_that_image_first(
    client: Any, app_retriever: Any, ids_by_file: dict[str, int]
) -> None:
    xray = ids_by_file["images/cxr_01.jpg"]
    vector = app_retriever.vectors_for([xray])[0].tolist()
    by_vector = knn(client, embedding_input=vector, num_images=1)
    assert by_vector[0]["id"] == xray and by_vector[0]["similarity"] == pytest.approx(1, abs=1e-3)
    by_image = knn(client, image=base64.b64encode(JPEG).decode(), num_images=1)
    assert by_image[0]["id"] == xray


def test_deduplicate_drops_what_a_brute_force_grouping_drops(
    client: Any, app_retriever: Any
) -> None:
    everything = knn(client, text="an image", num_images=1, num_result_ids=SAMPLE_COUNT)
    ids = [row["id"] for row in everything]
    vectors = app_retriever.vectors_for(ids)
    dropped = brute_force_duplicates(vectors, DUPLICATE_COSINE)
    kept = knn(client, text="an image", num_result_ids=SAMPLE_COUNT, deduplicate=True)
    assert [row["id"] for row in kept] == [i for n, i in enumerate(ids) if n not in dropped]


def test_near_duplicates_joins_chains_and_keeps_the_best_ranked() -> None:
    rng = np.random.default_rng(7)
    basis = np.linalg.qr(rng.normal(size=(16, 4)))[0].T  # orthonormal rows

    def at(degrees: float) -> np.ndarray:
        """A unit vector in the plane of the last two rows, ``degrees`` from the third."""
        angle = np.radians(degrees)
        return np.cos(angle) * basis[2] + np.sin(angle) * basis[3]

    # 0 and 3 are copies; 1 ~ 4 and 4 ~ 5 (17 degrees apart) chain 1 to 5 (34 degrees apart)
    vectors = np.stack([basis[0], at(0), basis[1], basis[0] * 1.01, at(17), at(34)])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert unit[1] @ unit[5] < DUPLICATE_COSINE < min(unit[1] @ unit[4], unit[4] @ unit[5])
    assert near_duplicates(vectors) == {3, 4, 5} == brute_force_duplicates(vectors, 0.94)
    for seed in range(5):
        noisy = np.repeat(rng.normal(size=(4, 8)), 3, axis=0) + rng.normal(size=(12, 8)) * 0.2
        order = np.random.default_rng(seed).permutation(12)
        assert near_duplicates(noisy[order]) == brute_force_duplicates(noisy[order], 0.94)


def test_the_document_takes_clip_clients_nulls_as_absent(contract: Contract) -> None:
    schema = contract.doc["components"]["schemas"]["KnnRequest"]
    jsonschema.validate(CLIP_CLIENT_BODY, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**CLIP_CLIENT_BODY, "embedding_input": [1.0]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**CLIP_CLIENT_BODY, "text": None}, schema)


def test_clip_clients_body_is_read_without_a_content_type(client: Any) -> None:
    response = client.post("/api/knn-service", data=json.dumps(CLIP_CLIENT_BODY))
    assert response.status_code == 200, response.get_json()
    rows = response.get_json()
    assert 1 <= len(rows) <= 10 and all("url" in row for row in rows)
    assert set(IGNORED) <= set(CLIP_CLIENT_BODY)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"text": "a", "modality": "text"}, 400, "image vectors only"),
        ({"text": "a", "image_url": "http://x/y.png"}, 400, "exactly one"),
        ({}, 400, "exactly one"),
        ({"text": "a", "num_images": 0}, 400, "num_images"),
        ({"text": "a", "deduplicate": "yes"}, 400, "true or false"),
        ({"image_url": "file:///etc/passwd"}, 400, "http"),
        ({"image_url": "http://192.0.2.1/a.png"}, 403, "MEDSEARCH_FETCH_IMAGE_URLS"),
        ({"embedding_input": [1.0, 2.0]}, 400, "dimension"),
        ({"text": "a", "indice_name": "nope"}, 404, "nope"),
    ],
)
def test_bad_knn_queries_are_refused_with_the_api_error_shape(
    client: Any, body: dict[str, Any], status: int, words: str
) -> None:
    error = assert_error(client.post("/api/knn-service", json=body), status)
    assert words in error["error"]["message"]


def test_metadata_answers_in_the_order_asked_and_leaves_out_unknown_ids(
    client: Any, ids_by_file: dict[str, int]
) -> None:
    xray, dicom = ids_by_file["images/cxr_01.jpg"], ids_by_file["images/dcm_ct_small.dcm"]
    response = client.post("/api/metadata", data=json.dumps({"ids": [dicom, 987_654, xray]}))
    rows = response.get_json()
    assert [row["id"] for row in rows] == [dicom, xray]
    record = client.get(f"/api/images/{xray}").get_json()
    assert rows[1]["metadata"]["image_path"] == record["path"] == "images/cxr_01.jpg"
    assert rows[1]["metadata"]["caption"] == record["caption"]
    assert client.post("/api/metadata", json={"ids": []}).get_json() == []
    assert_error(client.post("/api/metadata", json={"ids": [-1]}), 400)


def test_indices_list_names_the_served_index(client: Any, api_settings: Settings) -> None:
    assert client.get("/api/indices-list").get_json() == [api_settings.index_dir.name]


def test_the_routes_need_the_token_when_one_is_set(
    app_retriever: Any, api_settings: Settings
) -> None:
    client = create_app(api_settings.replace(api_token="s3cret"), retriever=app_retriever)
    http = client.test_client()
    assert_error(http.post("/api/knn-service", json={"text": "a"}), 401, "unauthorized")
    assert_error(http.get("/api/indices-list"), 401)
    headers = {"Authorization": "Bearer s3cret"}
    assert http.post("/api/knn-service", json={"text": "a"}, headers=headers).status_code == 200


class ImageSite(QuietHandler, SimpleHTTPRequestHandler):
    """Serves the sample images; ``/to/URL`` redirects to URL."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(SAMPLE_IMAGES), **kwargs)

    def do_GET(self) -> None:
        if self.path.startswith("/to/"):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/to/"))
            self.end_headers()
            return
        super().do_GET()


@pytest.fixture(scope="module")
def image_site() -> Iterator[str]:
    """A real HTTP server on loopback serving the sample images."""
    with local_http(ImageSite) as url:
        yield url


@pytest.fixture(scope="module")
def fetching_app(app_retriever: Any, api_settings: Settings) -> Flask:
    settings = api_settings.replace(fetch_image_urls=True, max_upload_bytes=len(JPEG) + 10)
    return create_app(settings, retriever=app_retriever)


def test_an_allowed_image_url_is_fetched_within_the_upload_limit(
    fetching_app: Flask, image_site: str, ids_by_file: dict[str, int]
) -> None:
    http = fetching_app.test_client()
    rows = knn(http, image_url=f"{image_site}/cxr_01.jpg", num_images=1)
    assert rows[0]["id"] == ids_by_file["images/cxr_01.jpg"]
    bigger = max(SAMPLE_IMAGES.iterdir(), key=lambda path: path.stat().st_size).name
    too_big = http.post("/api/knn-service", json={"image_url": f"{image_site}/{bigger}"})
    assert_error(too_big, 413, "payload_too_large")
    missing = http.post("/api/knn-service", json={"image_url": f"{image_site}/nope.png"})
    assert "404" in assert_error(missing, 422, "image_url_unavailable")["error"]["message"]
    closed = http.post("/api/knn-service", json={"image_url": "http://127.0.0.1:9/a.png"})
    assert_error(closed, 422, "image_url_unavailable")
    redirected = knn(http, image_url=f"{image_site}/to/{image_site}/cxr_01.jpg", num_images=1)
    assert redirected[0]["id"] == rows[0]["id"]
    for target in ("file:///etc/hostname", "ftp://127.0.0.1/a.png"):
        elsewhere = http.post("/api/knn-service", json={"image_url": f"{image_site}/to/{target}"})
        assert_error(elsewhere, 422, "image_url_unavailable")


def test_image_paths_of_results_are_corpus_paths(client: Any) -> None:
    rows = knn(client, text="a", num_images=SAMPLE_COUNT, num_result_ids=SAMPLE_COUNT)
    sample = {str(p.relative_to(SAMPLE_IMAGES.parent)) for p in SAMPLE_IMAGES.iterdir()}
    assert {row["image_path"] for row in rows} <= sample
    assert all(Path(row["image_path"]).parts[0] == "images" for row in rows)
