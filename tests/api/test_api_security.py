"""Hostile clients: random expiring sessions, the brake on wrong tokens, the headers every answer
carries, CORS off unless configured, and a token that never reaches a log."""

from __future__ import annotations

import logging
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.settings import Settings
from search_api.app import create_app
from search_api.security.auth import SESSION_COOKIE
from search_api.security.sessions import MAX_CLIENTS, FailureLimiter, SessionStore
from tests.support.serving import serve

TOKEN = "correct horse battery staple"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WRONG = {"Authorization": "Bearer incorrect horse"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token_app(api_settings: Settings, retriever: Any, **changes: Any) -> Flask:
    return create_app(api_settings.replace(api_token=TOKEN, **changes), retriever=retriever)


def signed_in(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    response = client.post("/api/session", json={"token": TOKEN})
    assert response.status_code == 200
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    return client, cookie.value


# --- sessions ---------------------------------------------------------------------------------


def test_each_sign_in_gets_its_own_random_session(
    api_settings: Settings, app_retriever: Any
) -> None:
    app = token_app(api_settings, app_retriever, session_ttl=3600)
    (first, first_id), (second, second_id) = signed_in(app), signed_in(app)
    assert first_id != second_id and len(first_id) >= 43  # 256 random bits
    assert TOKEN not in first_id and "correct" not in first_id
    response = second.post("/api/session", json={"token": TOKEN})
    assert "Max-Age=3600" in response.headers["Set-Cookie"]
    assert first.get("/api/info").status_code == second.get("/api/info").status_code == 200


def test_sign_out_revokes_the_session_on_the_server(
    api_settings: Settings, app_retriever: Any
) -> None:
    app = token_app(api_settings, app_retriever)
    client, session_id = signed_in(app)
    other, _ = signed_in(app)
    assert client.delete("/api/session").status_code == 204
    # a copy of the cookie kept by an attacker is worth nothing once its browser signed out
    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, session_id)
    assert replay.get("/api/info").status_code == 401
    assert other.get("/api/info").status_code == 200  # other browsers stay signed in


def test_a_new_token_signs_everyone_out(api_settings: Settings, app_retriever: Any) -> None:
    _, session_id = signed_in(token_app(api_settings, app_retriever))
    restarted = create_app(api_settings.replace(api_token="a new token"), retriever=app_retriever)
    client = restarted.test_client()
    client.set_cookie(SESSION_COOKIE, session_id)
    assert client.get("/api/info").status_code == 401


def test_sessions_expire_and_stay_bounded() -> None:
    clock = Clock()
    store = SessionStore(ttl_s=60, clock=clock)
    early = store.create()
    clock.now += 30
    late = store.create()
    assert store.is_valid(early) and store.is_valid(late)
    assert not store.is_valid("") and not store.is_valid(None) and not store.is_valid(early + "x")
    clock.now += 31
    assert not store.is_valid(early) and store.is_valid(late)
    store.revoke(late)
    assert not store.is_valid(late)
    store.create()
    assert len(store) == 1  # the expired session was dropped


# --- wrong tokens -----------------------------------------------------------------------------


def test_repeated_wrong_tokens_are_answered_429(api_settings: Settings, app_retriever: Any) -> None:
    app = token_app(api_settings, app_retriever, auth_failures=3, auth_failure_window=60)
    browser, _ = signed_in(app)  # signed in before the attack, from the same address
    attacker = app.test_client()
    for _ in range(10):  # no credentials at all: a page asking whether it must sign in
        assert attacker.get("/api/info").status_code == 401
    for _ in range(3):
        assert attacker.get("/api/info", headers=WRONG).status_code == 401
    refused = attacker.get("/api/info", headers=WRONG)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # the right token cannot be tried either, by header or by signing in ...
    assert attacker.get("/api/info", headers=BEARER).status_code == 429
    assert attacker.post("/api/session", json={"token": TOKEN}).status_code == 429
    # ... but a browser signed in already goes on, and other addresses are not slowed down
    assert browser.get("/api/info").status_code == 200
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert elsewhere.get("/api/info", headers=BEARER).status_code == 200


def test_wrong_sign_ins_count_too(api_settings: Settings, app_retriever: Any) -> None:
    app = token_app(api_settings, app_retriever, auth_failures=2)
    client = app.test_client()
    statuses = [client.post("/api/session", json={"token": "guess"}).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_the_failure_window_slides() -> None:
    clock = Clock()
    limiter = FailureLimiter(max_failures=2, window_s=10, clock=clock)
    limiter.failed("a")
    clock.now += 4
    limiter.failed("a")
    assert limiter.retry_after("a") == 6 and limiter.retry_after("b") is None
    clock.now += 6  # the first failure ages out
    assert limiter.retry_after("a") is None
    for number in range(MAX_CLIENTS + 5):
        limiter.failed(f"client-{number}")
    assert limiter.retry_after("client-0") is None  # the oldest clients were forgotten


# --- headers and CORS -------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(
    client: FlaskClient, ids_by_file: dict[str, int]
) -> None:
    image_id = ids_by_file["images/cxr_01.jpg"]
    answers = {
        url: client.get(url)
        for url in (
            "/api/health",
            "/api/info",
            "/api/nope",
            f"/api/images/{image_id}/thumbnail",
            f"/api/images/{image_id}/file",
            "/",
            "/assets/app.js",
            "/no-such-page",
        )
    }
    for url, response in answers.items():
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] == "no-referrer", url
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], url
        assert "Access-Control-Allow-Origin" not in headers, url
        response.close()
    assert answers["/api/info"].headers["Content-Security-Policy"].startswith("default-src 'none'")
    page_policy = answers["/"].headers["Content-Security-Policy"]
    assert "script-src 'self'" in page_policy and "'unsafe-inline'" not in page_policy


def test_cors_is_off_unless_origins_are_configured(
    client: FlaskClient, api_settings: Settings, app_retriever: Any
) -> None:
    origin = {"Origin": "https://pacs.example.org"}
    assert "Access-Control-Allow-Origin" not in client.get("/api/info", headers=origin).headers
    app = create_app(
        api_settings.replace(cors_origins="https://pacs.example.org, https://ris.example.org/"),
        retriever=app_retriever,
    )
    cors = app.test_client()
    allowed = cors.get("/api/info", headers=origin)
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://pacs.example.org"
    assert "Origin" in allowed.headers["Vary"]
    other = cors.get("/api/info", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = cors.options(
        "/api/search",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers


# --- the token is never logged ----------------------------------------------------------------


def test_the_token_is_never_logged(
    api_settings: Settings, app_retriever: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = token_app(api_settings, app_retriever, auth_failures=2)
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    client.post("/api/session", json={"token": TOKEN})
    client.get("/api/info", headers=BEARER)
    for _ in range(3):
        client.get("/api/info", headers={"Authorization": f"Bearer {TOKEN}x"})
        client.post("/api/session", json={"token": f"{TOKEN}x"})
    # wrong tokens are logged, with where they came from
    assert "wrong API token from 127.0.0.1" in caplog.text
    assert "too many wrong tokens" in caplog.text
    assert "correct horse" not in caplog.text


@pytest.mark.slow
def test_a_served_token_never_reaches_the_service_log(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    env = {"MEDSEARCH_API_TOKEN": TOKEN, "MEDSEARCH_THUMBNAIL_DIR": str(tmp_path / "thumbnails")}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with serve(sample_index_dir, env=env) as server:
        for headers, body in [
            (BEARER, None),
            ({"Authorization": f"Bearer {TOKEN}x"}, None),
            ({"Content-Type": "application/json"}, f'{{"token": "{TOKEN}"}}'.encode()),
            ({"Content-Type": "application/json"}, f'{{"token": "{TOKEN}x"}}'.encode()),
        ]:
            path = "/api/info" if body is None else "/api/session"
            request = urllib.request.Request(server.url + path, data=body, headers=headers)
            try:
                opener.open(request, timeout=60).close()
            except urllib.error.HTTPError as exc:
                exc.close()
        log = server.log_path.read_text()
    assert server.url in log  # the service did write its log
    assert "correct horse" not in log
