"""The index picker and the compare view in a real browser, against a real ``medsearch serve``
of two indexes: the sample images indexed with two tiny models of different seeds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SERVER_START_TIMEOUT
from tests.support.helpers import PAGE_SIZE, SAMPLE_COUNT
from tests.support.serving import serve

pytestmark = pytest.mark.browser

#: results per index in the compare view (app.js COMPARE_SIZE)
COMPARE_SIZE = 12


@pytest.fixture(scope="module")
def two_index_url(
    sample_index_dir: Path, other_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A service of two indexes: ``first`` (the default) and ``second``."""
    env = {"MEDSEARCH_THUMBNAIL_DIR": str(tmp_path_factory.mktemp("e2e-two") / "thumbnails")}
    indexes = (f"first={sample_index_dir}", f"second={other_index_dir}")
    with serve(*indexes, threads=4, env=env, startup_timeout_s=SERVER_START_TIMEOUT) as server:
        yield server.url


def open_at(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def column(page: Page, name: str):
    return page.locator(f'#compare .compare-column[data-index="{name}"]')


def test_a_single_index_shows_no_picker(page: Page, server_url: str) -> None:
    open_at(page, server_url + "/?q=chest")
    expect(page.locator("#status")).to_have_attribute("data-total", str(SAMPLE_COUNT))
    expect(page.locator("#index-row")).to_be_hidden()
    assert "index" not in query_of(page)


def test_the_picker_searches_the_chosen_index(page: Page, two_index_url: str) -> None:
    open_at(page, two_index_url + "/?q=chest%20x-ray")
    expect(page.locator("#index-row")).to_be_visible()
    expect(page.locator("#index-picker option")).to_have_count(2)
    expect(page.locator("#index-picker")).to_have_value("first")
    expect(page.locator("#results .card")).to_have_count(PAGE_SIZE)
    first_ids = page.locator("#results .card").evaluate_all("cs => cs.map(c => c.dataset.id)")

    page.select_option("#index-picker", "second")
    expect(page).to_have_url(re.compile(r"index=second"))
    thumbnails = page.locator("#results .card img")
    expect(thumbnails.first).to_have_attribute("src", re.compile(r"\?index=second$"))
    expect(page.locator("#results .card")).to_have_count(PAGE_SIZE)
    second_ids = page.locator("#results .card").evaluate_all("cs => cs.map(c => c.dataset.id)")
    assert second_ids != first_ids  # another model ranks the same images otherwise
    assert query_of(page)["q"] == ["chest x-ray"]

    # The choice is in the URL: a reload keeps it, and back returns to the default index.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#index-picker")).to_have_value("second")
    page.go_back()
    expect(page.locator("#index-picker")).to_have_value("first")
    assert "index" not in query_of(page)


def test_the_compare_view_shows_two_indexes_side_by_side(page: Page, two_index_url: str) -> None:
    open_at(page, two_index_url + "/?q=head%20CT")
    page.select_option("#compare-picker", "second")
    expect(page).to_have_url(re.compile(r"compare=second"))
    expect(page.locator("#compare")).to_be_visible()
    expect(page.locator("#results")).to_be_hidden()
    for name in ("first", "second"):
        expect(column(page, name).locator("h2")).to_have_text(name)
        expect(column(page, name).locator(".card")).to_have_count(COMPARE_SIZE)
        expect(column(page, name).locator(".card img").first).to_have_attribute(
            "src", re.compile(rf"\?index={name}$")
        )
    expect(page.locator("#status")).to_contain_text("Comparing first and second")
    left, right = (
        column(page, name).locator(".card").evaluate_all("cs => cs.map(c => c.dataset.score)")
        for name in ("first", "second")
    )
    assert left != right

    # A card of the second column opens that index's image; "find similar" swaps the columns.
    card = column(page, "second").locator(".card").first
    image_id = card.get_attribute("data-id")
    card.click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-image")).to_have_attribute(
        "src", re.compile(rf"/api/images/{image_id}/file\?index=second$")
    )
    expect(page.locator("#detail-meta")).to_contain_text("SHA-256")
    page.click("#find-similar")
    expect(page).to_have_url(re.compile(rf"similar={image_id}"))
    assert query_of(page)["index"] == ["second"] and query_of(page)["compare"] == ["first"]
    expect(column(page, "second").locator(".card")).to_have_count(COMPARE_SIZE)
    expect(column(page, "first").locator(".card")).to_have_count(COMPARE_SIZE)
    # the image is left out of its own results, and close to its file in the other index
    expect(column(page, "second").locator(f'.card[data-id="{image_id}"]')).to_have_count(0)
    # (waited for: the second column is drawn before the first, whose query sends a file)
    expect(column(page, "first").locator(".card").first).to_have_attribute(
        "data-score", re.compile(r"^(0\.9|1)")
    )

    # No comparison: back to one index's grid.
    page.select_option("#compare-picker", "")
    expect(page.locator("#compare")).to_be_hidden()
    expect(page.locator("#results .card").first).to_be_visible()
    assert "compare" not in query_of(page)
