"""``GET /metrics``: the service's state in Prometheus' text format.

Each application has its own registry (several apps in one process never share counters).
Requests are counted and timed by route template (``/api/images/<int:image_id>``, never the
raw path, so a scan of random URLs cannot grow the label set), method and status; what the
indexes and the model hold is read when the metrics are scraped, and so is the check of each
index's vector blocks (``medsearch_index_damaged``: see docs/security.md). The route sits
beside the API, not under it, where Prometheus looks by default, and asks for the same token as
the API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from indexer.storage.block_guard import BlockCheckState
from search_api.indexes import IndexSet
from search_api.service import SearchService

METRICS_PATH = "/metrics"
#: the route label of a request no route matched
UNMATCHED = "unmatched"
#: latency buckets (seconds) from a cached text query to a slow filtered image query
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def install_metrics(app: Flask, indexes: IndexSet) -> None:
    """Count and time every request of ``app`` and serve the metrics at :data:`METRICS_PATH`."""
    registry = CollectorRegistry(auto_describe=True)
    requests = Counter(
        "medsearch_http_requests",
        "HTTP requests answered, by route template, method and status",
        ("route", "method", "status"),
        registry=registry,
    )
    latency = Histogram(
        "medsearch_http_request_duration_seconds",
        "Time from a request's arrival to its answer, by route template and method",
        ("route", "method"),
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    registry.register(IndexCollector(indexes))

    @app.before_request
    def _start_clock() -> None:
        g.medsearch_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("medsearch_started")
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        requests.labels(route, request.method, str(response.status_code)).inc()
        if started is not None:
            latency.labels(route, request.method).observe(time.perf_counter() - started)
        return response

    def metrics() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule(METRICS_PATH, "metrics", metrics, methods=["GET"])


class IndexCollector(Collector):
    """Each served index's version, size, reloads, thumbnail cache and model, read per scrape."""

    def __init__(self, indexes: IndexSet) -> None:
        self._indexes = indexes

    def collect(self) -> Iterator[Metric]:
        labels = ["index"]
        generation = GaugeMetricFamily(
            "medsearch_index_generation", "Published version the index serves", labels=labels
        )
        images = GaugeMetricFamily(
            "medsearch_index_images", "Images in the served version", labels=labels
        )
        reloads = CounterMetricFamily(
            "medsearch_index_reloads", "Newly published versions picked up", labels=labels
        )
        failures = CounterMetricFamily(
            "medsearch_index_reload_failures",
            "Newly published versions that could not be loaded (the previous one is kept)",
            labels=labels,
        )
        thumbnails = GaugeMetricFamily(
            "medsearch_thumbnail_cache_bytes", "Bytes of cached renderings", labels=labels
        )
        busy = CounterMetricFamily(
            "medsearch_model_busy_seconds",
            "Seconds the index's model spent computing",
            labels=labels,
        )
        texts = CounterMetricFamily(
            "medsearch_text_queries", "Text queries embedded by the model", labels=labels
        )
        waiting = GaugeMetricFamily(
            "medsearch_text_queries_waiting",
            "Text queries queued for the model now",
            labels=labels,
        )
        damaged = GaugeMetricFamily(
            "medsearch_index_damaged",
            "1 once the served version's vector file was found not to match its block digests "
            "(searches are refused with 503), else 0",
            labels=labels,
        )
        unchecked = GaugeMetricFamily(
            "medsearch_index_vector_blocks_unchecked",
            "Blocks of the served version's vector file not checked against their digests yet",
            labels=labels,
        )
        for index in self._indexes:
            name = [index.name]
            check = _vector_check(index.retriever)
            damaged.add_metric(name, 0 if check is None or check.damage is None else 1)
            unchecked.add_metric(name, 0 if check is None else check.unchecked)
            info = index.retriever.info()
            usage = index.retriever.encoder.usage()
            generation.add_metric(name, info.generation)
            images.add_metric(name, info.count)
            reloads.add_metric(name, index.reloads)
            failures.add_metric(name, index.reload_failures)
            thumbnails.add_metric(name, index.renders.size_bytes)
            busy.add_metric(name, usage.busy_seconds)
            texts.add_metric(name, usage.text_requests)
            waiting.add_metric(name, usage.text_requests_waiting)
        yield from (generation, images, reloads, failures, thumbnails, busy, texts, waiting)
        yield from (damaged, unchecked)


def _vector_check(retriever: SearchService) -> BlockCheckState | None:
    """The state of the check of a retriever's vector blocks (None: nothing is left to check,
    or a stand-in retriever without one)."""
    vector_check = getattr(retriever, "vector_check", None)
    return vector_check() if vector_check is not None else None
