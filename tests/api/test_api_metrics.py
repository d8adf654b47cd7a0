"""``GET /metrics``: Prometheus' text format, read back with the library's own parser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from indexer.encoders import Encoder
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from search_api import create_app
from tests.support.helpers import GrowingIndex

TOKEN = "metrics scraper token"


def scrape(app: Flask, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``GET /metrics`` by name and labels."""
    response = app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def fresh_app(api_settings: Settings, retriever: Any, tmp_path: Path, **changes: Any) -> Flask:
    """An app of its own (counters from zero) over the shared retriever."""
    settings = api_settings.replace(thumbnail_dir=tmp_path / "thumbnails", **changes)
    return create_app(settings, retriever=retriever)


def test_requests_are_counted_and_timed_by_route_template(
    api_settings: Settings, app_retriever: Any, tmp_path: Path
) -> None:
    app = fresh_app(api_settings, app_retriever, tmp_path)
    client = app.test_client()
    image_ids = [1, 2, 3]
    for image_id in image_ids:
        assert client.get(f"/api/images/{image_id}").status_code == 200
    assert client.get("/api/images/999999").status_code == 404
    assert client.post("/api/search", json={"k": 0, "text": "x"}).status_code == 400
    assert client.get("/no/such/path").status_code == 404
    samples = scrape(app)
    record = "/api/images/<int:id>"
    counted = "medsearch_http_requests_total"
    assert samples[(counted, (("method", "GET"), ("route", record), ("status", "200")))] == 3
    assert samples[(counted, (("method", "GET"), ("route", record), ("status", "404")))] == 1
    assert (
        samples[(counted, (("method", "POST"), ("route", "/api/search"), ("status", "400")))] == 1
    )
    assert samples[(counted, (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    timed = "medsearch_http_request_duration_seconds_count"
    assert samples[(timed, (("method", "GET"), ("route", record)))] == 4
    # no raw path becomes a label
    assert not any("999999" in value for _, labels in samples for _, value in labels)


def test_index_and_model_state(api_settings: Settings, app_retriever: Any, tmp_path: Path) -> None:
    app = fresh_app(api_settings, app_retriever, tmp_path)
    client = app.test_client()
    info = client.get("/api/info").get_json()
    name = app.extensions["medsearch"].indexes.default.name
    before = scrape(app)
    index = (("index", name),)
    assert before[("medsearch_index_images", index)] == info["count"]
    assert before[("medsearch_index_generation", index)] == info["generation"]
    assert before[("medsearch_index_reload_failures_total", index)] == 0
    assert before[("medsearch_thumbnail_cache_bytes", index)] == 0
    assert before[("medsearch_text_queries_waiting", index)] == 0
    assert (
        client.post("/api/search", json={"text": "metrics: a query no test sent"}).status_code
        == 200
    )
    assert client.get("/api/images/1/thumbnail?size=64").status_code == 200
    after = scrape(app)
    assert (
        after[("medsearch_text_queries_total", index)]
        == before[("medsearch_text_queries_total", index)] + 1
    )
    assert (
        after[("medsearch_model_busy_seconds_total", index)]
        > before[("medsearch_model_busy_seconds_total", index)]
    )
    cached = sum(p.stat().st_size for p in (tmp_path / "thumbnails").rglob("*") if p.is_file())
    assert after[("medsearch_thumbnail_cache_bytes", index)] == cached > 0


def test_the_metrics_ask_for_the_api_token(
    api_settings: Settings, app_retriever: Any, tmp_path: Path
) -> None:
    app = fresh_app(api_settings, app_retriever, tmp_path, api_token=TOKEN)
    refused = app.test_client().get("/metrics")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"]
    name = app.extensions["medsearch"].indexes.default.name
    samples = scrape(app, Authorization=f"Bearer {TOKEN}")
    assert samples[("medsearch_index_images", (("index", name),))] == app_retriever.info().count


def test_a_version_that_cannot_be_loaded_is_counted(
    tmp_path: Path, tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    grown = GrowingIndex.at(tmp_path, tiny_model_dir)
    grown.add("cxr_01.jpg")
    settings = Settings(index_dir=grown.index_dir, device="cpu", reload_interval=0.0)
    retriever = Retriever.open(settings, encoder=tiny_encoder)
    try:
        app = create_app(settings, retriever=retriever)
        index = (("index", app.extensions["medsearch"].indexes.default.name),)
        grown.add("dcm_ct_small.dcm")
        assert scrape(app)[("medsearch_index_reloads_total", index)] == 1
        info_path = grown.index_dir / "index_info.json"
        info = json.loads(info_path.read_text())
        info["generation"] += 1
        info["format_version"] = 10_000  # a format this MedSearch cannot read
        info_path.write_text(json.dumps(info))
        samples = scrape(app)
        assert samples[("medsearch_index_reload_failures_total", index)] == 1
        assert samples[("medsearch_index_images", index)] == 2  # the loaded version stays
    finally:
        retriever.close()
