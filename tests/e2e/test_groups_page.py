"""The "Group by" picker and a group's strip of slices in a real browser, against a real
``medsearch serve`` of four real CT series (250 slices, their ``series`` and ``study`` from a
sidecar)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SERVER_START_TIMEOUT
from tests.support.ct_series import CT_SERIES_COUNT
from tests.support.helpers import PAGE_SIZE
from tests.support.serving import serve

pytestmark = pytest.mark.browser

#: the 140-slice series, and the image the tests open "similar" of (a GE slice: ids follow paths)
LONG_SERIES = "philips_s21570/s2020"
QUERY_ID = 3


@pytest.fixture(scope="module")
def ct_url(ct_series_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"MEDSEARCH_THUMBNAIL_DIR": str(tmp_path_factory.mktemp("e2e-ct") / "thumbnails")}
    with serve(
        ct_series_index_dir, threads=4, env=env, startup_timeout_s=SERVER_START_TIMEOUT
    ) as server:
        yield server.url


def open_at(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def test_grouping_by_series_shows_one_result_per_series(page: Page, ct_url: str) -> None:
    open_at(page, f"{ct_url}/?similar={QUERY_ID}")
    cards = page.locator("#results .card")
    expect(cards).to_have_count(PAGE_SIZE)
    expect(page.locator("#group-by-block")).to_be_visible()
    options = page.locator("#group-by option").evaluate_all("os => os.map(o => o.value)")
    assert {"", "series", "study"} <= set(options) and "path" not in options

    page.select_option("#group-by", "series")
    expect(page).to_have_url(re.compile(r"collapse=series"))
    expect(cards).to_have_count(CT_SERIES_COUNT)
    expect(page.locator("#status")).to_contain_text(f"of {CT_SERIES_COUNT} groups by series")
    sizes = page.locator("#results .group-size").all_inner_texts()
    assert len(sizes) == CT_SERIES_COUNT
    assert "140 images · 140 matching" in sizes  # the query's own series lacks one: itself
    assert "28 images · 27 matching" in sizes

    # The choice is in the URL: a reload keeps it, back returns to one result per image.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#group-by")).to_have_value("series")
    expect(cards).to_have_count(CT_SERIES_COUNT)
    page.go_back()
    expect(page.locator("#group-by")).to_have_value("")
    expect(cards).to_have_count(PAGE_SIZE)
    assert "collapse" not in parse_qs(urlsplit(page.url).query)


def test_a_grouped_result_opens_as_a_strip_of_its_slices(page: Page, ct_url: str) -> None:
    open_at(page, f"{ct_url}/?similar={QUERY_ID}&collapse=series")
    long_series = page.locator("#results .card", has_text="140 images")
    long_series.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#detail")
    expect(dialog).to_be_visible()
    strip = page.locator("#detail-group")
    expect(strip).to_be_visible()
    expect(page.locator("#group-title")).to_have_text(f"series: {LONG_SERIES}")
    expect(page.locator("#group-summary")).to_contain_text("140 images · 140 matching")
    slider = page.locator("#group-slider")
    expect(slider).to_have_attribute("max", "140")
    # the result's image and its next three best are marked, the slider stands on the first
    expect(page.locator("#group-marks .group-mark")).to_have_count(4)
    shown_id = long_series.get_attribute("data-id")
    expect(page.locator("#group-position")).to_contain_text(f"best match (image #{shown_id})")
    expect(page.locator("#group-slice")).to_have_class(re.compile("is-match"))

    # the slider is a native range: the keyboard walks the slices in order
    slider.focus()
    page.keyboard.press("Home")
    expect(page.locator("#group-position")).to_contain_text("Slice 1 of 140")
    first_src = page.locator("#group-slice").get_attribute("src")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#group-position")).to_contain_text("Slice 2 of 140")
    expect(page.locator("#group-slice")).not_to_have_attribute("src", first_src or "")
    expect(slider).to_have_attribute("aria-valuetext", re.compile(r"^Slice 2 of 140"))
    listing = page.evaluate(
        "async () => (await (await fetch('/api/groups/series/"
        + LONG_SERIES.replace("/", "%2F")
        + "')).json()).images.map(i => i.slice_position)"
    )
    assert listing == sorted(listing) and len(listing) == 140

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_an_ungrouped_result_shows_no_strip(page: Page, ct_url: str) -> None:
    open_at(page, f"{ct_url}/?similar={QUERY_ID}")
    page.locator("#results .card").first.click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-group")).to_be_hidden()
    expect(page.locator("#results .group-size")).to_have_count(0)


def test_a_study_lists_its_series_and_opens_each_one(page: Page, ct_url: str) -> None:
    """Grouped by the keyed study, the two-series Philips study lists its 28- and 140-slice
    series; choosing one puts that series on the strip."""
    open_at(page, f"{ct_url}/?q=brain&collapse=study_key")
    cards = page.locator("#results .card")
    expect(cards).to_have_count(3)
    cards.filter(has_text="168 slices").click()
    expect(page.locator("#detail-group")).to_be_visible()
    series = page.locator("#group-series-list button")
    expect(series).to_have_count(2)
    texts = series.all_inner_texts()
    assert sorted(text.split(" · ")[0] for text in texts) == ["140 slices", "28 slices"]
    expect(page.locator("#group-slider")).to_have_attribute("max", "168")
    series.filter(has_text="140 slices").click()
    expect(page.locator("#group-slider")).to_have_attribute("max", "140")
    expect(page.locator("#group-title")).to_contain_text("series_key")
