"""What the page says matches what is so: filter counts under the filters chosen and the score
cut-off, a way out of "No image matches" beside it (and the values it may have meant), a blank
query answered, and the model the index was built with."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SERVER_START_TIMEOUT
from tests.support.helpers import PAGE_SIZE, SAMPLE_COUNT, index_sample, run_cli
from tests.support.serving import serve

pytestmark = pytest.mark.browser


def open_at(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def facet(page: Page, field: str):
    return page.locator(f'#facets details[data-field="{field}"]')


def option(page: Page, field: str, value: str):
    return (
        facet(page, field)
        .locator(".facet-option")
        .filter(has=page.locator(f'input[value="{value}"]'))
    )


def shown_counts(page: Page, field: str) -> dict[str, int]:
    read = (
        "os => os.map(o => [o.querySelector('input').value, o.querySelector('.count').textContent])"
    )
    pairs = facet(page, field).locator(".facet-option").evaluate_all(read)
    return {value: int(count) for value, count in pairs}


def counted(page: Page, server_url: str, field: str, filters: dict[str, Any]) -> Counter:
    """The values of ``field`` among the images the filters match, read from a search."""
    body = {"text": "an image", "k": SAMPLE_COUNT, "filters": filters}
    hits = page.request.post(
        server_url + "/api/search",
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
    ).json()["results"]
    return Counter(str(h["metadata"][field]) for h in hits if h["metadata"].get(field) is not None)


def test_filter_counts_follow_the_other_filters(page: Page, server_url: str) -> None:
    open_at(page, server_url + "/?q=scan")
    before = shown_counts(page, "body_part")
    modalities = shown_counts(page, "modality")
    # the rarest modality: its images leave most body parts out
    modality = min(modalities, key=lambda value: modalities[value])
    option(page, "modality", modality).locator("input").check()
    expect(page.locator("#status")).to_have_attribute("data-total", str(modalities[modality]))

    expected = counted(page, server_url, "body_part", {"modality": modality})
    wanted = {value: expected.get(value, 0) for value in before}
    assert wanted != before
    expect(facet(page, "body_part").locator(".facet-option .count")).to_have_text(
        [str(n) for n in wanted.values()]
    )
    # the modality's own counts stay, so the other modalities can still be ticked
    assert shown_counts(page, "modality") == modalities
    gone = [value for value, n in wanted.items() if n == 0]
    if gone:
        expect(option(page, "body_part", gone[0])).to_have_class(re.compile(r"\bis-none\b"))

    # a second field filtered: the modalities are counted among that body part's images
    body_part = max(expected, key=lambda value: expected[value])
    show_all = facet(page, "body_part").locator("button", has_text="Show all")
    if show_all.count():  # a value past the first few waits behind "Show all"
        show_all.click()
    option(page, "body_part", body_part).locator("input").check()
    by_part = counted(page, server_url, "modality", {"body_part": body_part})
    expect(facet(page, "modality").locator(".facet-option .count")).to_have_text(
        [str(by_part.get(value, 0)) for value in modalities]
    )

    page.click("#clear-filters")
    expect(page.locator("#status")).to_have_attribute("data-total", str(SAMPLE_COUNT))
    expect(facet(page, "body_part").locator(".facet-option .count")).to_have_text(
        [str(n) for n in before.values()]
    )


def test_no_match_offers_clear_filters_beside_the_message(page: Page, server_url: str) -> None:
    open_at(page, server_url + "/?q=chest")
    expect(page.locator("#empty-clear-filters")).to_be_hidden()
    open_at(page, server_url + "/?q=chest&min_score=0.99")
    empty = page.locator("#empty")
    expect(empty).to_contain_text("No image matches")
    button = empty.locator("#empty-clear-filters")
    expect(button).to_be_visible()
    expect(button).to_be_in_viewport()
    button.click()
    expect(page.locator("#status")).to_have_attribute("data-shown", str(PAGE_SIZE))
    expect(empty).to_be_hidden()
    assert "min_score" not in page.url


def api_facets(page: Page, server_url: str, body: dict[str, Any]) -> dict[str, dict[str, int]]:
    """A search's own facet counts, each value as the page shows it."""
    answer = page.request.post(
        server_url + "/api/search",
        data=json.dumps({**body, "facets": True}),
        headers={"Content-Type": "application/json"},
    ).json()
    return {
        field: {str(item["value"]): item["count"] for item in values}
        for field, values in answer["facets"].items()
    }


def test_filter_counts_fall_as_the_minimum_score_rises(page: Page, server_url: str) -> None:
    scored = page.request.post(
        server_url + "/api/search",
        data=json.dumps({"text": "chest", "k": SAMPLE_COUNT}),
        headers={"Content-Type": "application/json"},
    ).json()["results"]
    scores = [hit["score"] for hit in scored]
    # two cut-offs on the slider's steps, the higher one keeping fewer images but some
    steps = [step / 100 for step in range(1, 100) if any(s >= step / 100 for s in scores)]
    low, high = steps[0], steps[-1]
    assert sum(s >= high for s in scores) < sum(s >= low for s in scores)

    open_at(page, server_url + f"/?q=chest&min_score={low}")
    before = api_facets(page, server_url, {"text": "chest", "min_score": low})
    modalities = shown_counts(page, "modality")
    expect(facet(page, "modality").locator(".facet-option .count")).to_have_text(
        [str(before["modality"].get(value, 0)) for value in modalities]
    )
    # the slider moved up by keyboard, a step at a time
    slider = page.locator("#min-score")
    slider.focus()
    for _ in range(round((high - low) * 100)):
        page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(f"min_score={high}"))
    after = api_facets(page, server_url, {"text": "chest", "min_score": high})
    expected = {value: after["modality"].get(value, 0) for value in modalities}
    expect(facet(page, "modality").locator(".facet-option .count")).to_have_text(
        [str(n) for n in expected.values()]
    )
    assert any(n < before["modality"].get(value, 0) for value, n in expected.items())
    assert sum(expected.values()) == sum(s >= high for s in scores)
    # a filter ticked under the cut-off: the other fields counted among its images above it
    modality = next(value for value, n in expected.items() if n > 0)
    option(page, "modality", modality).locator("input").check()
    body = {"text": "chest", "min_score": high, "filters": {"modality": modality}}
    parts = shown_counts(page, "body_part")
    under = api_facets(page, server_url, body)["body_part"]
    expect(facet(page, "body_part").locator(".facet-option .count")).to_have_text(
        [str(under.get(value, 0)) for value in parts]
    )
    # the cut-off gone, the counts of every image under the filter come back
    page.click("#clear-filters")
    listed = page.request.get(server_url + "/api/facets").json()["facets"]["modality"]
    everything = {str(item["value"]): item["count"] for item in listed}
    expect(facet(page, "modality").locator(".facet-option .count")).to_have_text(
        [str(everything.get(value, 0)) for value in modalities]
    )
    assert sum(everything.values()) == SAMPLE_COUNT


def test_no_match_offers_the_values_that_differ_only_in_case(page: Page, server_url: str) -> None:
    open_at(page, server_url + "/?q=chest&modality=ct")
    empty = page.locator("#empty")
    expect(empty).to_contain_text("No image matches")
    suggestion = empty.locator("#empty-suggestions button")
    expect(suggestion).to_have_text(["Modality: CT"])
    expect(suggestion).to_be_in_viewport()
    suggestion.click()
    expect(page).to_have_url(re.compile(r"modality=CT(&|$)"))
    expect(empty).to_be_hidden()
    ct = shown_counts(page, "modality")["CT"]
    expect(page.locator("#status")).to_have_attribute("data-total", str(ct))
    expect(option(page, "modality", "CT").locator("input")).to_be_checked()
    # an empty answer with nothing to suggest offers no button
    open_at(page, server_url + "/?q=chest&modality=PET")
    expect(empty).to_be_visible()
    expect(page.locator("#empty-suggestions")).to_be_hidden()


def test_a_blank_query_says_what_to_do(page: Page, server_url: str) -> None:
    open_at(page, server_url)
    page.fill("#q", "   ")
    page.press("#q", "Enter")
    expect(page.locator("#status")).to_have_text(re.compile("Type what to look for"))
    expect(page.locator("#q")).to_be_focused()
    expect(page.locator("#q")).to_have_value("")
    # after a search too: the blank query ends it and says so
    open_at(page, server_url + "/?q=chest")
    expect(page.locator("#results .card")).to_have_count(PAGE_SIZE)
    page.fill("#q", " \t ")
    page.press("#q", "Enter")
    expect(page.locator("#status")).to_have_text(re.compile("Type what to look for"))
    expect(page.locator("#results .card")).to_have_count(0)
    assert "q=" not in page.url


def test_the_notice_names_the_default_model(page: Page, server_url: str) -> None:
    open_at(page, server_url)
    expect(page.locator("#research-notice")).to_contain_text("BiomedCLIP is intended for research")
    expect(page.locator("#service-info")).to_contain_text("Encoder BiomedCLIP")


@pytest.fixture(scope="module")
def pubmedclip_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A service of the sample images indexed with a tiny random-weight PubMedCLIP."""
    root = tmp_path_factory.mktemp("e2e-pubmedclip")
    model = root / "pubmedclip-tiny"
    run_cli("model", "init", model, "--arch", "pubmedclip", "--size", "tiny")
    index = index_sample(root / "index", model)
    env = {"MEDSEARCH_THUMBNAIL_DIR": str(root / "thumbnails")}
    with serve(index, threads=2, env=env, startup_timeout_s=SERVER_START_TIMEOUT) as server:
        yield server.url


def test_the_notice_names_a_pubmedclip_index(page: Page, pubmedclip_url: str) -> None:
    open_at(page, pubmedclip_url)
    notice = page.locator("#research-notice")
    expect(notice).to_contain_text("PubMedCLIP is intended for research")
    expect(notice).not_to_contain_text("BiomedCLIP")
    expect(page.locator("#service-info")).to_contain_text("Encoder PubMedCLIP")
