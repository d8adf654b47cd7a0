"""The search page over an index of a real PACS: "Open in viewer" leads into the PACS viewer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SERVER_START_TIMEOUT
from tests.support.orthanc import PACS_FILES, PASSWORD, USER, Orthanc
from tests.support.serving import serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWER = "https://viewer.example/view?study={study_uid}&series={series_uid}"


@pytest.fixture(scope="module")
def pacs_server_url(
    orthanc: Orthanc, pacs_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    env = {
        "MEDSEARCH_THUMBNAIL_DIR": str(tmp_path_factory.mktemp("pacs-thumbnails")),
        "MEDSEARCH_DICOMWEB_USER": USER,
        "MEDSEARCH_DICOMWEB_PASSWORD": PASSWORD,
        "MEDSEARCH_VIEWER_URL": VIEWER,
        "MEDSEARCH_HIDE_BURNED_IN": "1",
    }
    with serve(pacs_index_dir, env=env, startup_timeout_s=SERVER_START_TIMEOUT) as server:
        yield server.url


def test_open_in_viewer_links_to_the_study_and_series(page: Page, pacs_server_url: str) -> None:
    page.goto(pacs_server_url + "/?q=scan")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#status")).to_have_attribute("data-total", re.compile(r"\d+"))
    page.locator("#results .card").first.click()
    link = page.locator("#open-viewer")
    expect(link).to_be_visible()
    expect(link).to_have_text("Open in viewer")
    datasets = [pydicom.dcmread(path, stop_before_pixels=True) for path in PACS_FILES]
    links = {
        VIEWER.format(study_uid=d.StudyInstanceUID, series_uid=d.SeriesInstanceUID)
        for d in datasets
    }
    assert link.get_attribute("href") in links
