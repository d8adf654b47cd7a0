""" "More like this" and "Less like this" in a real browser against a real ``medsearch serve``:
the refined query in the URL and as removable chips, its results as the API ranks the same
weighted parts, and back/forward."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_page import cards, open_home, query_of
from tests.support.helpers import PAGE_SIZE, SAMPLE_IMAGES

pytestmark = pytest.mark.browser

QUERY = "chest radiograph"


def shown_ids(page: Page) -> list[int]:
    return [int(i) for i in cards(page).evaluate_all("cards => cards.map(c => c.dataset.id)")]


def api_ids(page: Page, server_url: str, parts: list[Any]) -> list[int]:
    answer = page.request.post(
        server_url + "/api/search", data={"parts": parts, "k": PAGE_SIZE}
    ).json()
    return [hit["id"] for hit in answer["results"]]


def steer(page: Page, rank: int, button: str) -> int:
    """Open the result at ``rank`` (0 first) and press "More like this" or "Less like this"."""
    card = cards(page).nth(rank)
    image_id = int(card.get_attribute("data-id") or "")
    card.click()
    expect(page.locator("#detail")).to_be_visible()
    page.click(button)
    expect(page.locator("#detail")).to_be_hidden()
    return image_id


def expect_results(page: Page, expected: list[int]) -> None:
    expect(page.locator("#status")).to_have_attribute("data-shown", str(len(expected)))
    expect(cards(page).first).to_have_attribute("data-id", str(expected[0]))
    assert shown_ids(page) == expected


def test_more_and_less_like_refine_the_query_in_the_url_and_chips(
    page: Page, server_url: str
) -> None:
    open_home(page, server_url, f"?q={QUERY}")
    expect(cards(page)).to_have_count(PAGE_SIZE)
    chips = page.locator("#steer-chips .steer-chip")
    expect(page.locator("#steer-chips")).to_be_hidden()

    liked = steer(page, 3, "#more-like")
    expect(page).to_have_url(re.compile(rf"[?&]like={liked}(&|$)"))
    assert query_of(page) == {"q": [QUERY], "like": [str(liked)]}
    with_like = api_ids(page, server_url, [{"text": QUERY}, {"image_id": liked, "weight": 1}])
    expect_results(page, with_like)
    assert liked not in with_like
    expect(chips).to_have_count(1)
    expect(chips.first).to_have_text(re.compile(f"More like image {liked}"))
    expect(page.locator("#q")).to_have_value(QUERY)

    unliked = steer(page, 0, "#less-like")
    assert query_of(page) == {"q": [QUERY], "like": [str(liked)], "unlike": [str(unliked)]}
    both = [{"text": QUERY}, {"image_id": liked, "weight": 1}, {"image_id": unliked, "weight": -1}]
    expect_results(page, api_ids(page, server_url, both))
    assert unliked not in shown_ids(page)
    expect(chips).to_have_count(2)
    expect(chips.nth(1)).to_have_text(re.compile(f"Less like image {unliked}"))

    # Removing a chip takes it out of the query and the URL.
    page.get_by_role("button", name=f"Remove: more like image {liked}").click()
    assert query_of(page) == {"q": [QUERY], "unlike": [str(unliked)]}
    without = [{"text": QUERY}, {"image_id": unliked, "weight": -1}]
    expect_results(page, api_ids(page, server_url, without))
    expect(chips).to_have_count(1)

    # Back and forward walk through the refinements.
    page.go_back()
    expect(chips).to_have_count(2)
    expect_results(page, api_ids(page, server_url, both))
    page.go_back()
    expect(chips).to_have_count(1)
    expect_results(page, with_like)
    page.go_forward()
    expect(chips).to_have_count(2)

    # A refined search is a bookmark: the URL alone brings it back.
    bookmark = page.url
    page.goto("about:blank")
    page.goto(bookmark)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(chips).to_have_count(2)
    expect_results(page, api_ids(page, server_url, both))

    # A new query starts over.
    page.fill("#q", "abdomen")
    page.press("#q", "Enter")
    expect(page).to_have_url(re.compile(r"\?q=abdomen$"))
    expect(page.locator("#steer-chips")).to_be_hidden()


def test_an_uploaded_image_can_be_steered_too(page: Page, server_url: str) -> None:
    open_home(page, server_url)
    page.set_input_files("#file-input", SAMPLE_IMAGES / "cxr_05.jpg")
    expect(cards(page).first).to_have_attribute("data-path", re.compile(r"cxr_05\.jpg$"))
    unliked = steer(page, 1, "#less-like")
    expect(page).to_have_url(re.compile(rf"\?unlike={unliked}$"))
    expect(page.locator("#query-chip")).to_contain_text("cxr_05.jpg")
    expect(page.locator("#steer-chips .steer-chip")).to_have_count(1)
    # the page sends the image itself as a part of the weighted query
    image = base64.b64encode((SAMPLE_IMAGES / "cxr_05.jpg").read_bytes()).decode()
    parts = [{"image": image}, {"image_id": unliked, "weight": -1}]
    expect_results(page, api_ids(page, server_url, parts))
    assert unliked not in shown_ids(page)
