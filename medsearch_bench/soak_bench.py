"""Soak: hours of mixed traffic against a real ``medsearch serve`` while new versions get published.

``clients`` keep-alive clients (:mod:`medsearch_bench.http_load`) send a fixed rotation of
requests: text searches (some filtered on a metadata field the index has), image uploads,
thumbnails at several sizes, similar images and image records. Meanwhile a publisher copies a few
new images into the corpus folder every ``publish_every_s`` seconds and runs a child
``medsearch index`` on it, which publishes a new version that the service picks up as it runs.

Latencies are cut into windows of ``window_s`` seconds (p50/p99 and requests each) and the
server's resident memory is sampled throughout. Three targets get a verdict: no failed request
(HTTP status other than 200, or a broken connection) and no failed publish; the last window's
p99 within 1.5 x the first's; resident memory growing by at most 5 % from the end of the first
window (the warm-up) to the end of the run.

By default the soak builds its own temporary index of a copy of the sample images; with ``index``
it uses that index and copies the new images into ``corpus`` (by default the index's own corpus
folder), under a ``medsearch-soak/`` subfolder that it leaves in place.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from indexer.errors import InvalidRequestError, MedSearchError
from indexer.imaging.decode import sniff_file
from indexer.settings import Settings
from indexer.storage.folder import IndexFolder
from search_api.process import ServiceProcess, run_service

from . import LogFn, no_log
from .http_load import Client, LoadResult, Request, json_request, multipart_request, run_concurrent
from .query_bench import sample_uploads
from .samples import sample_images
from .stats import machine_facts, process_memory_mb, summarize_ms
from .texts import query_texts

#: targets: p99 of the last window at most this many times the first's, memory growth at most
P99_RATIO_TARGET = 1.5
RSS_GROWTH_TARGET = 0.05
#: new images copied into the corpus before each publish
IMAGES_PER_PUBLISH = 3
#: seconds between two readings of the server's memory
RSS_EVERY_S = 5.0
#: thumbnail sizes asked for: exact steps and sizes the service snaps up to one
THUMBNAIL_SIZES = (64, 100, 128, 200, 256, 512)
#: the subfolder of the corpus the new images go to
SOAK_FOLDER = "medsearch-soak"


class SoakFailedError(MedSearchError):
    """The soak cannot start: its index cannot be built or the service cannot be reached."""

    code = "soak_failed"


def run_soak(
    *,
    duration_s: float,
    index_dir: Path | None = None,
    corpus: Path | None = None,
    model: str | None = None,
    settings: Settings,
    clients: int = 8,
    window_s: float = 300.0,
    publish_every_s: float = 180.0,
    source: Path | None = None,
    seed: int = 0,
    log: LogFn = no_log,
) -> dict[str, Any]:
    """Load a served index for ``duration_s`` seconds while republishing it; figures and verdicts.

    ``index_dir`` None: a temporary index of a copy of ``source`` (default: the sample images)
    is built first with ``model``. ``settings`` gives device, precision and the server's threads.
    """
    if duration_s <= 0 or window_s <= 0 or publish_every_s <= 0 or clients < 1:
        raise InvalidRequestError(
            "duration, window and publish interval must be positive, clients at least 1"
        )
    env = {
        "MEDSEARCH_DEVICE": settings.device,
        "MEDSEARCH_PRECISION": settings.precision,
        "MEDSEARCH_RELOAD_INTERVAL": "1",
    }
    with _soak_index(index_dir, corpus, model, source, env, log) as (index, corpus_dir):
        uploads = sample_uploads(64 + IMAGES_PER_PUBLISH * 200, source)
        threads = settings.threads
        log(f"starting medsearch serve on {index} ({threads} threads)")
        with run_service(index, threads=threads, env=env, startup_timeout_s=600) as server:
            requests = _request_mix(server.port, uploads[:64], seed)
            count_before = _info(server.port)["count"]
            publisher = _Publisher(index, corpus_dir, uploads[64:], env, publish_every_s, log)
            sampler = _RssSampler(server)
            log(f"{clients} clients for {duration_s:g} s, a publish every {publish_every_s:g} s")
            with sampler, publisher:
                started = time.perf_counter()
                load = run_concurrent(
                    server.port,
                    clients,
                    duration_s,
                    lambda c, n: requests[(n * clients + c) % len(requests)],
                )
            count_after = _info(server.port)["count"]
    run = {
        "index": str(index_dir) if index_dir else None,
        "duration_s": duration_s,
        "window_s": window_s,
        "clients": clients,
        "server_threads": threads,
        "publish_every_s": publish_every_s,
        "images_before": count_before,
        "images_after": count_after,
    }
    windows = _windows(load, started, duration_s, window_s, sampler.readings)
    return {**run, **_figures(load, windows, sampler.readings, publisher.runs)}


@contextmanager
def _soak_index(
    index_dir: Path | None,
    corpus: Path | None,
    model: str | None,
    source: Path | None,
    env: dict[str, str],
    log: LogFn,
) -> Iterator[tuple[Path, Path]]:
    """The index to serve and the corpus folder to add images to (temporary ones by default)."""
    if index_dir is not None:
        folder = corpus or IndexFolder(index_dir).read_info().corpus_path()
        if not Path(folder).is_dir():
            raise InvalidRequestError(f"corpus folder {folder} does not exist")
        yield Path(index_dir), Path(folder)
        return
    images = sample_images(source, option="--source")
    with tempfile.TemporaryDirectory(prefix="medsearch-soak-") as tmp:
        corpus_dir, index = Path(tmp) / "corpus", Path(tmp) / "index"
        corpus_dir.mkdir()
        for path in sorted(images.iterdir()):
            if path.is_file() and sniff_file(path):
                shutil.copyfile(path, corpus_dir / path.name)
        log(f"indexing {corpus_dir} into a temporary index")
        extra = ["--model", model] if model else []
        run = _run_index(corpus_dir, index, env, extra)
        if run["exit_code"] != 0:
            raise SoakFailedError(f"building the soak's index failed: {run['output']}")
        yield index, corpus_dir


def _run_index(
    corpus: Path, index: Path, env: dict[str, str], extra: list[str] | None = None
) -> dict[str, Any]:
    """One child ``medsearch index CORPUS --index INDEX``: exit code, seconds, end of its output."""
    command = [sys.executable, "-m", "indexer", "index", str(corpus), "--index", str(index)]
    command += ["--quiet", *(extra or [])]
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **env}, check=False
    )
    return {
        "exit_code": done.returncode,
        "seconds": round(time.perf_counter() - started, 2),
        "output": (done.stdout + done.stderr).strip()[-500:],
    }


def _info(port: int) -> dict[str, Any]:
    client = Client(port)
    try:
        status, body = client.send(Request("GET", "/api/info", b"", {}))
    except OSError as exc:
        raise SoakFailedError(f"the service does not answer: {exc}") from exc
    finally:
        client.close()
    if status != 200:
        raise SoakFailedError(f"GET /api/info answered {status}")
    data: dict[str, Any] = json.loads(body)
    return data


def _request_mix(port: int, uploads: list[bytes], seed: int) -> list[Request]:
    """The rotation every client walks through: searches, uploads, thumbnails, similar, records.

    Image ids and a filter come from the index itself (its first hits and its facets).
    """
    client = Client(port)
    try:
        status, body = client.send(json_request("/api/search", {"text": "x-ray", "k": 50}))
        ids = [hit["id"] for hit in json.loads(body)["results"]] if status == 200 else []
        status, body = client.send(Request("GET", "/api/facets", b"", {}))
        facets = json.loads(body)["facets"] if status == 200 else {}
    finally:
        client.close()
    if not ids:
        raise SoakFailedError("the index answers no search: nothing to load it with")
    field, values = next(((f, v) for f, v in sorted(facets.items()) if v), (None, []))
    texts = query_texts(400, seed=seed)
    mix: list[Request] = []
    for number, text in enumerate(texts):
        image_id = ids[number % len(ids)]
        query: dict[str, Any] = {"text": text, "k": 10}
        if field is not None and number % 3 == 0:
            query["filters"] = {field: [values[number % len(values)]["value"]]}
        mix.append(json_request("/api/search", query))
        size = THUMBNAIL_SIZES[number % len(THUMBNAIL_SIZES)]
        mix.append(Request("GET", f"/api/images/{image_id}/thumbnail?size={size}", b"", {}))
        if number % 2 == 0:
            data = uploads[number % len(uploads)]
            mix.append(
                multipart_request(
                    "/api/search/image", {"k": "10"}, "file", "q.jpg", data, "image/jpeg"
                )
            )
        if number % 4 == 1:
            mix.append(Request("GET", f"/api/images/{image_id}/similar?k=10", b"", {}))
        if number % 4 == 3:
            mix.append(Request("GET", f"/api/images/{image_id}", b"", {}))
    return mix


class _Publisher:
    """A thread that adds images to the corpus and re-indexes it every ``every_s`` seconds."""

    def __init__(
        self,
        index: Path,
        corpus: Path,
        images: list[bytes],
        env: dict[str, str],
        every_s: float,
        log: LogFn,
    ) -> None:
        self.index, self.corpus, self.images, self.env = index, corpus, images, env
        self.every_s, self.log = every_s, log
        self.runs: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _Publisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        round_number = 0
        while not self._stop.wait(self.every_s):
            round_number += 1
            folder = self.corpus / SOAK_FOLDER / f"round-{round_number:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(IMAGES_PER_PUBLISH):
                data = self.images[(round_number * IMAGES_PER_PUBLISH + i) % len(self.images)]
                (folder / f"new-{i}.jpg").write_bytes(data)
            run = _run_index(self.corpus, self.index, self.env)
            run["round"] = round_number
            self.runs.append(run)
            self.log(f"publish {round_number}: exit {run['exit_code']} in {run['seconds']} s")


class _RssSampler:
    """A thread reading the server's resident memory every few seconds: (perf_counter, MiB)."""

    def __init__(self, server: ServiceProcess) -> None:
        self.pid = server.process.pid
        self.readings: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _RssSampler:
        self._read()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._read()

    def _loop(self) -> None:
        while not self._stop.wait(RSS_EVERY_S):
            self._read()

    def _read(self) -> None:
        rss = process_memory_mb(self.pid).get("rss_mb")
        if rss is not None:
            self.readings.append((time.perf_counter(), rss))


def _windows(
    load: LoadResult,
    started: float,
    duration_s: float,
    window_s: float,
    readings: list[tuple[float, float]],
) -> list[dict[str, Any]]:
    """Requests, errors, p50/p99 and the last memory reading of each window of the run."""
    count = max(1, int(-(-duration_s // window_s)))  # ceil, whatever the float
    latencies: list[list[float]] = [[] for _ in range(count)]
    errors = [0] * count

    def slot(at: float) -> int:
        return min(count - 1, max(0, int((at - started) // window_s)))

    for at, ms in zip(load.finished_at, load.latencies_ms, strict=True):
        latencies[slot(at)].append(ms)
    for at in load.errors_at:
        errors[slot(at)] += 1
    windows = []
    for number in range(count):
        summary = summarize_ms(latencies[number])
        end = started + min((number + 1) * window_s, duration_s)
        rss = [mb for at, mb in readings if at <= end]
        windows.append(
            {
                "start_s": round(number * window_s, 1),
                "requests": len(latencies[number]) + errors[number],
                "errors": errors[number],
                "p50_ms": summary["p50_ms"],
                "p99_ms": summary["p99_ms"],
                "rss_mb": rss[-1] if rss else None,
            }
        )
    return windows


def _figures(
    load: LoadResult,
    windows: list[dict[str, Any]],
    readings: list[tuple[float, float]],
    publishes: list[dict[str, Any]],
) -> dict[str, Any]:
    """Totals, windows, memory, publishes and the three verdicts."""
    failed_publishes = sum(1 for run in publishes if run["exit_code"] != 0)
    rss_start = windows[0]["rss_mb"] if windows[0]["rss_mb"] is not None else readings[0][1]
    rss_end = readings[-1][1]
    first_p99, last_p99 = windows[0]["p99_ms"], windows[-1]["p99_ms"]
    p99_ratio = round(last_p99 / first_p99, 3) if first_p99 else None
    growth = round((rss_end - rss_start) / rss_start, 4) if rss_start else None
    total = summarize_ms(load.latencies_ms)
    return {
        "requests": load.requests,
        "errors": load.errors,
        "error_examples": load.error_examples,
        "p50_ms": total["p50_ms"],
        "p99_ms": total["p99_ms"],
        "qps": round(load.requests / load.seconds, 2) if load.seconds else 0.0,
        "windows": windows,
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_end,
        "rss_peak_mb": max(mb for _, mb in readings),
        "rss_growth": growth,
        "p99_ratio": p99_ratio,
        "publishes": len(publishes),
        "failed_publishes": failed_publishes,
        "publish_runs": publishes,
        "verdicts": {
            "no_errors": load.errors == 0 and failed_publishes == 0,
            "p99_stable": p99_ratio is not None and p99_ratio <= P99_RATIO_TARGET,
            "rss_stable": growth is not None and growth <= RSS_GROWTH_TARGET,
        },
        "machine": machine_facts(),
    }


__all__ = ["SoakFailedError", "run_soak"]
