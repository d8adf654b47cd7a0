"""The mode picker on the search page: keyword and hybrid searches of the sample's captions,
the matched words marked, the mode kept in the URL across reload, back and forward."""

from __future__ import annotations

import json
import re
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_page import cards, open_home, search
from tests.support.helpers import SAMPLE_COUNT

pytestmark = pytest.mark.browser


def api_total(server_url: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(
        server_url + "/api/search",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return int(json.load(answer)["total"])


def test_the_mode_picker_searches_by_keywords_and_marks_the_words(
    page: Page, server_url: str
) -> None:
    matching = api_total(server_url, {"text": "pneumonia", "mode": "keyword"})
    assert 0 < matching < SAMPLE_COUNT
    open_home(page, server_url)
    search(page, "pneumonia")
    expect(page.locator("#status")).to_have_attribute("data-total", str(SAMPLE_COUNT))
    # a dense search matches no words
    expect(page.locator("#results mark.match")).to_have_count(0)
    expect(page.locator("#results .matched-terms")).to_have_count(0)

    page.select_option("#mode", "keyword")
    expect(page.locator("#status")).to_have_attribute("data-total", str(matching))
    assert parse_qs(urlsplit(page.url).query)["mode"] == ["keyword"]
    expect(cards(page).first.locator(".matched-terms")).to_have_text("Matched: pneumonia")
    marked = page.locator("#results mark.match").all_inner_texts()
    assert marked and {word.lower() for word in marked} == {"pneumonia"}

    page.reload()
    expect(page.locator("#mode")).to_have_value("keyword")
    expect(page.locator("#status")).to_have_attribute("data-total", str(matching))

    page.go_back()
    expect(page.locator("#mode")).to_have_value("dense")
    expect(page.locator("#status")).to_have_attribute("data-total", str(SAMPLE_COUNT))
    page.go_forward()
    expect(page.locator("#mode")).to_have_value("keyword")


def test_a_hybrid_search_from_the_url_with_a_minimum_score(page: Page, server_url: str) -> None:
    expected = api_total(
        server_url, {"text": "chest effusion", "mode": "hybrid", "min_score": 0.01}
    )
    open_home(page, server_url, "?q=chest+effusion&mode=hybrid&min_score=0.01")
    expect(page.locator("#mode")).to_have_value("hybrid")
    expect(page.locator("#status")).to_have_attribute("data-total", str(expected))
    expect(cards(page).first).to_be_visible()
    # keyword mode has no cosine: the page leaves the minimum score out of its request
    page.select_option("#mode", "keyword")
    keyword = api_total(server_url, {"text": "chest effusion", "mode": "keyword"})
    expect(page.locator("#status")).to_have_attribute("data-total", str(keyword))
    expect(page).to_have_url(re.compile(r"mode=keyword"))
