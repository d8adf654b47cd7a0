"""'Strong matches only' in a real browser: the toggle asks for min_z, the page shows what the
API answers, says how many results a cut-off removed, and keeps the raw score under an
advanced detail."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.support.helpers import PAGE_SIZE

pytestmark = pytest.mark.browser

#: the z the toggle asks for (web/static/lib/urlstate.js, README)
STRONG_MATCH_Z = 2


def open_home(page: Page, server_url: str, query: str = "") -> None:
    page.goto(server_url + "/" + query)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def api_search(page: Page, server_url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = page.request.post(
        server_url + "/api/search",
        data=json.dumps({"k": PAGE_SIZE, **body}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.ok, answer.text()
    return answer.json()


def shown_ids(page: Page) -> list[int]:
    ids = page.locator("#results .card").evaluate_all("cs => cs.map(c => c.dataset.id)")
    return [int(i) for i in ids]


def test_the_toggle_shows_the_strong_matches_the_api_gives(page: Page, server_url: str) -> None:
    open_home(page, server_url, "?q=chest")
    expect(page.locator("#status")).to_have_attribute("data-shown", str(PAGE_SIZE))
    every = api_search(page, server_url, {"text": "chest"})["results"]
    assert shown_ids(page) == [hit["id"] for hit in every]
    # each card shows its z
    first = page.locator("#results .card").first
    expect(first.locator(".z")).to_have_text(f"z {every[0]['z']:.1f}")

    page.check("#strong-only")
    expect(page).to_have_url(re.compile(f"min_z={STRONG_MATCH_Z}"))
    strong = api_search(page, server_url, {"text": "chest", "min_z": STRONG_MATCH_Z})
    expected = [hit["id"] for hit in strong["results"]]
    assert expected == [hit["id"] for hit in every if hit["z"] >= STRONG_MATCH_Z]
    expect(page.locator("#status")).to_have_attribute("data-shown", str(len(expected)))
    assert shown_ids(page) == expected
    if not expected:  # the tiny random-weight model may find no strong match for "chest"
        expect(page.locator("#empty-cut")).to_have_text(
            f"{strong['below_cut_off']} results were below the cut-off"
        )

    page.uncheck("#strong-only")
    expect(page.locator("#status")).to_have_attribute("data-shown", str(PAGE_SIZE))
    assert "min_z" not in parse_qs(urlsplit(page.url).query)


def test_a_cut_off_that_removes_everything_says_so(page: Page, server_url: str) -> None:
    every = api_search(page, server_url, {"text": "chest"})["results"]
    similar = every[0]["id"]
    strong = api_search(page, server_url, {"image_id": similar, "min_z": 1e6})
    assert strong["results"] == [] and strong["below_cut_off"] == PAGE_SIZE
    open_home(page, server_url, f"?similar={similar}&min_z=1000000")
    expect(page.locator("#strong-only")).to_be_checked()
    empty = page.locator("#empty")
    expect(empty).to_contain_text("No image matches")
    expect(page.locator("#empty-cut")).to_be_visible()
    expect(page.locator("#empty-cut")).to_have_text(f"{PAGE_SIZE} results were below the cut-off")
    # clearing the filters clears the cut-off too
    page.click("#empty-clear-filters")
    expect(page.locator("#status")).to_have_attribute("data-shown", str(PAGE_SIZE))
    expect(page.locator("#strong-only")).not_to_be_checked()
    expect(page.locator("#empty-cut")).to_be_hidden()


def test_the_raw_score_stays_reachable_under_advanced(page: Page, server_url: str) -> None:
    open_home(page, server_url, "?q=chest")
    slider = page.locator("#min-score")
    expect(slider).to_be_hidden()
    page.click("#score-advanced summary")
    expect(slider).to_be_visible()
    open_home(page, server_url, "?q=chest&min_score=0.05")
    expect(slider).to_be_visible()
    expect(page.locator("#min-score-value")).to_have_text("0.05")
