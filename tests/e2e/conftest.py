"""Fixtures of the browser tests: a real ``medsearch serve`` and headless Chromium.

The server runs the session's ``sample_index_dir`` (the 32 sample images indexed with a tiny
random-weight model, from tests/conftest.py) as a subprocess on 127.0.0.1. Chromium is the
system one (``/usr/bin/chromium``, or ``MEDSEARCH_CHROMIUM``) driven by Playwright; the tests
are skipped when it is not installed. ``MEDSEARCH_E2E_URL`` points the tests at a server that
is already running instead (it must serve the sample corpus).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.serving import serve

CHROMIUM = Path(os.environ.get("MEDSEARCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: seconds the server may take to load the model and answer /api/health
SERVER_START_TIMEOUT = 60.0
#: milliseconds any single page action or expectation may wait
ACTION_TIMEOUT_MS = 15_000

try:
    from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
except ImportError:  # pragma: no cover - playwright is a dev dependency
    sync_playwright = None  # type: ignore[assignment]
else:
    expect.set_options(timeout=ACTION_TIMEOUT_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip browser tests up front when there is no browser to drive."""
    if CHROMIUM.is_file() and sync_playwright is not None:
        return
    reason = (
        f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if sync_playwright is not None
        else "playwright is not installed"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of a running MedSearch service over the sample index."""
    external = os.environ.get("MEDSEARCH_E2E_URL")
    if external:
        yield external.rstrip("/")
        return
    index_dir = Path(request.getfixturevalue("sample_index_dir"))
    workdir = tmp_path_factory.mktemp("e2e-server")
    env = {
        # Keep rendered thumbnails out of the shared session index.
        "MEDSEARCH_THUMBNAIL_DIR": str(workdir / "thumbnails"),
    }
    with serve(index_dir, threads=4, env=env, startup_timeout_s=SERVER_START_TIMEOUT) as server:
        yield server.url


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


class PageErrors(list[str]):
    """Uncaught JavaScript errors seen by a page (a test fails when there are any)."""


@pytest.fixture()
def page_errors() -> PageErrors:
    return PageErrors()


def _open_page(browser: Browser, page_errors: PageErrors, width: int, height: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    return page


@pytest.fixture()
def page(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh desktop-sized page (own cookies, cache and history)."""
    page = _open_page(browser, page_errors, 1280, 900)
    yield page
    page.context.close()
    assert not page_errors, f"uncaught JavaScript errors: {page_errors}"


@pytest.fixture()
def narrow_page(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh page in a phone-sized window."""
    page = _open_page(browser, page_errors, 400, 800)
    yield page
    page.context.close()
    assert not page_errors, f"uncaught JavaScript errors: {page_errors}"
