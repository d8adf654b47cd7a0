"""``MedSearchClient`` over HTTP against the real app on the sample index, served in this process
by werkzeug's threaded server (the same app ``medsearch serve`` runs; the tests against that
process are in ``test_client_served.py``): every method, its typed answers checked against the
JSON API's own, paging against one big page, and the API's errors as exceptions."""

from __future__ import annotations

import contextlib
import io
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from werkzeug.serving import make_server

from medsearch_client import ApiError, Hit, MedSearchClient, SearchPage
from tests.support.helpers import REPO, SAMPLE_COUNT, SAMPLE_IMAGES

XRAY = SAMPLE_IMAGES / "cxr_01.jpg"


@pytest.fixture(scope="module")
def base_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture()
def medsearch(base_url: str) -> Iterator[MedSearchClient]:
    with MedSearchClient(base_url, timeout=60, retries=0) as client:
        yield client


def test_a_text_search_is_the_apis_answer_typed(medsearch: MedSearchClient, client: Any) -> None:
    page = medsearch.search("chest x-ray", k=5, filters={"modality": "CR"})
    raw = client.post(
        "/api/search", json={"text": "chest x-ray", "k": 5, "filters": {"modality": "CR"}}
    ).get_json()
    assert isinstance(page, SearchPage) and page.total == raw["total"]
    assert [(h.id, h.score, h.path) for h in page.results] == [
        (h["id"], h["score"], h["path"]) for h in raw["results"]
    ]
    first = page.results[0]
    assert first.metadata["modality"] == "CR" and first.thumbnail_url and first.extra == {}


def test_an_image_as_path_bytes_or_pil_finds_the_same_images(medsearch: MedSearchClient) -> None:
    with Image.open(XRAY) as opened:
        pil = opened.convert("RGB")
    pages = [
        medsearch.search(image=image, k=4) for image in (XRAY, str(XRAY), XRAY.read_bytes(), pil)
    ]
    ids = [[hit.id for hit in page.results] for page in pages]
    assert ids[0] == ids[1] == ids[2] and ids[0][0] == ids[3][0]
    assert pages[0].results[0].path == "images/cxr_01.jpg"


def test_iterating_over_every_page_gives_the_ranking_of_one_big_page(
    medsearch: MedSearchClient,
) -> None:
    everything = medsearch.search("an image", k=SAMPLE_COUNT).results
    paged = list(medsearch.iter_search("an image", page_size=5))
    assert [hit.id for hit in paged] == [hit.id for hit in everything]
    assert len(paged) == SAMPLE_COUNT and all(isinstance(hit, Hit) for hit in paged)
    some = list(medsearch.iter_search("an image", page_size=5, limit=7, min_score=-1.0))
    assert [hit.id for hit in some] == [hit.id for hit in everything[:7]]


def test_image_id_vector_and_similar(medsearch: MedSearchClient, app_retriever: Any) -> None:
    first = medsearch.search(image=XRAY, k=1).results[0]
    similar = medsearch.similar(first.id, k=3)
    by_id = medsearch.search(image_id=first.id, k=3)
    assert [h.id for h in similar.results] == [h.id for h in by_id.results]
    assert first.id not in {h.id for h in similar.results}
    vector = app_retriever.vectors_for([first.id])[0]
    assert medsearch.search(vector=vector, k=1).results[0].id == first.id


def test_records_thumbnails_originals_classify_facets_indexes_info(
    medsearch: MedSearchClient, client: Any
) -> None:
    hit = medsearch.search(image=XRAY, k=1).results[0]
    record = medsearch.image(hit.id)
    assert (
        record.path == hit.path
        and record.sha256 == client.get(f"/api/images/{hit.id}").get_json()["sha256"]
    )
    assert medsearch.thumbnail(hit.id, size=64).startswith(b"\xff\xd8")
    assert medsearch.original(hit.id) == XRAY.read_bytes()
    labels = medsearch.classify(["chest x-ray", "fundus photograph"], image_id=hit.id)
    assert sorted(label.label for label in labels) == ["chest x-ray", "fundus photograph"]
    assert sum(label.probability for label in labels) == pytest.approx(1.0)
    by_image = medsearch.classify(["a", "b"], image=XRAY, template="an image of {}")
    assert len(by_image) == 2
    facets = medsearch.facets()
    raw = client.get("/api/facets").get_json()["facets"]
    assert {name: [(v.value, v.count) for v in values] for name, values in facets.items()} == {
        name: [(v["value"], v["count"]) for v in values] for name, values in raw.items()
    }
    under = medsearch.facets({"modality": "CR"})
    assert under["modality"] == facets["modality"]  # its own filter leaves it selectable
    [index] = medsearch.indexes()
    info = medsearch.info(index=index.name)
    assert info.count == index.count == SAMPLE_COUNT and info.random_weights
    assert "{}" in info.default_template and medsearch.health()


def test_api_errors_carry_the_apis_status_and_code(medsearch: MedSearchClient) -> None:
    with pytest.raises(ApiError) as missing:
        medsearch.image(987_654)
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    with pytest.raises(ApiError) as unknown:
        medsearch.search("x", index="nope")
    assert unknown.value.status == 404 and "nope" in unknown.value.message
    with pytest.raises(ApiError) as too_big:
        medsearch.search("x", k=10**6)
    assert (too_big.value.status, too_big.value.code) == (400, "invalid_request")
    with pytest.raises(ApiError) as unreadable:
        medsearch.search(image=b"not an image")
    assert unreadable.value.code == "unreadable_image"


def test_options_the_client_does_not_name_reach_the_service(medsearch: MedSearchClient) -> None:
    """An option is sent as it is, and the service checks it: ``collapse`` it knows (its group
    comes back among each result's extra keys), ``sharpen`` it does not."""
    grouped = medsearch.search("x", k=3, collapse="format")
    assert grouped.results
    assert all(hit.extra["group"]["field"] == "format" for hit in grouped.results)
    assert len({hit.extra["group"]["value"] for hit in grouped.results}) == len(grouped.results)
    with pytest.raises(ApiError) as refused:
        medsearch.search("x", sharpen=True)
    assert refused.value.status == 400 and "'sharpen'" in refused.value.message
    with pytest.raises(ApiError) as classify:
        medsearch.classify(["a"], image=XRAY, mode="fast")
    assert "'mode'" in classify.value.message
    # GET routes ignore query arguments they do not know
    assert medsearch.similar(1, k=2, flavour="plain").results


def test_wrong_calls_fail_before_any_request(medsearch: MedSearchClient) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        medsearch.search("x", image=XRAY)
    with pytest.raises(ValueError, match="exactly one"):
        medsearch.search()
    with pytest.raises(TypeError, match="path, bytes or a PIL image"):
        medsearch.search(image=3.5)


def test_the_readme_example_runs(base_url: str) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### From Python") :]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert example is not None
    code = example.group(1).replace("http://127.0.0.1:8000", base_url)
    code = code.replace('"query.png"', repr(str(XRAY)))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    assert "images/cxr_" in printed.getvalue()


def test_options_the_client_does_not_type_are_sent_as_they_are(
    medsearch: MedSearchClient, client: Any
) -> None:
    # a weighted query (``parts``) is a query kind of its own, passed through untouched
    parts = [{"text": "chest x-ray"}, {"image_id": 2, "weight": -0.5}]
    page = medsearch.search(parts=parts, k=5)
    raw = client.post("/api/search", json={"parts": parts, "k": 5}).get_json()
    assert [(h.id, h.score) for h in page.results] == [
        (h["id"], h["score"]) for h in raw["results"]
    ]
    assert 2 not in [h.id for h in page.results]
    with pytest.raises(ApiError, match="positive weight"):
        medsearch.search(parts=[{"text": "x", "weight": -1}])
