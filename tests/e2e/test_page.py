"""The search page in a real browser against a real ``medsearch serve`` over the sample index.

The index is built with a tiny random-weight model, so rankings of text queries mean nothing;
the tests check behaviour that holds for any weights: an image finds itself first, filters
narrow results to the facet counts, the URL round-trips, errors are shown.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.support.helpers import PAGE_SIZE, REPO, SAMPLE_COUNT, SAMPLE_IMAGES

pytestmark = pytest.mark.browser


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def open_home(page: Page, server_url: str, query: str = "") -> None:
    page.goto(server_url + "/" + query)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def search(page: Page, text: str) -> None:
    page.fill("#q", text)
    page.press("#q", "Enter")
    expect(page.locator("#status")).to_have_attribute("data-total", re.compile(r"\d+"))


def cards(page: Page):
    return page.locator("#results .card")


def scores(page: Page) -> list[float]:
    values = cards(page).evaluate_all("cards => cards.map(c => c.dataset.score)")
    return [float(v) for v in values]


def test_header_shows_notice_encoder_and_random_weights(page: Page, server_url: str) -> None:
    open_home(page, server_url)
    expect(page.locator("#research-notice")).to_contain_text("not for clinical")
    expect(page.locator("#service-info [data-count]")).to_have_attribute(
        "data-count", str(SAMPLE_COUNT)
    )
    expect(page.locator("#service-info")).to_contain_text("images indexed")
    # The session index is built with random weights, which the page must say loudly.
    expect(page.locator("#random-weights-badge")).to_be_visible()
    expect(page.locator("#random-weights-badge")).to_contain_text("results are meaningless")
    expect(page.locator("#intro")).to_be_visible()


def test_text_search_shows_results_best_first(page: Page, server_url: str) -> None:
    open_home(page, server_url)
    search(page, "chest X-ray with pleural effusion")
    expect(cards(page)).to_have_count(PAGE_SIZE)
    expect(page.locator("#status")).to_have_attribute("data-total", str(SAMPLE_COUNT))
    values = scores(page)
    assert values == sorted(values, reverse=True)
    first = cards(page).first
    expect(first.locator(".caption")).not_to_be_empty()
    expect(first.locator(".tag").first).to_be_visible()
    assert query_of(page)["q"] == ["chest X-ray with pleural effusion"]

    # Load more fetches the rest of the 32 images, then there is nothing more to load.
    page.click("#load-more")
    expect(cards(page)).to_have_count(SAMPLE_COUNT)
    expect(page.locator("#load-more")).to_be_hidden()
    ids = cards(page).evaluate_all("cards => cards.map(c => c.dataset.id)")
    assert len(set(ids)) == SAMPLE_COUNT


def test_typing_searches_after_a_pause(page: Page, server_url: str) -> None:
    open_home(page, server_url)
    page.locator("#q").press_sequentially("brain MRI", delay=20)
    expect(cards(page).first).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]q=brain(\+|%20)MRI"))


def test_upload_finds_the_same_image_first(page: Page, server_url: str) -> None:
    open_home(page, server_url)
    page.set_input_files("#file-input", SAMPLE_IMAGES / "cxr_05.jpg")
    expect(cards(page).first).to_have_attribute("data-path", re.compile(r"cxr_05\.jpg$"))
    assert scores(page)[0] == pytest.approx(1.0, abs=1e-3)
    chip = page.locator("#query-chip")
    expect(chip).to_be_visible()
    expect(chip).to_contain_text("cxr_05.jpg")
    expect(chip.locator("img")).to_have_js_property("complete", True)
    assert chip.locator("img").evaluate("img => img.naturalWidth") > 0

    # Back and forward within the session bring the image search back from memory; a reload
    # cannot (files never go into the URL) and says so.
    page.go_back()
    expect(page.locator("#intro")).to_be_visible()
    expect(chip).to_be_hidden()
    page.go_forward()
    expect(cards(page).first).to_have_attribute("data-path", re.compile(r"cxr_05\.jpg$"))
    expect(chip).to_contain_text("cxr_05.jpg")
    page.reload()
    expect(page.locator("#intro")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("not kept after a reload")


DISPATCH_FILE_EVENT = """([kind, name, type, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type }));
    const event = kind === 'paste'
        ? new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true })
        : new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true });
    document.body.dispatchEvent(event);
}"""


@pytest.mark.parametrize("kind", ["drop", "paste"])
def test_drop_or_paste_an_image(page: Page, server_url: str, kind: str) -> None:
    open_home(page, server_url)
    data = base64.b64encode((SAMPLE_IMAGES / "fundus_02.png").read_bytes()).decode()
    if kind == "drop":
        page.evaluate(DISPATCH_FILE_EVENT, ["dragover", "fundus_02.png", "image/png", data])
        expect(page.locator("#drop-overlay")).to_be_visible()
    page.evaluate(DISPATCH_FILE_EVENT, [kind, "fundus_02.png", "image/png", data])
    expect(page.locator("#drop-overlay")).to_be_hidden()
    expect(cards(page).first).to_have_attribute("data-path", re.compile(r"fundus_02\.png$"))
    expect(page.locator("#query-chip")).to_contain_text("fundus_02.png")


def test_dicom_upload_shows_a_placeholder(page: Page, server_url: str) -> None:
    open_home(page, server_url)
    page.set_input_files("#file-input", SAMPLE_IMAGES / "dcm_ct_small.dcm")
    expect(cards(page).first).to_have_attribute("data-path", re.compile(r"dcm_ct_small\.dcm$"))
    expect(page.locator("#query-chip")).to_contain_text("dcm_ct_small.dcm")
    expect(page.locator("#query-chip .placeholder")).to_contain_text("DICOM")


def test_bad_upload_names_the_file_where_the_user_looks(
    page: Page, server_url: str, tmp_path: Path
) -> None:
    fake = tmp_path / "not-an-image.png"
    fake.write_text("this is plain text, not a PNG\n" * 20)
    open_home(page, server_url, "?q=chest")
    expect(cards(page)).to_have_count(PAGE_SIZE)
    # the user has scrolled down to the last results before choosing the file
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function("window.scrollY > 0")
    page.set_input_files("#file-input", fake)
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_be_in_viewport()
    expect(error).to_contain_text("“not-an-image.png” is not an image MedSearch can read.")
    expect(error).to_contain_text("Choose a PNG, JPEG or DICOM file")
    expect(error).not_to_contain_text("unreadable_image")
    expect(error).to_have_attribute("data-code", "unreadable_image")
    expect(cards(page)).to_have_count(0)
    expect(page.locator("#empty")).to_be_hidden()
    # The page keeps working.
    search(page, "chest")
    expect(error).to_be_hidden()
    expect(cards(page)).to_have_count(PAGE_SIZE)


def test_open_result_metadata_labels_and_find_similar(page: Page, server_url: str) -> None:
    open_home(page, server_url, "?q=chest%20radiograph")
    card = cards(page).nth(2)
    image_id = card.get_attribute("data-id")
    assert image_id is not None

    # Keyboard: the card is focusable, Enter opens the panel, Escape closes it.
    card.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#detail")
    expect(panel).to_be_visible()
    expect(page.locator("#detail-title")).to_have_text(f"Image #{image_id}")
    expect(page.locator("#detail-image")).to_have_attribute(
        "src", re.compile(rf"/api/images/{image_id}/file$")
    )
    expect(page.locator("#detail-meta")).to_contain_text("Modality")
    expect(page.locator("#detail-meta")).to_contain_text("SHA-256")
    expect(page.locator("#detail-licence")).to_be_visible()
    expect(page.locator("#open-viewer")).to_be_hidden()  # a file, not a PACS image
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(card).to_be_focused()

    # Zero-shot labels: add one, classify, one bar per candidate, probabilities sum to 1.
    card.click()
    expect(panel).to_be_visible()
    # The prompt template starts as the service's own default.
    info = page.request.get(server_url + "/api/info").json()
    expect(page.locator("#template-input")).to_have_value(info["default_template"])
    page.fill("#label-input", "pleural effusion")
    page.press("#label-input", "Enter")
    expect(page.locator("#label-chips")).to_contain_text("pleural effusion")
    candidates = page.locator("#label-chips .chip").count()
    assert candidates >= 2
    page.click("#classify-button")
    bars = page.locator("#classify-results .bar-row")
    expect(bars).to_have_count(candidates)
    percents = [float(v.rstrip("%")) for v in bars.locator(".bar-value").all_inner_texts()]
    assert sum(percents) == pytest.approx(100.0, abs=0.5)
    assert percents == sorted(percents, reverse=True)

    # Find similar: the URL can be shared; the image is the query (the chip, named by its file),
    # not one of its results, and the cards carry ranks that cannot pass for ids.
    file_name = (card.get_attribute("data-path") or "").rsplit("/", 1)[-1]
    page.click("#find-similar")
    expect(panel).to_be_hidden()
    expect(page).to_have_url(re.compile(rf"[?&]similar={image_id}(&|$)"))
    expect(page.locator("#status")).to_have_attribute("data-shown", str(PAGE_SIZE))
    assert image_id not in cards(page).evaluate_all("cards => cards.map(c => c.dataset.id)")
    expect(page.locator("#query-chip")).to_contain_text(f"Images similar to {file_name}")
    expect(page.locator("#query-chip")).not_to_contain_text("#")
    expect(cards(page).first.locator(".rank")).to_have_text("1.")
    expect(page.locator("#q")).to_have_value("")


def test_filters_narrow_results_to_the_facet_counts(page: Page, server_url: str) -> None:
    open_home(page, server_url, "?q=scan")
    expect(cards(page)).to_have_count(PAGE_SIZE)
    modality = page.locator('#facets details[data-field="modality"]')
    options = modality.locator(".facet-option")
    expect(options.first).to_be_visible()

    # The largest modality, then a second one: an any-of list filter.
    first_value = options.nth(0).locator(".facet-value").inner_text()
    first_count = int(options.nth(0).locator(".count").inner_text())
    second_value = options.nth(1).locator(".facet-value").inner_text()
    second_count = int(options.nth(1).locator(".count").inner_text())
    assert first_count < SAMPLE_COUNT

    options.nth(0).locator("input").check()
    expect(page.locator("#status")).to_have_attribute("data-total", str(first_count))
    expect(cards(page)).to_have_count(min(first_count, PAGE_SIZE))
    tags = cards(page).evaluate_all(
        "cards => cards.map(c => [...c.querySelectorAll('.tag')].map(t => t.textContent))"
    )
    assert all(first_value in card_tags for card_tags in tags)
    assert query_of(page)["modality"] == [first_value]

    options.nth(1).locator("input").check()
    both = first_count + second_count
    expect(page.locator("#status")).to_have_attribute("data-total", str(both))
    expect(cards(page)).to_have_count(min(both, PAGE_SIZE))
    assert query_of(page)["modality"] == [first_value, second_value]

    page.click("#clear-filters")
    expect(page.locator("#status")).to_have_attribute("data-total", str(SAMPLE_COUNT))
    assert "modality" not in query_of(page)


def test_minimum_score_can_leave_nothing(page: Page, server_url: str) -> None:
    open_home(page, server_url, "?q=chest&min_score=0.99")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty")).to_contain_text("No image matches")
    expect(page.locator("#min-score-value")).to_have_text("0.99")
    expect(cards(page)).to_have_count(0)


def test_url_state_survives_reload_back_and_forward(page: Page, server_url: str) -> None:
    open_home(page, server_url, "?q=chest")
    expect(page.locator("#status")).to_have_attribute("data-total", str(SAMPLE_COUNT))
    option = page.locator('#facets details[data-field="modality"] .facet-option').first
    value = option.locator(".facet-value").inner_text()
    count = option.locator(".count").inner_text()
    option.locator("input").check()
    expect(page.locator("#status")).to_have_attribute("data-total", count)
    assert query_of(page) == {"q": ["chest"], "modality": [value]}

    page.reload()
    expect(page.locator("#q")).to_have_value("chest")
    expect(option.locator("input")).to_be_checked()
    expect(page.locator("#status")).to_have_attribute("data-total", count)

    page.go_back()
    expect(page).to_have_url(re.compile(r"\?q=chest$"))
    expect(option.locator("input")).not_to_be_checked()
    expect(page.locator("#status")).to_have_attribute("data-total", str(SAMPLE_COUNT))

    page.go_forward()
    expect(option.locator("input")).to_be_checked()
    expect(page.locator("#status")).to_have_attribute("data-total", count)

    # A new text search is a new history entry too.
    search(page, "abdomen")
    page.go_back()
    expect(page.locator("#q")).to_have_value("chest")


def test_narrow_window(narrow_page: Page, server_url: str) -> None:
    page = narrow_page
    open_home(page, server_url, "?q=chest")
    expect(cards(page)).to_have_count(PAGE_SIZE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # Filters fold behind a button.
    expect(page.locator("#filters")).to_be_hidden()
    page.click("#filters-toggle")
    expect(page.locator("#filters")).to_be_visible()
    page.click("#filters-toggle")
    cards(page).first.click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#find-similar")).to_be_visible()
    page.click("#detail-close")
    expect(page.locator("#detail")).to_be_hidden()


@pytest.mark.skipif(
    os.environ.get("MEDSEARCH_SCREENSHOT") != "1", reason="set MEDSEARCH_SCREENSHOT=1 to write it"
)
def test_write_screenshot(page: Page, server_url: str) -> None:
    """docs/screenshot.png: a results page as a new user would see it."""
    page.set_viewport_size({"width": 1360, "height": 900})
    open_home(page, server_url, "?q=chest%20X-ray%20with%20pleural%20effusion")
    expect(cards(page)).to_have_count(PAGE_SIZE)
    # Wait until the visible thumbnails are decoded, so none is blank in the picture.
    page.wait_for_function(
        """() => [...document.querySelectorAll('#results img')].slice(0, 12)
                 .every(img => img.complete && img.naturalWidth > 0)"""
    )
    page.evaluate(
        "() => Promise.all([...document.querySelectorAll('#results img')].slice(0, 12)"
        ".map(img => img.decode().catch(() => null)))"
    )
    (REPO / "docs").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "docs" / "screenshot.png"))
