"""The ``medsearch eval --html`` report opened from disk in real Chromium: charts are drawn."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.eval_support import build_second_index
from tests.support.helpers import run_cli

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(sample_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("eval-report")
    second = build_second_index(folder)
    out = folder / "report.html"
    run_cli(
        "eval", sample_index_dir, second, "--by", "modality", "--group-field", "source",
        "--bootstrap", "100", "--device", "cpu", "--precision", "fp32", "--html", out,
    )  # fmt: skip
    return out


def test_report_draws_its_charts_offline(page: Page, report: Path) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(report.as_uri())
    expect(page.locator(".banner.random-weights")).to_have_count(2)
    for chart in ("recall", "map", "by-text_to_image", "by-image_to_image"):
        bars = page.locator(f'svg[data-chart="{chart}"] rect.bar')
        assert bars.count() >= 2, chart
        # two indexes: bars of both colours
        assert {bars.nth(i).get_attribute("data-index") for i in range(bars.count())} == {"0", "1"}
    recall_bars = page.locator('svg[data-chart="recall"] rect.bar')
    heights = [recall_bars.nth(i).bounding_box() for i in range(recall_bars.count())]
    assert all(box is not None for box in heights)
    assert max(box["height"] for box in heights if box) > 10
    assert page.locator('svg[data-chart="recall"] line.whisker').count() >= 8
    expect(page.locator('svg[data-chart="confusion"]')).to_have_count(2)
    assert page.locator('svg[data-chart="confusion"] rect.cell').count() == 2 * 20 * 20
    thumbnails = page.locator("#examples img.thumb")
    assert thumbnails.count() >= 10
    widths = thumbnails.evaluate_all("images => images.map(image => image.naturalWidth)")
    assert all(width > 0 for width in widths)
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
