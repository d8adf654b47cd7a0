"""Query latency: text and image queries in process and over HTTP, at 1 and N concurrent clients.

In process, a :class:`~indexer.search.retriever.Retriever` answers each query and its own timings
split the time into embedding and search (image queries also time the JPEG decoding the service
does). Over HTTP, a real ``medsearch serve`` subprocess on 127.0.0.1 is loaded by keep-alive
clients: first one client sending queries one after another, then ``clients`` threads for
``duration_s`` seconds each for text and for image queries. Text queries are all different (see
:mod:`medsearch_bench.texts`), so the embedding cache is not what is measured; a cached pass is
reported apart. Image queries upload a 512 px JPEG made from a sample image (``POST
/api/search/image``); every upload is a different crop, so the service's image-query cache answers
none of them either, and a cached pass is again reported apart. The sample images come from
``source``, by default ``data/sample/images`` under the current directory.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from indexer.blas_threads import limit_blas_threads
from indexer.encoders.runtime.speed_probe import speed_probe_gflops
from indexer.errors import InvalidRequestError
from indexer.imaging.decode import decode_image_bytes, load_image, sniff_file
from indexer.search.info import RetrieverInfo
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from search_api.process import run_service

from . import LogFn, no_log
from .http_load import (
    LoadResult,
    Request,
    json_request,
    multipart_request,
    run_concurrent,
    run_sequential,
)
from .samples import sample_images
from .stats import machine_facts, peak_rss_mb, process_memory_mb, summarize_ms
from .texts import distinct_count, query_texts

UPLOAD_SIDE = 512
#: largest margin trimmed off a source to make uploads differ
_MAX_TRIM = 15
#: sample images the uploads are made from (varied modalities and sizes)
_UPLOAD_SOURCES = (
    "cxr_01.jpg",
    "cxr_09.jpg",
    "fundus_01.jpg",
    "histo_01.png",
    "dcm_ct_head.dcm",
    "dcm_mr_shoulder.dcm",
    "dcm_us_kidney.dcm",
    "dcm_cr_chest.dcm",
)


class _TextCursor:
    """Hands out distinct query texts in order."""

    def __init__(self, seed: int) -> None:
        self._texts = query_texts(distinct_count(), seed=seed)
        self.cursor = 0
        self.first = self._texts[0]

    def take(self, n: int) -> list[str]:
        picked = [self._texts[(self.cursor + i) % len(self._texts)] for i in range(n)]
        self.cursor += n
        return picked


@dataclass
class _Plan:
    """What one run asks: query counts, the texts and uploads they use, the clients."""

    settings: Settings
    k: int
    clients: int
    duration_s: float
    n_text: int
    n_cached: int
    n_image: int
    texts: _TextCursor
    uploads: list[bytes]
    seed: int

    @property
    def single_http(self) -> int:
        """Uploads the single-client HTTP phase uses: one warm-up, then one per query."""
        return 1 + self.n_image

    def text_request(self, text: str) -> Request:
        return json_request("/api/search", {"text": text, "k": self.k})

    def image_request(self, number: int) -> Request:
        data = self.uploads[number % len(self.uploads)]
        return multipart_request(
            "/api/search/image",
            {"k": str(self.k)},
            "file",
            f"query-{number}.jpg",
            data,
            "image/jpeg",
        )


def run_query_bench(
    index_dir: Path,
    *,
    settings: Settings,
    duration_s: float | None = None,
    quick: bool = False,
    clients: int = 8,
    k: int = 10,
    source: Path | None = None,
    seed: int = 0,
    log: LogFn = no_log,
) -> dict[str, Any]:
    """Measure query latency on the index in ``index_dir``; return figures per phase.

    Counts: 200 text, 100 cached text and 100 image queries per single-client phase (``quick``:
    20, 10 and 10); the concurrent phases last ``duration_s`` (default 60 s, ``quick``: 5 s).
    Image queries are made from the images in ``source`` (see :func:`sample_uploads`).
    ``settings`` gives device, precision and the server's threads.
    """
    if duration_s is None:
        duration_s = 5.0 if quick else 60.0
    if duration_s <= 0 or clients < 1:
        raise InvalidRequestError("duration must be positive and clients at least 1")
    n_text, n_cached, n_image = (20, 10, 10) if quick else (200, 100, 100)
    load_before = os.getloadavg()
    probe_before = speed_probe_gflops()
    # warm-ups, one client's queries, then at most ~16 images/s for the concurrent phase
    uploads = sample_uploads(1 + n_image + int(duration_s * 16), source)
    plan = _Plan(
        settings.replace(index_dir=Path(index_dir)),
        k,
        clients,
        duration_s,
        n_text,
        n_cached,
        n_image,
        _TextCursor(seed),
        uploads,
        seed,
    )
    phases: dict[str, dict[str, Any]] = {}
    log(f"in process: opening {index_dir}")
    info, draft, fidelity = _measure_in_process(plan, phases, log)
    inproc_rss = peak_rss_mb()
    server_memory, startup_s = _measure_over_http(plan, phases, log)
    return {
        "index": str(index_dir),
        "count": info.count,
        "index_type": info.index_type,
        "dim": info.dim,
        "model": info.encoder.model,
        "device": info.device,
        "runtime": plan.settings.runtime,
        "precision": info.precision,
        "fidelity": fidelity,
        "k": k,
        "upload_side_px": UPLOAD_SIDE,
        "upload_draft_size": draft,
        "clients": clients,
        "server_threads": plan.settings.threads,
        "duration_s": duration_s,
        **_headline_figures(phases, clients),
        "server_startup_s": round(startup_s, 2),
        "server_rss_mb": server_memory.get("rss_mb"),
        "server_peak_rss_mb": server_memory.get("peak_rss_mb"),
        "bench_peak_rss_mb": inproc_rss,
        "phases": phases,
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "speed_probe_gflops": [probe_before, speed_probe_gflops()],
        "machine": machine_facts(),
    }


def _measure_in_process(
    plan: _Plan, phases: dict[str, dict[str, Any]], log: LogFn
) -> tuple[RetrieverInfo, int | None, dict[str, str] | None]:
    """The in-process phases (a :class:`Retriever` answering directly); the index's info and
    the encoder's JPEG draft size."""
    limit_blas_threads()  # as `medsearch serve` runs them
    retriever = Retriever.open(plan.settings)
    texts, uploads, k = plan.texts, plan.uploads, plan.k
    try:
        info = retriever.info()
        _warm_up_in_process(retriever, texts, uploads, k)
        log(f"in process: {plan.n_text} text, {plan.n_cached} cached text, {plan.n_image} images")
        phases["inproc_text"] = _in_process_texts(retriever, texts.take(plan.n_text), k)
        cached = [texts.first] * plan.n_cached
        phases["inproc_text_cached"] = _in_process_texts(retriever, cached, k)
        phases["inproc_image"] = _in_process_images(retriever, uploads[2 : 2 + plan.n_image], k)
        repeated = uploads[:1] * plan.n_cached
        phases["inproc_image_cached"] = _in_process_images(retriever, repeated, k)
        return info, retriever.encoder.draft_size, retriever.encoder.fidelity_record()
    finally:
        retriever.close()


def _measure_over_http(
    plan: _Plan, phases: dict[str, dict[str, Any]], log: LogFn
) -> tuple[dict[str, float], float]:
    """The HTTP phases against a real ``medsearch serve``; its memory and start-up time."""
    settings, clients, duration_s = plan.settings, plan.clients, plan.duration_s
    env: dict[str, str] = {
        "MEDSEARCH_DEVICE": settings.device,
        "MEDSEARCH_PRECISION": settings.precision,
        "MEDSEARCH_RUNTIME": settings.runtime,
        **({"MEDSEARCH_ONNX_CACHE": str(settings.onnx_cache)} if settings.onnx_cache else {}),
    }
    log(f"HTTP: starting medsearch serve ({settings.threads} threads)")
    with run_service(
        settings.index_dir, threads=settings.threads, env=env, startup_timeout_s=600
    ) as server:
        port, texts, single = server.port, plan.texts, plan.single_http
        warm_up = [plan.text_request(t) for t in texts.take(5)] + [plan.image_request(0)]
        run_sequential(port, warm_up)
        log(f"HTTP, 1 client: {plan.n_text} text and {plan.n_image} image queries")
        text_requests = [plan.text_request(t) for t in texts.take(plan.n_text)]
        phases["http_text_1"] = _phase(run_sequential(port, text_requests))
        image_requests = [plan.image_request(i) for i in range(1, single)]
        phases["http_image_1"] = _phase(run_sequential(port, image_requests))
        log(f"HTTP, {clients} clients: text for {duration_s:g} s")
        base = texts.cursor
        pool = query_texts(distinct_count(), seed=plan.seed)
        text_load = run_concurrent(
            port,
            clients,
            duration_s,
            lambda c, n: plan.text_request(pool[(base + n * clients + c) % len(pool)]),
        )
        phases[f"http_text_{clients}"] = _phase(text_load, clients)
        phases[f"http_text_{clients}"]["distinct_texts"] = min(text_load.requests, len(pool) - base)
        log(f"HTTP, {clients} clients: images for {duration_s:g} s")
        image_load = run_concurrent(
            port, clients, duration_s, lambda c, n: plan.image_request(single + n * clients + c)
        )
        phases[f"http_image_{clients}"] = _phase(image_load, clients)
        phases[f"http_image_{clients}"]["distinct_images"] = min(
            image_load.requests, len(plan.uploads) - single
        )
        return process_memory_mb(server.process.pid), server.startup_s


def _headline_figures(phases: dict[str, dict[str, Any]], clients: int) -> dict[str, Any]:
    """The flat figures the report prints, taken from the phases."""
    text_1, image_1 = phases["http_text_1"], phases["http_image_1"]
    text_c, image_c = phases[f"http_text_{clients}"], phases[f"http_image_{clients}"]
    inproc_text, inproc_image = phases["inproc_text"], phases["inproc_image"]
    return {
        # HTTP, one client
        "text_p50_ms": text_1["p50_ms"],
        "text_p95_ms": text_1["p95_ms"],
        "text_p99_ms": text_1["p99_ms"],
        "image_p50_ms": image_1["p50_ms"],
        "image_p95_ms": image_1["p95_ms"],
        "image_p99_ms": image_1["p99_ms"],
        "text_server_p50_ms": text_1["server_p50_ms"],
        "image_server_p50_ms": image_1["server_p50_ms"],
        # in process
        "inproc_text_p50_ms": inproc_text["p50_ms"],
        "inproc_text_embed_p50_ms": inproc_text["embed_p50_ms"],
        "inproc_text_search_p50_ms": inproc_text["search_p50_ms"],
        "inproc_text_cached_p50_ms": phases["inproc_text_cached"]["p50_ms"],
        "inproc_image_p50_ms": inproc_image["p50_ms"],
        "inproc_image_decode_p50_ms": inproc_image["decode_p50_ms"],
        "inproc_image_embed_p50_ms": inproc_image["embed_p50_ms"],
        "inproc_image_search_p50_ms": inproc_image["search_p50_ms"],
        "inproc_image_cached_p50_ms": phases["inproc_image_cached"]["p50_ms"],
        # HTTP, concurrent clients
        "concurrent_text_p50_ms": text_c["p50_ms"],
        "concurrent_text_p99_ms": text_c["p99_ms"],
        "concurrent_text_qps": text_c["qps"],
        "concurrent_image_p50_ms": image_c["p50_ms"],
        "concurrent_image_p99_ms": image_c["p99_ms"],
        "concurrent_image_qps": image_c["qps"],
        "concurrent_errors": text_c["errors"] + image_c["errors"],
        "errors": text_1["errors"] + image_1["errors"],
    }


def sample_uploads(count: int = len(_UPLOAD_SOURCES), folder: Path | None = None) -> list[bytes]:
    """``count`` different 512 px JPEG uploads (quality 90) made from a few sample images.

    ``folder`` defaults to ``data/sample/images`` under the current directory (see
    :func:`~medsearch_bench.samples.sample_images`). The sources take turns; each turn trims a
    different margin of up to 15 px off the source before the resize, so no two of the first
    8 x 256 uploads become the same model input.
    """
    folder = sample_images(folder, option="--source")
    paths = [folder / name for name in _UPLOAD_SOURCES if (folder / name).is_file()]
    if not paths:
        paths = sorted(p for p in folder.iterdir() if p.is_file() and sniff_file(p))[:8]
    if not paths:
        raise InvalidRequestError(f"no sample image in {folder} to make uploads from")
    sources = [_fit(load_image(path).image, UPLOAD_SIDE + _MAX_TRIM) for path in paths]
    uploads = []
    for number in range(count):
        image = sources[number % len(sources)]
        turn = number // len(sources)
        left, top = turn % (_MAX_TRIM + 1), (turn // (_MAX_TRIM + 1)) % (_MAX_TRIM + 1)
        trimmed = image.crop((left, top, image.width, image.height))
        buffer = io.BytesIO()
        _fit(trimmed, UPLOAD_SIDE).save(buffer, "JPEG", quality=90)
        uploads.append(buffer.getvalue())
    return uploads


def _fit(image: Image.Image, side: int) -> Image.Image:
    """``image`` resized so its longer side is ``side`` pixels."""
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)


def _warm_up_in_process(
    retriever: Retriever, texts: _TextCursor, uploads: list[bytes], k: int
) -> None:
    for text in texts.take(5):
        retriever.search(text=text, k=k)
    for data in uploads[:2]:
        retriever.search(image=decode_image_bytes(data).image, k=k)


def _in_process_texts(retriever: Retriever, texts: list[str], k: int) -> dict[str, Any]:
    totals, embeds, searches = [], [], []
    for text in texts:
        timings = retriever.search(text=text, k=k).timings_ms
        totals.append(timings["total"])
        embeds.append(timings["embed"])
        searches.append(timings["search"])
    return _with_parts(summarize_ms(totals), embed=embeds, search=searches)


def _in_process_images(retriever: Retriever, uploads: list[bytes], k: int) -> dict[str, Any]:
    totals, decodes, embeds, searches = [], [], [], []
    draft = retriever.encoder.draft_size
    for upload in uploads:
        started = time.perf_counter()
        image = decode_image_bytes(upload, draft_size=draft).image
        decode_ms = (time.perf_counter() - started) * 1000
        timings = retriever.search(image=image, k=k).timings_ms
        totals.append(decode_ms + timings["total"])
        decodes.append(decode_ms)
        embeds.append(timings["embed"])
        searches.append(timings["search"])
    return _with_parts(summarize_ms(totals), decode=decodes, embed=embeds, search=searches)


def _with_parts(summary: dict[str, Any], **parts: list[float]) -> dict[str, Any]:
    for name, values in parts.items():
        part = summarize_ms(values)
        summary[f"{name}_p50_ms"] = part["p50_ms"]
        summary[f"{name}_p99_ms"] = part["p99_ms"]
    return summary


def _phase(load: LoadResult, clients: int = 1) -> dict[str, Any]:
    summary: dict[str, Any] = dict(summarize_ms(load.latencies_ms))
    server = summarize_ms(load.server_ms)
    summary["server_p50_ms"] = server["p50_ms"]
    summary["server_p99_ms"] = server["p99_ms"]
    summary["clients"] = clients
    summary["errors"] = load.errors
    summary["error_examples"] = load.error_examples
    summary["seconds"] = round(load.seconds, 2)
    summary["qps"] = round(len(load.latencies_ms) / load.seconds, 2) if load.seconds else 0.0
    return summary
