"""The page against a service that requires its API token: sign in once, then search with
thumbnails, which are plain ``<img>`` requests and so depend on the session cookie."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.serving import serve

from .conftest import SERVER_START_TIMEOUT
from .test_page import PAGE_SIZE, cards, open_home, search

pytestmark = pytest.mark.browser

TOKEN = "open sesame"
#: wrong tokens the service takes from one address before it answers 429 (for a minute)
WRONG_TOKENS_ALLOWED = 4


@pytest.fixture(scope="module")
def token_server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    index_dir = Path(request.getfixturevalue("sample_index_dir"))
    workdir = tmp_path_factory.mktemp("e2e-token-server")
    env = {
        "MEDSEARCH_API_TOKEN": TOKEN,
        "MEDSEARCH_THUMBNAIL_DIR": str(workdir / "thumbnails"),
        "MEDSEARCH_AUTH_FAILURES": str(WRONG_TOKENS_ALLOWED),
    }
    with serve(index_dir, threads=4, env=env, startup_timeout_s=SERVER_START_TIMEOUT) as server:
        yield server.url


def test_sign_in_then_search_shows_thumbnails(page: Page, token_server_url: str) -> None:
    response = page.goto(token_server_url)
    assert response is not None
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    open_home(page, token_server_url)
    expect(page.locator("#signin-form")).to_be_visible()
    expect(page.locator("#service-info")).to_have_text("Sign in to search")
    expect(page.locator("#signin-token")).to_be_focused()

    page.fill("#signin-token", "wrong")
    page.press("#signin-token", "Enter")
    expect(page.locator("#signin-error")).to_have_text("That token is not right. Try again.")

    page.fill("#signin-token", TOKEN)
    page.press("#signin-token", "Enter")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#signin-form")).to_be_hidden()
    expect(page.locator("#service-info")).to_contain_text("images indexed")
    cookie = next(c for c in page.context.cookies() if c["name"] == "medsearch_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert TOKEN not in cookie["value"]

    search(page, "chest X-ray")
    expect(cards(page)).to_have_count(PAGE_SIZE)
    thumbnails = page.locator("#results img")
    expect(thumbnails.first).to_have_js_property("complete", True)
    assert thumbnails.first.evaluate("img => img.naturalWidth") > 0


def test_a_search_turned_away_asks_for_the_token(page: Page, token_server_url: str) -> None:
    open_home(page, token_server_url, "?q=fundus")
    expect(page.locator("#signin-form")).to_be_visible()
    expect(cards(page)).to_have_count(0)
    expect(page.locator("#error")).to_be_hidden()


def test_signing_out_revokes_the_session(page: Page, token_server_url: str) -> None:
    open_home(page, token_server_url)
    page.fill("#signin-token", TOKEN)
    page.press("#signin-token", "Enter")
    expect(page.locator("#service-info")).to_contain_text("images indexed")
    cookie = next(c for c in page.context.cookies() if c["name"] == "medsearch_session")
    replay = {"Cookie": f"medsearch_session={cookie['value']}"}
    assert page.request.get(token_server_url + "/api/info", headers=replay).status == 200
    status = page.evaluate("fetch('api/session', {method: 'DELETE'}).then(r => r.status)")
    assert status == 204
    assert not [c for c in page.context.cookies() if c["name"] == "medsearch_session"]
    # the session is gone on the server: a copy of its cookie opens nothing
    assert page.request.get(token_server_url + "/api/info", headers=replay).status == 401


def test_guessing_tokens_is_slowed_down(page: Page, token_server_url: str) -> None:
    """Runs last: the page's address then waits a minute before it may try a token again."""
    open_home(page, token_server_url)
    error = page.locator("#signin-error")
    for _ in range(WRONG_TOKENS_ALLOWED + 1):
        page.fill("#signin-token", "a guess")
        page.press("#signin-token", "Enter")
        expect(error).to_be_visible()
        if "too many wrong tokens" in (error.text_content() or ""):
            break
    expect(error).to_contain_text("too many wrong tokens from this address: try again in")
