"""A large synthetic index: build time, memory, search latency and recall against exact search.

``n`` unit vectors are drawn around ``clusters`` random centres (cluster sizes log-normal, as
embeddings of a real collection are: many small groups, a few big ones), seeded. They are written
through the project's own code: :class:`~indexer.storage.folder.IndexFolder` and
:func:`~indexer.storage.folder.new_info`, rows in the :class:`~indexer.storage.metadata_db.Store`
database (one bulk insert per chunk), vectors in the :class:`~indexer.storage.vectors.VectorFile`,
then :func:`~indexer.storage.publish.publish` with the index type asked for (by default the one
``auto`` picks: IVF beyond 100,000 vectors, ``nprobe`` calibrated). Each row has two synthetic
metadata fields, ``cohort`` (100 values, 1% of the images each) and ``arm`` (two values, half each),
for filtered searches. Given a model, the encoder record is the model's own, so ``medsearch serve``
and ``medsearch bench query`` can open the result with that model; the served side is then measured
too (:mod:`medsearch_bench.scale_serving`).

Recall@10 is measured on held-out queries drawn like the data (new points of the same clusters),
on the calibration-style queries of :func:`indexer.ann.sample_queries`, and on random directions
(a worst case, as far from the data as text queries can be from images).
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer import ann
from indexer.encoders import FloatArray, load_encoder
from indexer.encoders.vector_only import VectorOnlyEncoder
from indexer.errors import InvalidRequestError
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.storage.folder import IndexFolder, new_info
from indexer.storage.info import EncoderRecord, IndexInfo
from indexer.storage.publish import publish

from . import LogFn, no_log
from .scale_serving import index_memory_mb, measure_service
from .stats import machine_facts, peak_rss_mb, summarize_ms

DEFAULT_DIM = 512
CHUNK = 50_000
#: spread of a cluster around its centre (cosine of two members of one cluster ~0.7)
CLUSTER_SPREAD = 0.65
_MODALITIES = ("X-ray", "CT", "MR", "US", "NM", "histology", "fundus")
#: synthetic metadata: ``cohort`` takes 100 values (a filter on one selects 1% of the images),
#: ``arm`` two (a filter on one selects half of them)
COHORTS = 100
ARMS = ("a", "b")
#: the corpus root a synthetic index records
SYNTHETIC_CORPUS = "synthetic-corpus"


def run_scale_bench(
    n: int,
    *,
    dim: int | None = None,
    model: str | None = None,
    out: Path | None = None,
    clusters: int = 1000,
    spread: float = CLUSTER_SPREAD,
    queries: int = 200,
    searches: int = 500,
    quick: bool = False,
    seed: int = 0,
    index_type: str = "auto",
    settings: Settings,
    log: LogFn = no_log,
) -> dict[str, Any]:
    """Build an index of ``n`` synthetic vectors (in ``out``, else a temporary folder); measure it.

    ``dim`` (default 512) or ``model`` (its dimension and encoder record) fixes the vectors'
    dimension; ``spread`` is the noise around each cluster centre (larger: clusters overlap).
    ``queries`` recall queries per kind and ``searches`` timed searches (``quick``: 50 and 100).
    With a model, ``medsearch serve`` runs on the result with ``settings`` (device, precision,
    threads) and answers ``searches // 5`` requests of each kind;
    its ``index_memory`` bounds the type ``auto`` publishes.
    """
    if n < 1:
        raise InvalidRequestError("n must be at least 1")
    if spread < 0:
        raise InvalidRequestError("spread must not be negative")
    if model is not None and dim is not None:
        raise InvalidRequestError("give --dim or --model, not both")
    if index_type != "auto":
        ann.family(index_type)  # an unknown type fails before anything is built
    if quick:
        queries, searches = min(queries, 50), min(searches, 100)
    load_before = os.getloadavg()
    encoder_record = _encoder_record(model, dim, log)
    dim = encoder_record.dim
    data = Synthetic(dim, max(1, min(clusters, n)), spread, seed)
    with _target_folder(out) as folder_path:
        result = _build_and_measure(
            folder_path,
            n,
            data,
            encoder_record,
            index_type,
            settings.index_memory,
            queries,
            searches,
            log,
        )
        result["out"] = str(out) if out else None
        log("measuring the index's own memory in a fresh process")
        result.update(index_memory_mb(folder_path))
        if model is None:
            result["http_skipped"] = "no --model given: the index cannot be served"
        else:
            result.update(
                measure_service(
                    folder_path,
                    n,
                    settings=settings,
                    queries=max(10, searches // 5),
                    seed=seed,
                    log=log,
                )
            )
    result.update(
        {
            "peak_rss_mb": peak_rss_mb(),
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            "machine": machine_facts(),
        }
    )
    return result


def _encoder_record(model: str | None, dim: int | None, log: LogFn) -> EncoderRecord:
    if model is None:
        dim = dim or DEFAULT_DIM
        if dim < 2:
            raise InvalidRequestError("dim must be at least 2")
        return EncoderRecord(
            name="synthetic",
            model="synthetic",
            fingerprint=f"synthetic-{dim}",
            dim=dim,
            random_weights=True,
        )
    log(f"reading the encoder record of {model}")
    encoder = load_encoder(model, device="cpu", precision="fp32")
    record = encoder.describe()
    del encoder
    gc.collect()
    return record


@contextmanager
def _target_folder(out: Path | None) -> Iterator[Path]:
    if out is None:
        tmp = tempfile.mkdtemp(prefix="medsearch-scale-")
        try:
            yield Path(tmp) / "index"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InvalidRequestError(f"{out} exists and is not empty; choose a new folder")
    yield out


@dataclass(frozen=True)
class Synthetic:
    """The seeded data set: ``clusters`` random unit centres in ``dim`` dimensions."""

    dim: int
    clusters: int
    spread: float = CLUSTER_SPREAD
    seed: int = 0

    def vectors(self, n: int, start: int = 0) -> tuple[FloatArray, np.ndarray]:
        return clustered_vectors(n, self.dim, self.clusters, self.seed, start, self.spread)

    def queries(self, n: int, stream: int = 0) -> FloatArray:
        return held_out_queries(n, self.dim, self.clusters, self.seed + stream, self.spread)


def clustered_vectors(
    n: int,
    dim: int,
    clusters: int,
    seed: int,
    start: int = 0,
    spread: float = CLUSTER_SPREAD,
) -> tuple[FloatArray, np.ndarray]:
    """Rows ``start`` .. ``start + n`` of the seeded clustered data set, and their cluster numbers.

    Any chunking of the rows gives the same vectors (each chunk has its own seeded stream).
    """
    centres = _centres(dim, clusters, seed)
    weights = np.random.default_rng([seed, 1]).lognormal(0.0, 1.0, clusters)
    weights /= weights.sum()
    rows: list[FloatArray] = []
    labels: list[np.ndarray] = []
    end = start + n
    for chunk_start in range(start - start % CHUNK, end, CHUNK):
        rng = np.random.default_rng([seed, 2, chunk_start // CHUNK])
        size = CHUNK
        which = rng.choice(clusters, size=size, p=weights)
        noise = rng.standard_normal((size, dim), dtype=np.float32) / np.sqrt(dim)
        vectors = centres[which] + spread * noise
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        lo, hi = max(start, chunk_start) - chunk_start, min(end, chunk_start + CHUNK) - chunk_start
        rows.append(vectors[lo:hi])
        labels.append(which[lo:hi])
    return np.concatenate(rows).astype(np.float32), np.concatenate(labels)


def held_out_queries(
    n: int, dim: int, clusters: int, seed: int, spread: float = CLUSTER_SPREAD
) -> FloatArray:
    """New points of the same clusters (not in the index), unit length."""
    centres = _centres(dim, clusters, seed)
    rng = np.random.default_rng([seed, 3])
    which = rng.integers(0, clusters, n)
    noise = rng.standard_normal((n, dim), dtype=np.float32) / np.sqrt(dim)
    vectors = centres[which] + spread * noise
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _centres(dim: int, clusters: int, seed: int) -> FloatArray:
    centres = np.random.default_rng([seed, 0]).standard_normal((clusters, dim), dtype=np.float32)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def _build_and_measure(
    path: Path,
    n: int,
    data: Synthetic,
    encoder_record: EncoderRecord,
    index_type: str,
    index_memory: int,
    n_queries: int,
    n_searches: int,
    log: LogFn,
) -> dict[str, Any]:
    dim = data.dim
    folder = IndexFolder(path)
    times: dict[str, float] = {"rows": 0.0, "vectors": 0.0}
    started = time.perf_counter()
    with folder.writer_lock():
        info = new_info(encoder_record, path / SYNTHETIC_CORPUS, index_type)
        store = folder.open_store(create=True)
        try:
            folder.write_info(info)
            vector_file = folder.vector_file(dim)
            now = time.time()
            for chunk_start in range(0, n, CHUNK):
                size = min(CHUNK, n - chunk_start)
                ids = np.arange(chunk_start + 1, chunk_start + size + 1, dtype=np.int64)
                t0 = time.perf_counter()
                vectors, _ = data.vectors(size, start=chunk_start)
                vector_file.write(ids, vectors)
                t1 = time.perf_counter()
                with store.writer() as w:
                    w.insert_rows([synthetic_row(int(i), now) for i in ids])
                times["vectors"] += t1 - t0
                times["rows"] += time.perf_counter() - t1
                log(f"  {chunk_start + size:,}/{n:,} rows and vectors")
            log(f"publishing (index type {index_type})")
            t0 = time.perf_counter()
            info = publish(folder, store, info, index_type, index_memory)
            times["publish"] = time.perf_counter() - t0
        finally:
            store.close()
    build_seconds = time.perf_counter() - started
    build_peak = peak_rss_mb()
    log(f"built in {build_seconds:.1f} s; measuring recall and latency")
    measured = _measure(folder, info, data, n_queries, n_searches)
    index_mb = folder.faiss_path.stat().st_size / 2**20
    result: dict[str, Any] = {
        "n": n,
        "dim": dim,
        "clusters": data.clusters,
        "spread": data.spread,
        "seed": data.seed,
        "index_type": info.index_type,
        "index_type_requested": index_type,
        "search_param": info.search_param,
        **measured,
        "build_seconds": round(build_seconds, 2),
        "build_vectors_seconds": round(times["vectors"], 2),
        "build_rows_seconds": round(times["rows"], 2),
        "build_publish_seconds": round(times["publish"], 2),
        "build_peak_rss_mb": build_peak,
        "index_file_mb": round(index_mb, 1),
        "vectors_file_mb": round(folder.vectors_path.stat().st_size / 2**20, 1),
        "db_file_mb": round(folder.db_path.stat().st_size / 2**20, 1),
        "encoder": encoder_record.to_json(),
    }
    return result


def synthetic_row(image_id: int, now: float) -> dict[str, Any]:
    """The row of synthetic image ``image_id``, written at ``now``."""
    path = f"synthetic/{image_id:06d}.png"
    return {
        "id": image_id,
        "path": path,
        "sha256": hashlib.sha256(path.encode()).hexdigest(),
        "size": 100_000 + image_id % 900_000,
        "mtime": now,
        "width": 512,
        "height": 512,
        "format": "png",
        "modality": _MODALITIES[image_id % len(_MODALITIES)],
        "caption": None,
        "extra": {"cohort": f"c{image_id % COHORTS:02d}", "arm": ARMS[image_id % len(ARMS)]},
        "indexed_at": now,
    }


def _measure(
    folder: IndexFolder,
    info: IndexInfo,
    data: Synthetic,
    n_queries: int,
    n_searches: int,
) -> dict[str, Any]:
    dim, seed = data.dim, data.seed
    index = ann.load_published(folder, info, checked=False)
    nlist = index.list_count
    store = folder.open_store()
    try:
        ids = store.ids()
    finally:
        store.close()
    # read from the vector file a block at a time: at 10M rows they would not fit in memory
    vectors = folder.vector_file(dim).rows_of(ids)
    held_out = data.queries(n_queries)
    calibration_like = ann.sample_queries(vectors, n_queries, seed=seed + 1)
    random_dirs = np.random.default_rng([seed, 4]).standard_normal((n_queries, dim))
    random_dirs = (random_dirs / np.linalg.norm(random_dirs, axis=1, keepdims=True)).astype(
        np.float32
    )
    recall = ann.recall_at_k(index, vectors, ids, held_out, k=10)
    recall_sample = ann.recall_at_k(index, vectors, ids, calibration_like, k=10)
    recall_random = ann.recall_at_k(index, vectors, ids, random_dirs, k=10)
    timed_queries = data.queries(n_searches, stream=7)
    for query in timed_queries[:10]:
        index.search(query[None, :], 10)
    ann_ms = []
    for query in timed_queries:
        t0 = time.perf_counter()
        index.search(query[None, :], 10)
        ann_ms.append((time.perf_counter() - t0) * 1000)
    exact_ms = _exact_search_ms(vectors, ids, timed_queries[: min(20, len(timed_queries))])
    del vectors, index
    gc.collect()
    retriever_ms = _retriever_search_ms(folder, dim, timed_queries)
    search = summarize_ms(ann_ms)
    return {
        "recall_at_10": round(recall, 4),
        "recall_at_10_calibration_queries": round(recall_sample, 4),
        "recall_at_10_random_queries": round(recall_random, 4),
        "recall_queries": n_queries,
        "nlist": nlist,
        "search_p50_ms": search["p50_ms"],
        "search_p95_ms": search["p95_ms"],
        "search_p99_ms": search["p99_ms"],
        "retriever_search_p50_ms": retriever_ms["p50_ms"],
        "retriever_search_p99_ms": retriever_ms["p99_ms"],
        "exact_search_p50_ms": exact_ms,
        "timed_searches": len(timed_queries),
    }


def _exact_search_ms(vectors: ann.RowSource, ids: np.ndarray, queries: FloatArray) -> float:
    """p50 of one exact search over every vector, read from the vector file a block at a time
    (as a filtered search over many images does), for comparison."""
    times = []
    for query in queries:
        t0 = time.perf_counter()
        ann.exact_top_k(vectors, ids, query[None, :], 10)
        times.append((time.perf_counter() - t0) * 1000)
    return summarize_ms(times)["p50_ms"]


def _retriever_search_ms(folder: IndexFolder, dim: int, queries: FloatArray) -> dict[str, Any]:
    """Latency of Retriever.search with a vector query: ANN search plus the hits' SQLite rows."""
    settings = Settings(index_dir=folder.path, device="cpu", precision="fp32")
    retriever = Retriever(settings, VectorOnlyEncoder(dim), folder.open_store(), folder)
    try:
        for query in queries[:10]:
            retriever.search(vector=query, k=10)
        times = [retriever.search(vector=query, k=10).timings_ms["total"] for query in queries]
    finally:
        retriever.close()
    return summarize_ms(times)
