"""Smoke tests of ``medsearch bench``: every subcommand runs on the tiny model and reports sane
figures. No timing is asserted: these machines are shared and their speed varies."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from indexer.cli import cli
from indexer.encoders import Encoder
from indexer.imaging.decode import decode_image_bytes
from indexer.storage.metadata_db import Store
from medsearch_bench.query_bench import UPLOAD_SIDE, sample_uploads
from medsearch_bench.report import index_lines, query_lines, scale_lines
from medsearch_bench.samples import DEFAULT_SAMPLE_IMAGES
from medsearch_bench.scale_bench import CHUNK, clustered_vectors
from medsearch_bench.scale_serving import FILTERS
from medsearch_bench.stats import summarize_ms
from medsearch_bench.texts import distinct_count, query_texts
from tests.support.helpers import SAMPLE_IMAGES

pytestmark = pytest.mark.first  # minutes: started first (tests/conftest.py)

#: a few quick-to-decode samples covering JPEG, PNG, TIFF and DICOM sources
SOURCES = ("cxr_01.jpg", "cxr_09.jpg", "fundus_02.png", "dcm_ct_small.dcm", "dcm_us_echo.dcm")


def bench_json(*args: str | Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["bench", *map(str, args), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def bench_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("bench-source")
    for name in SOURCES:
        shutil.copyfile(SAMPLE_IMAGES / name, source / name)
    return source


@pytest.fixture(scope="module")
def bench_corpus(tmp_path_factory: pytest.TempPathFactory, bench_source: Path) -> Path:
    source = bench_source
    out = tmp_path_factory.mktemp("bench-corpus") / "corpus"
    summary = bench_json("corpus", out, "--n", "12", "--source", source)
    assert summary["files"] == 12
    assert summary["formats"]["dicom"] == 4
    assert set(summary["formats"]) <= {"dicom", "jpeg", "png"}
    return out


def test_corpus_files_are_distinct_and_seeded(
    bench_corpus: Path, bench_source: Path, tmp_path: Path
) -> None:
    files = sorted(bench_corpus.iterdir())
    assert len(files) == 12
    digests = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert len(digests) == 12
    again = tmp_path / "again"
    bench_json("corpus", again, "--n", "12", "--source", bench_source)
    assert [f.read_bytes() for f in sorted(again.iterdir())] == [f.read_bytes() for f in files]


def bench_index(corpus: Path, model_dir: Path, *options: str | Path) -> dict[str, Any]:
    """``bench index --quick`` of the model on the CPU, with more ``options``."""
    return bench_json(
        "index", "--model", model_dir, "--corpus", corpus, "--device", "cpu", *options, "--quick"
    )


@pytest.fixture(scope="module")
def index_result(bench_corpus: Path, tiny_model_dir: Path) -> dict[str, Any]:
    return bench_index(bench_corpus, tiny_model_dir, "--precision", "fp32")


@pytest.mark.slow
def test_bench_index(index_result: dict[str, Any]) -> None:
    result = index_result
    assert result["images"] == 12
    assert result["precision"] == "fp32"
    for key in ("images_per_s", "model_only_images_per_s", "reference_images_per_s"):
        assert result[key] > 0, key
    assert result["pipeline_runs"][0]["embedded"] == 12
    assert result["pipeline_vs_model_only"] > 0
    assert result["pipeline_vs_reference"] > 0
    assert [run["images"] for run in result["reference_runs"]] == [12]
    assert len(result["pipeline_vs_reference_per_run"]) == len(result["model_only_runs"]) == 1
    assert result["machine"]["cores"] >= 1
    before, after = result["speed_probe_gflops"]
    assert before > 0 and after > 0 and result["fp32_probe_gflops"] > 0


@pytest.mark.slow
def test_bench_index_table(index_result: dict[str, Any]) -> None:
    lines = index_lines(index_result)
    assert lines[0].startswith("12 images, fp32 on cpu")
    header, rule = lines[1], lines[2]
    assert header.startswith("path") and set(rule) <= {"-", " "}
    # columns line up: each cell of the header starts where its rule does
    assert [i for i, c in enumerate(rule) if c == "-" and (i == 0 or rule[i - 1] == " ")] == [
        header.index(name) for name in ("path", "images/s", "ratio of best", "ratio per")
    ]
    for row in ("pipeline (end to end)", "model only", "model card recipe", "decode + preprocess"):
        assert any(line.startswith(row) for line in lines), row
    recipe = next(line for line in lines if line.startswith("model card recipe"))
    assert f"pipeline = {index_result['pipeline_vs_reference']} x" in recipe
    assert any(line.startswith("machine speed probe") for line in lines)
    assert any(line.startswith("the same product in fp32") for line in lines)


@pytest.mark.slow
def test_bench_scale_then_query(tiny_model_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "scale"
    scale = bench_json(
        "scale", "--n", "5000", "--model", tiny_model_dir, "--out", index_dir, "--quick"
    )
    assert scale["n"] == 5000
    assert scale["index_type"] == "flat"
    assert 0.0 <= scale["recall_at_10"] <= 1.0
    assert 0.0 <= scale["recall_at_10_random_queries"] <= 1.0
    assert scale["search_p50_ms"] > 0
    assert scale["peak_rss_mb"] > 0
    assert (index_dir / "index.faiss").is_file()
    assert scale["index_type_requested"] == "auto"
    assert scale["index_memory_mb"] > 0
    # the served side: a real medsearch serve on the result, every request answered
    assert scale["http_errors"] == 0
    assert scale["serve_rss_mb"] > 0 and scale["serve_peak_rss_mb"] >= scale["serve_rss_mb"]
    split = scale["serve_rss_anon_mb"] + scale["serve_rss_file_mb"]
    assert abs(split - scale["serve_rss_mb"]) <= 0.02 * scale["serve_rss_mb"] + 1
    assert scale["serve_ready_s"] > scale["serve_startup_s"] > 0
    # the timed queries start once every block of the vector file has been checked
    assert scale["serve_checked_s"] >= scale["serve_startup_s"]
    assert scale["http_text_during_check_queries"] >= 0
    for name in ("text", "filter_1pct", "filter_50pct", "facets", "record"):
        assert 0 < scale[f"http_{name}_p50_ms"] <= scale[f"http_{name}_p99_ms"], name
    assert scale["http_filter_1pct_first_ms"] > 0 and scale["http_facets_first_ms"] > 0
    assert any(line.startswith("HTTP text, 1% filter") for line in scale_lines(scale))
    # the synthetic filters select the shares they are named after
    with Store(index_dir / "meta.sqlite") as store:
        assert len(store.ids_matching(FILTERS["1pct"])) == 50
        assert len(store.ids_matching(FILTERS["50pct"])) == 2500

    query = bench_json(
        "query",
        "--index",
        index_dir,
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--clients",
        "4",
        "--duration",
        "1",
        "--source",
        SAMPLE_IMAGES,
        "--quick",
    )
    assert query["count"] == 5000
    for key in ("text_p50_ms", "text_p99_ms", "image_p50_ms", "image_p99_ms"):
        assert query[key] > 0, key
    assert query["text_p50_ms"] <= query["text_p99_ms"]
    assert query["errors"] == 0
    assert query["concurrent_errors"] == 0
    assert query["phases"]["http_text_4"]["n"] > 0
    assert query["phases"]["http_image_4"]["n"] > 0
    assert query["server_rss_mb"] > 0
    assert query["inproc_image_cached_p50_ms"] > 0
    assert query["phases"]["http_image_4"]["distinct_images"] >= 1


def test_image_uploads_are_all_different_model_inputs(tiny_encoder: Encoder) -> None:
    uploads = sample_uploads(20, SAMPLE_IMAGES)  # 8 sources: numbers 0, 8 and 16 share one
    assert len(set(uploads)) == 20
    # what the service's image-query cache keys on must differ for every upload
    prepared = {tiny_encoder.prepare(decode_image_bytes(u).image).tobytes() for u in uploads}
    assert len(prepared) == 20
    assert all(max(Image.open(io.BytesIO(u)).size) == UPLOAD_SIDE for u in uploads)


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_bench_scale_without_model_is_temporary(kind: str) -> None:
    scale = bench_json("scale", "--n", "3000", "--dim", "32", "--index-type", kind, "--quick")
    assert scale["dim"] == 32
    assert scale["out"] is None
    assert scale["encoder"]["name"] == "synthetic"
    assert scale["index_type"] == kind and scale["index_type_requested"] == kind
    assert scale["recall_at_10"] >= 0.95
    assert scale["index_memory_mb"] > 0
    assert "--model" in scale["http_skipped"] and "serve_rss_mb" not in scale
    assert ["HTTP", scale["http_skipped"]] == scale_lines(scale)[-1].split(None, 1)


def test_bench_scale_auto_keeps_to_the_index_memory_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 3,000 vectors of 512 floats: flat, IVF and 8-bit codes all need more than 1 MiB
    monkeypatch.setenv("MEDSEARCH_INDEX_MEMORY", "1M")
    scale = bench_json("scale", "--n", "3000", "--dim", "512", "--quick")
    assert scale["index_type_requested"] == "auto" and scale["index_type"] == "ivfpq"


def test_bench_precision(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # without --images, the samples come from data/sample/images under the current directory
    (tmp_path / DEFAULT_SAMPLE_IMAGES).parent.mkdir(parents=True)
    (tmp_path / DEFAULT_SAMPLE_IMAGES).symlink_to(SAMPLE_IMAGES)
    monkeypatch.chdir(tmp_path)
    result = bench_json("precision", "--model", tiny_model_dir, "--max-images", "4", "--texts", "3")
    assert result["images"] == 4 and result["texts"] == 3
    for key in ("image_cosine_min", "image_cosine_mean", "text_cosine_min", "text_cosine_mean"):
        assert -1.0 <= result[key] <= 1.0 + 1e-6, key


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["corpus", "out"], "--source"),
        (["precision", "--model", "unused"], "--images"),
    ],
)
def test_sample_images_are_looked_for_in_the_current_directory(
    command: list[str], option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["bench", *command])
    assert result.exit_code == 1
    assert "no sample images at data/sample/images" in result.output
    assert f"pass {option} FOLDER" in result.output
    assert not (tmp_path / "out").exists()


def test_clustered_vectors_do_not_depend_on_chunking() -> None:
    whole, labels = clustered_vectors(20, 8, 5, seed=3, start=CHUNK - 10)
    head, _ = clustered_vectors(10, 8, 5, seed=3, start=CHUNK - 10)
    tail, _ = clustered_vectors(10, 8, 5, seed=3, start=CHUNK)
    assert np.array_equal(whole, np.concatenate([head, tail]))
    assert np.allclose(np.linalg.norm(whole, axis=1), 1.0, atol=1e-5)
    assert labels.min() >= 0 and labels.max() < 5


def test_query_texts_are_distinct() -> None:
    texts = query_texts(distinct_count())
    assert len(set(texts)) == distinct_count() >= 5000
    assert query_texts(10, seed=1) == query_texts(10, seed=1)


def test_summarize_ms() -> None:
    summary = summarize_ms([1.0, 2.0, 3.0, 4.0, 100.0])
    assert summary["n"] == 5
    assert summary["p50_ms"] == 3.0
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summarize_ms([])["n"] == 0


@pytest.mark.slow
def test_bench_soak(tiny_model_dir: Path, bench_source: Path) -> None:
    """A minute of mixed traffic while two new versions get published: nothing fails."""
    result = bench_json(
        "soak",
        "--model",
        tiny_model_dir,
        "--source",
        bench_source,
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--duration",
        "60",
        "--window",
        "20",
        "--publish-every",
        "20",
        "--clients",
        "4",
    )
    assert result["errors"] == 0, result["error_examples"]
    assert result["failed_publishes"] == 0, result["publish_runs"]
    assert result["publishes"] >= 1
    assert result["images_after"] > result["images_before"] == len(SOURCES)
    assert [w["start_s"] for w in result["windows"]] == [0, 20, 40]
    for window in result["windows"]:
        assert window["requests"] > 0
        assert 0 < window["p50_ms"] <= window["p99_ms"]
        assert window["rss_mb"] > 0
    assert result["rss_start_mb"] > 0 and result["rss_end_mb"] > 0
    assert set(result["verdicts"]) == {"no_errors", "p99_stable", "rss_stable"}
    assert result["verdicts"]["no_errors"] is True


@pytest.mark.slow
def test_bench_index_int8_reports_runtime_and_fidelity(
    bench_corpus: Path, tiny_model_dir: Path, onnx_cache: Path
) -> None:
    options = ("--runtime", "onnx", "--precision", "int8", "--onnx-cache", onnx_cache)
    result = bench_index(bench_corpus, tiny_model_dir, *options)
    assert (result["runtime"], result["precision"]) == ("onnx", "int8")
    fidelity = result["fidelity"]
    assert float(fidelity["mean_cosine"]) >= 0.995 and float(fidelity["min_cosine"]) >= 0.98
    assert "12 images (fewer than 64" in fidelity["calibration"]
    assert result["pipeline_runs"][0]["embedded"] == 12
    header = index_lines(result)[0]
    assert header.startswith("12 images, int8 on cpu")
    assert f"(onnx runtime); fidelity to fp32: mean cosine {fidelity['mean_cosine']}" in header


@pytest.mark.slow
def test_bench_query_int8_reports_fidelity_beside_the_speed(
    sample_index_dir: Path, onnx_cache: Path
) -> None:
    result = bench_json(
        "query",
        "--index",
        sample_index_dir,
        "--device",
        "cpu",
        *("--runtime", "onnx", "--precision", "int8", "--onnx-cache", onnx_cache),
        *("--clients", "2", "--duration", "0.5", "--quick", "--source", SAMPLE_IMAGES),
    )
    assert (result["runtime"], result["precision"]) == ("onnx", "int8")
    fidelity = result["fidelity"]
    assert float(fidelity["mean_cosine"]) >= 0.995 and float(fidelity["min_cosine"]) >= 0.98
    assert float(fidelity["top10_overlap"]) >= 0.9
    assert result["errors"] == result["concurrent_errors"] == 0
    assert result["concurrent_text_qps"] > 0
    assert 0 < result["concurrent_text_p50_ms"] <= result["concurrent_text_p99_ms"]
    header = query_lines(result)[0]
    assert header.startswith("32 vectors (flat), int8 on cpu")
    assert f"(onnx runtime); fidelity to fp32: mean cosine {fidelity['mean_cosine']}" in header


def test_bench_checkpoint_adds_rows_and_publishes_a_synthetic_index(
    tmp_path: Path, sample_index_dir: Path
) -> None:
    index_dir = tmp_path / "scale"
    bench_json("scale", "--n", "400", "--dim", "8", "--out", index_dir, "--quick")
    result = bench_json("checkpoint", "--index", index_dir, "--rows", "70", "--checkpoints", "2")
    steps = result["checkpoints"]
    assert [step["images_before"] for step in steps] == [400, 470]
    assert all(step["publish_seconds"] >= 0 and step["write_ms_per_batch"] > 0 for step in steps)
    with Store(index_dir / "meta.sqlite") as store:
        assert store.count() == 540
        # the rows it wrote carry the synthetic fields, found through the value codes
        assert len(store.ids_matching(FILTERS["50pct"])) == 270
    assert json.loads((index_dir / "index_info.json").read_text())["count"] == 540
    refused = CliRunner().invoke(cli, ["bench", "checkpoint", "--index", str(sample_index_dir)])
    assert refused.exit_code != 0 and "bench scale --out" in refused.output
