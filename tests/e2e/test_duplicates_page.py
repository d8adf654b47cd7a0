"""Near-duplicates on the page in a real browser, against a real ``medsearch serve`` of the
sample with planted copies: "+N copies" on folded results, the "Hide near-duplicates" toggle
kept in the URL, and the /duplicates view of the clusters side by side."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SERVER_START_TIMEOUT
from tests.support.planted_duplicates import index_planted
from tests.support.serving import serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def planted_url(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[str]:
    root = tmp_path_factory.mktemp("e2e-planted")
    index_dir = index_planted(root, tiny_model_dir)
    env = {"MEDSEARCH_THUMBNAIL_DIR": str(root / "thumbnails")}
    with serve(index_dir, threads=4, env=env, startup_timeout_s=SERVER_START_TIMEOUT) as server:
        yield server.url


def open_at(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def copies_shown(page: Page) -> int:
    texts = page.locator("#results .copies").all_inner_texts()
    return sum(int(text.split()[0].lstrip("+")) for text in texts)


def test_hiding_near_duplicates_folds_them_and_stays_in_the_url(
    page: Page, planted_url: str
) -> None:
    open_at(page, f"{planted_url}/?q=chest+x-ray")
    cards = page.locator("#results .card")
    expect(cards.first).to_be_visible()
    # exact copies are folded whatever the toggle: the two byte copies of one X-ray
    expect(page.locator("#results .copies", has_text="+2 copies")).to_have_count(1)
    toggle = page.locator("#hide-duplicates")
    expect(toggle).not_to_be_checked()
    before = copies_shown(page)

    toggle.check()
    expect(page).to_have_url(re.compile(r"dedupe=1"))
    expect(page.locator("#results .copies").first).to_be_visible()
    page.wait_for_function(
        "n => [...document.querySelectorAll('#results .copies')].length > 0 && "
        "[...document.querySelectorAll('#results .copies')]"
        ".map(e => parseInt(e.textContent.slice(1))).reduce((a, b) => a + b, 0) > n",
        arg=before,
    )
    folded = copies_shown(page)
    assert folded > before

    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(toggle).to_be_checked()
    page.wait_for_function(
        "n => [...document.querySelectorAll('#results .copies')]"
        ".map(e => parseInt(e.textContent.slice(1))).reduce((a, b) => a + b, 0) === n",
        arg=folded,
    )
    toggle.uncheck()
    expect(page).not_to_have_url(re.compile(r"dedupe="))


def test_the_duplicates_view_shows_clusters_side_by_side(page: Page, planted_url: str) -> None:
    page.goto(f"{planted_url}/duplicates?threshold=1&across=split")
    status = page.locator("#dup-status")
    expect(status).to_contain_text("spanning several values of split")
    expect(page.locator("#dup-leakage")).to_be_visible()
    expect(page.locator("#dup-leakage tbody tr").first).to_contain_text("test")
    first = page.locator(".dup-cluster").first
    expect(first.locator(".dup-member")).to_have_count(3)
    expect(first).to_contain_text("planted/again/cxr_04_copy.jpg")
    images = first.locator("img")
    expect(images).to_have_count(3)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dup-cluster img')].slice(0, 3)"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    # the search page links to it
    open_at(page, planted_url + "/")
    page.click("#duplicates-link")
    expect(page).to_have_url(re.compile(r"/duplicates$"))
    expect(status).to_contain_text("(adaptive)")
