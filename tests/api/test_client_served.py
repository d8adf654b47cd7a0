"""``MedSearchClient`` against a real, token-protected ``medsearch serve`` process: every method
with the bearer token, a browser-style session that is signed in again once the service forgets
it, and the refusals of a missing or wrong token as typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from medsearch_client import ApiError, MedSearchClient
from search_api.process import ServiceProcess
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_IMAGES
from tests.support.serving import serve_fp32

TOKEN = "s3cret-t0ken"
XRAY = SAMPLE_IMAGES / "cxr_01.jpg"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(
    sample_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    thumbnails = tmp_path_factory.mktemp("client-thumbnails")
    env = {"MEDSEARCH_API_TOKEN": TOKEN, "MEDSEARCH_AUTH_FAILURES": "1000"}
    with serve_fp32(sample_index_dir, thumbnails=thumbnails, env=env) as running:
        yield running


def test_every_method_with_the_bearer_token(server: ServiceProcess) -> None:
    with MedSearchClient(server.url, TOKEN, timeout=60) as client:
        page = client.search("chest x-ray", k=3)
        assert page.total == SAMPLE_COUNT and len(page.results) == 3
        hit = client.search(image=XRAY, k=1).results[0]
        assert hit.path == "images/cxr_01.jpg"
        assert [h.id for h in client.similar(hit.id, k=2).results] == [
            h.id for h in client.search(image_id=hit.id, k=2).results
        ]
        assert len(list(client.iter_search("chest x-ray", page_size=10))) == SAMPLE_COUNT
        assert client.image(hit.id).path == hit.path
        assert client.original(hit.id) == XRAY.read_bytes()
        assert client.thumbnail(hit.id, size=64).startswith(b"\xff\xd8")
        assert len(client.classify(["chest", "eye"], image=XRAY)) == 2
        assert sum(v.count for v in client.facets()["modality"]) == SAMPLE_COUNT
        assert client.indexes()[0].count == client.info().count == SAMPLE_COUNT


def test_a_session_stands_for_the_token_and_is_renewed_when_forgotten(
    server: ServiceProcess,
) -> None:
    client = MedSearchClient(server.url, TOKEN, use_session=True)
    assert client.info().count == SAMPLE_COUNT
    cookie = client.transport.http.cookies.get("medsearch_session")
    assert cookie
    # sign the session out behind the client's back: its next call signs in again
    requests.delete(server.url + "/api/session", cookies={"medsearch_session": cookie}, timeout=30)
    assert client.search("x", k=1).results
    renewed = client.transport.http.cookies.get("medsearch_session")
    assert renewed and renewed != cookie
    client.close()
    answer = requests.get(
        server.url + "/api/info", cookies={"medsearch_session": renewed}, timeout=30
    )
    assert answer.status_code == 401  # closing the client signed it out


@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_missing_or_wrong_token_is_an_api_error(
    server: ServiceProcess, token: str | None
) -> None:
    client = MedSearchClient(server.url, token, retries=0)
    assert client.health()  # open to all
    with pytest.raises(ApiError) as refused:
        client.search("x")
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")
    with pytest.raises(ApiError) as sign_in:
        MedSearchClient(server.url, "wrong", use_session=True).info()
    assert sign_in.value.status == 401 and sign_in.value.message == "wrong access token"


def test_request_errors_of_the_real_service(server: ServiceProcess) -> None:
    client = MedSearchClient(server.url, TOKEN)
    with pytest.raises(ApiError) as missing:
        client.thumbnail(987_654)
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    with pytest.raises(ApiError) as unknown:
        client.facets(index="nope")
    assert unknown.value.status == 404 and "nope" in unknown.value.message
    with pytest.raises(ApiError) as empty:
        client.classify([], image_id=1)
    assert empty.value.code == "invalid_request"
