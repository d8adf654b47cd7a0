"""The client's transport against small real HTTP servers that misbehave on purpose: retries of
calls that change nothing (and none of sign-in), time-outs, an unreachable service, error bodies
that are not the API's; and a client that imports nothing heavy."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from medsearch_client import (
    ApiError,
    MedSearchClient,
    RequestTimeoutError,
    ServiceUnreachableError,
)
from search_api.process import free_port
from tests.support.helpers import modules_loaded_by
from tests.support.local_http import QuietHandler, local_http

INDEXES = {
    "indexes": [{"name": "a", "family": "open_clip", "model": "m", "dim": 4, "count": 1, "new": 1}]
}


class Script:
    """What the stand-in service answers: ``failures`` errors first, then ``INDEXES``."""

    def __init__(self, failures: int, status: int = 503, delay_s: float = 0.0) -> None:
        self.failures = failures
        self.status = status
        self.delay_s = delay_s
        self.requests: list[str] = []


def handler_for(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def answer(self) -> None:
            script.requests.append(f"{self.command} {self.path}")
            time.sleep(script.delay_s)
            if len(script.requests) <= script.failures:
                if script.status == 502:  # a proxy's page, not the API's error shape
                    self.reply(502, b"<html>Bad Gateway</html>", "text/html")
                    return
                error = {"error": {"code": "model_unavailable", "message": "busy"}}
                self.reply(script.status, json.dumps(error).encode(), "application/json")
                return
            self.reply(200, json.dumps(INDEXES).encode(), "application/json")

        def reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = answer

    return Handler


@pytest.fixture()
def stand_in(request: pytest.FixtureRequest) -> Iterator[tuple[str, Script]]:
    script: Script = request.param
    with local_http(handler_for(script)) as url:
        yield url, script


@pytest.mark.parametrize("stand_in", [Script(failures=2)], indirect=True)
def test_an_unavailable_service_is_tried_again(stand_in: tuple[str, Script]) -> None:
    url, script = stand_in
    [index] = MedSearchClient(url, retries=2, backoff=0).indexes()
    assert index.name == "a" and index.extra == {"new": 1}
    assert script.requests == ["GET /api/indexes"] * 3


@pytest.mark.parametrize("stand_in", [Script(failures=5)], indirect=True)
def test_retries_end_with_the_apis_error(stand_in: tuple[str, Script]) -> None:
    url, script = stand_in
    with pytest.raises(ApiError) as raised:
        MedSearchClient(url + "/api/", retries=1, backoff=0).indexes()
    assert (raised.value.status, raised.value.code, raised.value.message) == (
        503,
        "model_unavailable",
        "busy",
    )
    assert raised.value.retry_after == 0 and len(script.requests) == 2


@pytest.mark.parametrize("stand_in", [Script(failures=5)], indirect=True)
def test_signing_in_is_not_repeated(stand_in: tuple[str, Script]) -> None:
    url, script = stand_in
    client = MedSearchClient(url, token="t", use_session=True, retries=3, backoff=0)
    with pytest.raises(ApiError):
        client.indexes()
    assert script.requests == ["POST /api/session"]


@pytest.mark.parametrize("stand_in", [Script(failures=1, status=404)], indirect=True)
def test_a_request_error_is_not_repeated(stand_in: tuple[str, Script]) -> None:
    url, script = stand_in
    with pytest.raises(ApiError) as raised:
        MedSearchClient(url, retries=3, backoff=0).info()
    assert raised.value.status == 404 and len(script.requests) == 1


@pytest.mark.parametrize("stand_in", [Script(failures=1, status=502)], indirect=True)
def test_an_error_page_from_a_proxy_keeps_its_status(stand_in: tuple[str, Script]) -> None:
    url, _ = stand_in
    with pytest.raises(ApiError) as raised:
        MedSearchClient(url, retries=0).indexes()
    assert (raised.value.status, raised.value.code) == (502, "http_error")
    assert "Bad Gateway" in raised.value.message


@pytest.mark.parametrize("stand_in", [Script(failures=0, delay_s=1.0)], indirect=True)
def test_a_slow_service_times_out_after_every_try(stand_in: tuple[str, Script]) -> None:
    url, script = stand_in
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError, match="2 tries"):
        MedSearchClient(url, timeout=0.2, retries=1, backoff=0).indexes()
    assert time.monotonic() - started < 1.0 and len(script.requests) == 2


def test_an_unreachable_service_is_reported_as_such() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnreachableError, match="cannot reach"):
        MedSearchClient(url, retries=1, backoff=0).health()


def test_use_session_needs_the_token() -> None:
    with pytest.raises(ValueError, match="token"):
        MedSearchClient("http://127.0.0.1:1", use_session=True)


def test_the_client_imports_no_model_database_or_service_code() -> None:
    heavy = ("torch", "faiss", "sqlalchemy", "numpy", "PIL", "flask", "indexer", "search_api")
    assert modules_loaded_by("medsearch_client", heavy) == []
