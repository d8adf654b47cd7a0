"""POST /api/search and /api/search/image over the real sample index."""

from __future__ import annotations

import base64
import io
import json
import tempfile
from typing import Any

import numpy as np
import pytest
import werkzeug.formparser
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder

from tests.support.helpers import SAMPLE_DIR, assert_error

HIT_KEYS = {"id", "score", "path", "caption", "metadata", "thumbnail_url", "image_url"}


def search(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/search", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def unit_vector(dim: int, seed: int) -> list[float]:
    vector = np.random.default_rng(seed).standard_normal(dim)
    return (vector / np.linalg.norm(vector)).tolist()


def brute_force(retriever: Any, all_hits: dict[int, float], query: list[float], ids: list[int]):
    """(id, cosine) of ``ids`` best first, from the stored vectors when the retriever has them."""
    if hasattr(retriever, "vectors_for"):
        vectors = np.asarray(retriever.vectors_for(ids), dtype=np.float64)
        q = np.asarray(query, dtype=np.float64)
        scores = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    else:  # fall back to the exhaustive unfiltered ranking
        scores = np.asarray([all_hits[i] for i in ids])
    order = np.argsort(-scores, kind="stable")
    return [(ids[i], float(scores[i])) for i in order]


@pytest.fixture(scope="session")
def dim(app_retriever: Any) -> int:
    return int(app_retriever.info().dim)


def test_text_search_shape(client: FlaskClient, app_retriever: Any) -> None:
    body = search(client, {"text": "chest x-ray with ground-glass opacities", "k": 5})
    assert body["total"] == app_retriever.info().count == 32
    assert set(body["timings_ms"]) >= {"embed", "search", "total"}
    assert len(body["results"]) == 5
    scores = [hit["score"] for hit in body["results"]]
    assert scores == sorted(scores, reverse=True)
    for hit in body["results"]:
        assert set(hit) >= HIT_KEYS
        assert hit["thumbnail_url"] == f"/api/images/{hit['id']}/thumbnail"
        assert hit["image_url"] == f"/api/images/{hit['id']}/file"


def test_default_k_paging_and_min_score(client: FlaskClient, dim: int) -> None:
    vector = unit_vector(dim, seed=1)
    everything = search(client, {"vector": vector, "k": 32})["results"]
    assert len(search(client, {"vector": vector})["results"]) == 20
    page = search(client, {"vector": vector, "k": 5, "offset": 5})["results"]
    assert [h["id"] for h in page] == [h["id"] for h in everything[5:10]]
    assert search(client, {"vector": vector, "offset": 40})["results"] == []
    threshold = everything[3]["score"]
    kept = search(client, {"vector": vector, "k": 32, "min_score": threshold})["results"]
    assert [h["id"] for h in kept] == [h["id"] for h in everything if h["score"] >= threshold]


def test_unfiltered_vector_search_is_exact(
    client: FlaskClient, app_retriever: Any, dim: int
) -> None:
    vector = unit_vector(dim, seed=2)
    hits = search(client, {"vector": vector, "k": 32})["results"]
    ids = [hit["id"] for hit in hits]
    expected = brute_force(app_retriever, {h["id"]: h["score"] for h in hits}, vector, sorted(ids))
    assert [i for i, _ in expected[:10]] == ids[:10]
    for hit, (_, score) in zip(hits, expected, strict=True):
        assert hit["score"] == pytest.approx(score, abs=1e-4)


@pytest.mark.parametrize(
    ("filters", "column", "values"),
    [
        ({"label": "Pneumocystis"}, "label", ["Pneumocystis"]),
        ({"modality": "CT"}, "modality", ["CT"]),
        ({"label": ["ARDS", "No Finding"]}, "label", ["ARDS", "No Finding"]),
        ({"body_part": "chest", "label": "COVID-19"}, None, None),
    ],
)
@pytest.mark.parametrize("k", [2, 20])
def test_filters_match_brute_force(
    client: FlaskClient,
    app_retriever: Any,
    dim: int,
    sample_rows: list[dict[str, str]],
    ids_by_file: dict[str, int],
    filters: dict[str, Any],
    column: str | None,
    values: list[str] | None,
    k: int,
) -> None:
    def allowed(row: dict[str, str]) -> bool:
        return all(
            row[field] in (wanted if isinstance(wanted, list) else [wanted])
            for field, wanted in filters.items()
        )

    matching = sorted(ids_by_file[row["file"]] for row in sample_rows if allowed(row))
    assert 1 <= len(matching) <= 12
    vector = unit_vector(dim, seed=3)
    everything = search(client, {"vector": vector, "k": 32})["results"]
    scores = {h["id"]: h["score"] for h in everything}
    expected = brute_force(app_retriever, scores, vector, matching)
    body = search(client, {"vector": vector, "k": k, "filters": filters})
    assert body["total"] == len(matching)
    assert [hit["id"] for hit in body["results"]] == [i for i, _ in expected[:k]]
    for hit, (_, score) in zip(body["results"], expected, strict=False):
        assert hit["score"] == pytest.approx(score, abs=1e-4)
        for field, wanted in filters.items():
            assert hit["metadata"][field] in (wanted if isinstance(wanted, list) else [wanted])


def test_text_search_with_filter_stays_inside_it(client: FlaskClient) -> None:
    body = search(client, {"text": "head CT", "k": 10, "filters": {"modality": ["CT", "MR"]}})
    assert body["results"]
    assert {hit["metadata"]["modality"] for hit in body["results"]} <= {"CT", "MR"}


@pytest.mark.parametrize(
    "filters",
    [
        {"bits_stored": 13},
        {"bits_stored": "13"},
        {"slice_thickness": 5},
        {"slice_thickness": ["5.0", 7], "modality": "CT"},
    ],
)
def test_filters_match_by_the_type_of_the_stored_values(
    client: FlaskClient, ids_by_file: dict[str, int], filters: dict[str, Any]
) -> None:
    body = search(client, {"text": "head", "k": 32, "filters": filters})
    assert ids_by_file["images/dcm_ct_head.dcm"] in [hit["id"] for hit in body["results"]]
    assert "suggestions" not in body


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"bits_stored": "thirteen"}, "filter 'bits_stored': 'thirteen' cannot match"),
        ({"modality": 5}, "filter 'modality': 5 cannot match its values, which are text"),
        ({"slice_thickness": True}, "filter 'slice_thickness': True cannot match"),
    ],
)
def test_a_filter_value_of_another_type_is_refused(
    client: FlaskClient, filters: dict[str, Any], message: str
) -> None:
    response = client.post("/api/search", json={"text": "head", "filters": filters})
    assert message in assert_error(response, 400, "invalid_request")["error"]["message"]


def test_an_empty_result_names_values_differing_only_in_case(client: FlaskClient) -> None:
    body = search(client, {"text": "head", "filters": {"modality": "ct"}})
    assert body["results"] == [] and body["total"] == 0
    assert body["suggestions"] == {"modality": ["CT"]}


def test_image_id_query_leaves_the_image_out(client: FlaskClient, ids_by_file: dict[str, int]):
    image_id = ids_by_file["images/histo_01.png"]
    hits = search(client, {"image_id": image_id, "k": 3})["results"]
    assert len(hits) == 3 and image_id not in [hit["id"] for hit in hits]
    # the same answer as the "similar images" route
    similar = client.get(f"/api/images/{image_id}/similar?k=3").get_json()["results"]
    assert [hit["id"] for hit in similar] == [hit["id"] for hit in hits]


@pytest.mark.parametrize("name", ["cxr_05.jpg", "fundus_02.png", "dcm_ct_small.dcm"])
def test_uploaded_sample_finds_itself_first(client: FlaskClient, name: str) -> None:
    data = (SAMPLE_DIR / "images" / name).read_bytes()
    form = {"file": (io.BytesIO(data), name), "k": "3", "filters": ""}
    response = client.post("/api/search/image", data=form, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["results"][0]["path"] == f"images/{name}"
    assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert len(body["results"]) == 3
    assert body["timings_ms"]["decode"] > 0


def test_large_upload_never_touches_the_disk(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_disk(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an upload was spooled to a temporary file")

    data = (SAMPLE_DIR / "images" / "dcm_us_kidney.dcm").read_bytes()
    assert len(data) > 700_000
    form = {"file": (io.BytesIO(data), "kidney.dcm"), "k": "1"}
    # the test client itself spools a body this big: build it here and close it
    builder = EnvironBuilder(path="/api/search/image", method="POST", data=form)
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    with monkeypatch.context() as patch:
        patch.setattr(werkzeug.formparser, "SpooledTemporaryFile", no_disk)
        patch.setattr(tempfile, "SpooledTemporaryFile", no_disk)
        patch.setattr(tempfile, "TemporaryFile", no_disk)
        patch.setattr(tempfile, "NamedTemporaryFile", no_disk)
        response = client.open(environ)
    environ["wsgi.input"].close()
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["results"][0]["path"] == "images/dcm_us_kidney.dcm"


def test_upload_with_form_filters(client: FlaskClient) -> None:
    data = (SAMPLE_DIR / "images" / "cxr_02.jpg").read_bytes()
    form = {
        "file": (io.BytesIO(data), "upload"),
        "filters": json.dumps({"label": ["Pneumocystis"]}),
        "k": "5",
        "min_score": "-1",
        "offset": "0",
    }
    response = client.post("/api/search/image", data=form, content_type="multipart/form-data")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["total"] == 2
    assert [hit["path"] for hit in body["results"]][0] == "images/cxr_02.jpg"
    assert {hit["metadata"]["label"] for hit in body["results"]} == {"Pneumocystis"}


@pytest.mark.parametrize("data_url", [False, True])
def test_base64_image_query(client: FlaskClient, data_url: bool) -> None:
    encoded = base64.b64encode((SAMPLE_DIR / "images" / "fundus_01.jpg").read_bytes()).decode()
    if data_url:
        encoded = "data:image/jpeg;base64," + encoded
    hits = search(client, {"image": encoded, "k": 2})["results"]
    assert hits[0]["path"] == "images/fundus_01.jpg"
