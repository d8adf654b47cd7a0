""" "Similar series" and "Similar studies" in a real browser, over real CT series whose slices
carry the ``series_key`` and ``study_key`` read from their files (group fields without
``--group-field``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SERVER_START_TIMEOUT
from tests.support.helpers import CT_SERIES_DIR, run_cli, tiny_model_args
from tests.support.serving import serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def series_url(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[str]:
    work = tmp_path_factory.mktemp("e2e-series")
    index = work / "index"
    run_cli("index", CT_SERIES_DIR, "--index", index, *tiny_model_args(tiny_model_dir))
    info = json.loads((index / "index_info.json").read_text())
    assert info["group_fields"] == ["series_key", "study_key"]
    env = {"MEDSEARCH_THUMBNAIL_DIR": str(work / "thumbnails")}
    with serve(index, threads=4, env=env, startup_timeout_s=SERVER_START_TIMEOUT) as server:
        yield server.url


def test_similar_series_of_a_result_lists_that_series_first(page: Page, series_url: str) -> None:
    page.goto(series_url + "/?q=head%20CT")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#status")).to_have_attribute("data-total", "250")
    page.locator("#results .card").first.click()
    series = page.locator("#similar-series")
    expect(series).to_be_visible()
    expect(page.locator("#similar-studies")).to_be_visible()
    key = series.get_attribute("data-group")
    assert key
    series.click()
    expect(page).to_have_url(re.compile(r"level=series&group="))
    assert parse_qs(urlsplit(page.url).query)["group"] == [key]
    cards = page.locator("#results .card")
    expect(cards).to_have_count(4)
    expect(page.locator("#status")).to_have_attribute("data-total", "4")
    expect(page.locator("#query-chip")).to_contain_text(f"Series similar to series {key}")
    expect(cards.first.locator(".group-size")).to_contain_text(" slices · ")
    # the first result stands for the series asked about: its panel names the same key
    cards.first.click()
    expect(page.locator("#similar-series")).to_have_attribute("data-group", key)


def test_similar_studies_lists_the_three_studies(page: Page, series_url: str) -> None:
    page.goto(series_url + "/?q=brain")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.locator("#results .card").first.click()
    page.locator("#similar-studies").click()
    expect(page.locator("#results .card")).to_have_count(3)
    expect(page.locator("#results .card").first.locator(".group-size")).to_contain_text(
        " slices · "
    )
