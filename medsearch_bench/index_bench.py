"""Indexing throughput: the real pipeline against the model alone and the model card's recipe.

Three rates on the same images, each in images per second:

* ``pipeline``: :func:`indexer.indexing.pipeline.index_corpus` into a fresh temporary index folder,
  end to end (scan, read, hash, decode, preprocess, embed, SQLite rows, vector file, ANN publish),
  with the encoder loaded beforehand so model loading is not counted;
* ``model_only`` (the ceiling): ``encoder.encode_prepared`` on batches of already decoded,
  resized and cropped images (to tensor and normalised on the model thread, as in the
  pipeline), at the pipeline's batch size and precision;
* ``reference`` (the model card's way, which the model's encoder family provides: open_clip's
  for BiomedCLIP, ``CLIPProcessor`` + ``CLIPModel`` for PubMedCLIP): one image at a time, in fp32,
  on the same weights loaded a second time into the stock model, in a child process
  (:mod:`indexer.encoders.runtime.model_card`).

With ``--slices N`` each repeat also indexes the same images with ``slices=N`` into another fresh
folder, right after the pipeline run with every slice: ``slices`` reports both runs' wall time and
images embedded, the cost of a multi-series corpus sampled against indexed whole.

Files are read once before timing, so every rate is measured from the page cache. One batch
(or one image) goes through each path first, untimed, so one-off kernel set-up is not counted.
Each repeat runs the pipeline, the model alone and the recipe (on its share of the images) in
turn, so the ratios of one repeat come from the same spell of a shared machine. The best run of
each is reported, with every run and the ratios of every repeat listed.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from indexer.encoders import Encoder, encoder_from_settings
from indexer.encoders.onnx.calibration import calibration_of, file_images, needs_calibration
from indexer.encoders.runtime.model_card import model_card_rate_in_child
from indexer.encoders.runtime.speed_probe import probe_dtype, speed_probe_gflops
from indexer.errors import InvalidRequestError
from indexer.imaging.decode import load_image, sniff_file
from indexer.indexing.pipeline import index_corpus
from indexer.settings import Settings
from indexer.sources.folder import scan_corpus

from . import LogFn, no_log
from .stats import machine_facts, peak_rss_mb

QUICK_IMAGES = 64


def run_index_bench(
    model: str,
    corpus: Path,
    *,
    settings: Settings,
    limit: int | None = None,
    repeats: int = 2,
    quick: bool = False,
    seed: int = 0,
    log: LogFn = no_log,
) -> dict[str, Any]:
    """Measure the three rates on the images under ``corpus``; return figures and ratios.

    ``settings`` gives device, precision, compile, batch size and workers, and, when its
    ``slices`` is a number, the sampled run each repeat adds (the pipeline rate is every slice's);
    ``limit`` keeps a seeded random subset of that many images (``quick``: 64, one repeat).
    """
    if quick:
        limit = min(limit or QUICK_IMAGES, QUICK_IMAGES)
        repeats = 1
    load_before = os.getloadavg()
    probe_before = speed_probe_gflops()
    # the recipe runs fp32: how much faster bf16 products are here bounds the ratio to it
    fp32_probe = probe_before if probe_dtype() == "float32" else speed_probe_gflops(dtype="float32")
    files = _image_files(Path(corpus), limit, seed)
    log(f"{len(files)} images; loading {model}")
    calibration = calibration_of(file_images(files), []) if needs_calibration(settings) else None
    encoder = encoder_from_settings(settings, model, calibration=calibration)
    for path in files:  # into the page cache, for every measurement alike
        path.read_bytes()

    log("decoding and preprocessing every image (single thread)")
    prepared, decode_ms = _prepare_all(encoder, files)
    pipeline_runs: list[dict[str, Any]] = []
    sampled_runs: list[dict[str, Any]] = []
    every_slice = settings.replace(slices="all")
    model_runs: list[float] = []
    reference_runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="medsearch-bench-") as tmp:
        corpus_dir = Path(tmp) / "corpus"
        corpus_dir.mkdir()
        for number, path in enumerate(files):
            (corpus_dir / f"{number:06d}_{path.name}").symlink_to(path.resolve())
        warm = _warm_up(encoder, files, settings)
        # in turn, so a slow spell of a shared machine hits all three alike
        for run in range(repeats):
            log(f"pipeline run {run + 1}/{repeats}")
            pipeline_runs.append(_pipeline_rate(encoder, corpus_dir, every_slice, Path(tmp), run))
            if settings.slices_per_series is not None:
                log(f"pipeline run {run + 1}/{repeats} with --slices {settings.slices}")
                sampled = _pipeline_rate(encoder, corpus_dir, settings, Path(tmp), f"{run}-sampled")
                sampled_runs.append(sampled)
            log(f"model-only run {run + 1}/{repeats}")
            model_runs.append(_model_only_rate(encoder, prepared, settings.batch_size))
            log(f"model card recipe (one image at a time, fp32) {run + 1}/{repeats}")
            reference_runs.append(
                model_card_rate_in_child(model, files[run::repeats], settings.device)
            )

    pipeline_rates = [r["images_per_s"] for r in pipeline_runs]
    reference_rates = [r["images_per_s"] for r in reference_runs]
    pipeline, model_only, reference = max(pipeline_rates), max(model_runs), max(reference_rates)
    result: dict[str, Any] = {
        "images": len(files),
        "model": encoder.model_ref,
        "family": encoder.family,
        "random_weights": encoder.random_weights,
        "device": str(encoder.device),
        "runtime": settings.runtime,
        "precision": encoder.precision,
        "fidelity": encoder.fidelity_record(),
        "compiled": settings.compile,
        "batch_size": settings.batch_size,
        "workers": settings.workers,
        "repeats": repeats,
        "images_per_s": round(pipeline, 3),
        "model_only_images_per_s": round(model_only, 3),
        "reference_images_per_s": round(reference, 3),
        "pipeline_vs_model_only": round(pipeline / model_only, 3),
        "pipeline_vs_reference": round(pipeline / reference, 2),
        "pipeline_vs_model_only_per_run": _ratios(pipeline_rates, model_runs, 3),
        "pipeline_vs_reference_per_run": _ratios(pipeline_rates, reference_rates, 2),
        "images_per_s_median": round(float(np.median(pipeline_rates)), 3),
        "model_only_images_per_s_median": round(float(np.median(model_runs)), 3),
        "pipeline_runs": pipeline_runs,
        "model_only_runs": [round(r, 3) for r in model_runs],
        "reference_runs": reference_runs,
        "reference_ms_per_image": round(1000 / reference, 2),
        "decode_preprocess_ms_per_image": decode_ms,
        "warm_up_seconds": warm,
        "formats": _format_counts(files),
        "peak_rss_mb": peak_rss_mb(),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "speed_probe_gflops": [probe_before, speed_probe_gflops()],
        "fp32_probe_gflops": fp32_probe,
        "machine": machine_facts(),
    }
    if sampled_runs:
        result["slices"] = _slices_comparison(settings.slices, pipeline_runs, sampled_runs)
    return result


def _slices_comparison(
    slices: str, every_slice: list[dict[str, Any]], sampled: list[dict[str, Any]]
) -> dict[str, Any]:
    """The fastest run with every slice against the fastest with ``slices`` per series."""
    whole = min(every_slice, key=lambda run: run["seconds"])
    fewer = min(sampled, key=lambda run: run["seconds"])
    return {
        "per_series": int(slices),
        "all": whole,
        "sampled": fewer,
        "sampled_runs": sampled,
        "wall_time_ratio": round(fewer["seconds"] / whole["seconds"], 3),
        "embedded_ratio": round(fewer["embedded"] / max(whole["embedded"], 1), 3),
    }


def _image_files(corpus: Path, limit: int | None, seed: int) -> list[Path]:
    if not corpus.is_dir():
        raise InvalidRequestError(f"corpus folder {corpus} does not exist")
    files = [f.path for f in scan_corpus(corpus) if sniff_file(f.path) is not None]
    if not files:
        raise InvalidRequestError(f"{corpus} holds no image files")
    if limit is not None and limit < len(files):
        rng = np.random.default_rng(seed)
        keep = sorted(rng.choice(len(files), size=limit, replace=False).tolist())
        files = [files[i] for i in keep]
    return files


def _format_counts(files: list[Path]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in files:
        fmt = sniff_file(path) or "other"
        counts[fmt] = counts.get(fmt, 0) + 1
    return dict(sorted(counts.items()))


def _warm_up(encoder: Encoder, files: list[Path], settings: Settings) -> float:
    """One untimed batch through the model."""
    started = time.perf_counter()
    encoder.encode_prepared(
        [encoder.prepare(load_image(p).image) for p in files[: settings.batch_size]]
    )
    return round(time.perf_counter() - started, 2)


def _pipeline_rate(
    encoder: Encoder, corpus_dir: Path, settings: Settings, tmp: Path, run: int | str
) -> dict[str, Any]:
    index_dir = tmp / f"index-{run}"
    report = index_corpus(settings.replace(index_dir=index_dir), corpus_dir, encoder=encoder)
    if report.failed:
        first = report.failed[0]
        raise InvalidRequestError(
            f"{len(report.failed)} benchmark images failed to index, e.g. {first['path']}: "
            f"{first.get('message', first['reason'])}"
        )
    return {
        "embedded": report.embedded,
        "slices_left_out": report.slices_left_out,
        "seconds": round(report.seconds, 3),
        "images_per_s": round(report.images_per_s, 3),
    }


def _prepare_all(encoder: Encoder, files: list[Path]) -> tuple[list[np.ndarray], float]:
    """Every image decoded and prepared (resized, cropped), and the mean time for it (ms).

    No torch here: a torch call on this thread would start a CPU thread pool beside the
    model's and slow the model down in every measurement after it.
    """
    started = time.perf_counter()
    prepared = [encoder.prepare(load_image(p, draft_size=encoder.draft_size).image) for p in files]
    elapsed = time.perf_counter() - started
    return prepared, round(elapsed * 1000 / len(files), 2)


def _model_only_rate(encoder: Encoder, prepared: list[np.ndarray], batch_size: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(prepared), batch_size):
        encoder.encode_prepared(prepared[start : start + batch_size])
    return len(prepared) / (time.perf_counter() - started)


def _ratios(numerators: list[float], denominators: list[float], digits: int) -> list[float]:
    return [round(a / b, digits) for a, b in zip(numerators, denominators, strict=True)]
