"""The served side of ``bench scale``: the index's own memory and a real ``medsearch serve``.

The index's memory is the growth of the resident memory (``VmRSS``) of a fresh Python process,
FAISS already imported, when it loads ``index.faiss`` (:func:`index_memory_mb`): what the index
costs a server, whatever its type, memory-mapped files counted only for the pages it touched.

With a model, :func:`measure_service` starts ``medsearch serve`` on the built index and sends
one client's requests one after another over keep-alive HTTP: text queries, the same with a
filter selecting about 1% and about 50% of the images (the synthetic ``cohort`` and ``arm``
fields of :mod:`medsearch_bench.scale_bench`), ``GET /api/facets`` and ``GET /api/images/ID``.
Every text is different, so the embedding cache answers none. The first filtered query and the
first facets request are timed apart: they fill the service's caches of field names and counts.
The service's resident memory is read after the timed requests. ``serve_ready_s`` is the time
from starting the process to the answer of its first text query (``serve_startup_s``: to its
first answer of ``/api/health``). Until the service has checked every block of the vector file
against its digest (``serve_checked_s``, read from ``GET /metrics``), a query also hashes the
blocks of the rows it reads: text queries are sent one after another until then
(``http_text_during_check_*``), and the timed requests start after it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from indexer.errors import MedSearchError
from indexer.settings import Settings
from search_api.process import run_service

from . import LogFn, no_log
from .http_load import Client, LoadResult, Request, json_request, run_sequential
from .stats import process_memory_mb, summarize_ms
from .texts import query_texts

#: the longest the measurement waits for the service to have checked its vector file
CHECK_TIMEOUT_S = 600
#: text queries sent at most while it checks
CHECK_QUERIES_MAX = 2000
#: filters of the synthetic rows, by the share of the images they select
FILTERS: dict[str, dict[str, str]] = {"1pct": {"cohort": "c00"}, "50pct": {"arm": "a"}}

_LOAD_SCRIPT = """
import json, os, sys, pathlib
from indexer import ann
from indexer.storage.folder import IndexFolder
from medsearch_bench.stats import process_memory_mb
folder = IndexFolder(pathlib.Path(sys.argv[1]))
info = folder.read_info()
before = process_memory_mb(os.getpid())
index = ann.load_published(folder, info, checked=False)
after = process_memory_mb(os.getpid())
print(json.dumps({"before": before, "after": after, "ntotal": index.ntotal}))
"""


class MeasureError(MedSearchError):
    """A measurement in a child process failed."""

    code = "measure_failed"


def index_memory_mb(index_dir: Path) -> dict[str, float]:
    """Resident memory a fresh process gains by loading the published index of ``index_dir``
    with its recorded knobs (``index_memory_mb``), and the growth of its peak while loading
    (``index_load_peak_mb``), in MiB."""
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_SCRIPT, str(index_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise MeasureError(
            f"loading the index of {index_dir} in a child process failed: {done.stderr[-500:]}"
        )
    read = json.loads(done.stdout.strip().splitlines()[-1])
    before, after = read["before"], read["after"]
    return {
        "index_memory_mb": round(after["rss_mb"] - before["rss_mb"], 1),
        "index_load_peak_mb": round(after["peak_rss_mb"] - before["peak_rss_mb"], 1),
    }


def measure_service(
    index_dir: Path,
    count: int,
    *,
    settings: Settings,
    queries: int,
    seed: int = 0,
    log: LogFn = no_log,
) -> dict[str, Any]:
    """Serve ``index_dir`` (``count`` images, ids 1..count) and time one client's requests.

    ``queries`` requests per kind (text, each filter, facets, image records).
    """
    texts = iter(query_texts(4 * queries + 20 + CHECK_QUERIES_MAX, seed=seed))
    rng = np.random.default_rng([seed, 5])
    env: dict[str, str] = {
        "MEDSEARCH_DEVICE": settings.device,
        "MEDSEARCH_PRECISION": settings.precision,
    }
    log("HTTP: starting medsearch serve on the built index")
    with run_service(
        index_dir, threads=settings.threads, env=env, startup_timeout_s=3600
    ) as server:
        port = server.port

        def search(filters: dict[str, str] | None = None) -> Request:
            body: dict[str, Any] = {"text": next(texts), "k": 10}
            if filters:
                body["filters"] = filters
            return json_request("/api/search", body)

        def get(path: str) -> Request:
            return Request("GET", path, b"", {})

        started = time.monotonic() - server.startup_s
        first = run_sequential(port, [search()])
        ready_s = server.startup_s + sum(first.latencies_ms) / 1000 if not first.errors else None
        during_check = LoadResult()
        while (
            _unchecked_blocks(port)
            and len(during_check.latencies_ms) < CHECK_QUERIES_MAX
            and time.monotonic() - started < CHECK_TIMEOUT_S
        ):
            during_check.extend(run_sequential(port, [search()]))
        while _unchecked_blocks(port) and time.monotonic() - started < CHECK_TIMEOUT_S:
            time.sleep(0.5)
        checked_s = time.monotonic() - started
        run_sequential(port, [search() for _ in range(4)])
        log(f"HTTP: {queries} text queries, unfiltered and with each filter")
        phases = {
            "http_text_during_check": during_check,
            "http_text": run_sequential(port, [search() for _ in range(queries)]),
        }
        for name, filters in FILTERS.items():
            phases[f"http_filter_{name}_first"] = run_sequential(port, [search(filters)])
            phases[f"http_filter_{name}"] = run_sequential(
                port, [search(filters) for _ in range(queries)]
            )
        log(f"HTTP: facets and {queries} image records")
        phases["http_facets_first"] = run_sequential(port, [get("/api/facets")])
        phases["http_facets"] = run_sequential(port, [get("/api/facets") for _ in range(queries)])
        ids = rng.integers(1, count + 1, queries)
        phases["http_record"] = run_sequential(port, [get(f"/api/images/{i}") for i in ids])
        memory = process_memory_mb(server.process.pid)
        startup_s = server.startup_s
    result: dict[str, Any] = {
        "serve_rss_mb": memory.get("rss_mb"),
        "serve_peak_rss_mb": memory.get("peak_rss_mb"),
        "serve_rss_anon_mb": memory.get("rss_anon_mb"),
        "serve_rss_file_mb": memory.get("rss_file_mb"),
        "serve_startup_s": round(startup_s, 2),
        "serve_ready_s": round(ready_s, 2) if ready_s is not None else None,
        "serve_checked_s": round(checked_s, 2),
        "http_text_during_check_queries": len(during_check.latencies_ms),
        "http_queries": queries,
        "http_errors": sum(load.errors for load in phases.values()),
        "http_error_examples": [e for load in phases.values() for e in load.error_examples][:5],
    }
    for name, load in phases.items():
        summary = summarize_ms(load.latencies_ms)
        if name.endswith("_first"):
            result[f"{name}_ms"] = summary["p50_ms"]
        else:
            result[f"{name}_p50_ms"] = summary["p50_ms"]
            result[f"{name}_p99_ms"] = summary["p99_ms"]
    return result


def _unchecked_blocks(port: int) -> int:
    """Blocks of the served vector file not checked yet, as ``GET /metrics`` reports them."""
    client = Client(port)
    try:
        status, body = client.send(Request("GET", "/metrics", b"", {}))
    finally:
        client.close()
    if status != 200:
        raise MeasureError(f"GET /metrics answered {status}")
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
            if sample.name == "medsearch_index_vector_blocks_unchecked"
        )
    )
