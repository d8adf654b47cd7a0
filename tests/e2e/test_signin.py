"""The page against a service that requires its API token: sign in once, then search with
thumbnails, which are plain ``<img>`` requests and so depend on the session cookie."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.serving import serve

from .conftest import SERVER_START_TIMEOUT
from .test_page import PAGE_SIZE, cards, open_home, search

pytestmark = pytest.mark.browser

TOKEN = "open sesame"


@pytest.fixture(scope="module")
def token_server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    index_dir = Path(request.getfixturevalue("sample_index_dir"))
    workdir = tmp_path_factory.mktemp("e2e-token-server")
    env = {
        "MEDSEARCH_API_TOKEN": TOKEN,
        "MEDSEARCH_THUMBNAIL_DIR": str(workdir / "thumbnails"),
    }
    with serve(index_dir, threads=4, env=env, startup_timeout_s=SERVER_START_TIMEOUT) as server:
        yield server.url


def test_sign_in_then_search_shows_thumbnails(page: Page, token_server_url: str) -> None:
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
