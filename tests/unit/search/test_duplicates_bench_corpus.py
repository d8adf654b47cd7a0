"""Near-duplicates on a corpus made by ``bench corpus`` (re-encoded sample files at many sizes)
with copies planted in it: resized, re-encoded, cropped, byte-identical and a DICOM written
again with its window shifted. ``medsearch duplicates`` and folded search pages are checked
against brute force over the published vectors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest

from indexer.encoders import Encoder
from indexer.search.duplicates import IndexedVectors
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from medsearch_bench.corpus import make_corpus
from tests.support.helpers import SAMPLE_DIR, run_cli, tiny_model_args
from tests.support.planted_duplicates import (
    brute_force_clusters,
    brute_force_fold,
    midpoint_thresholds,
    plant,
)


def _planted_as(corpus: Path) -> dict[str, tuple[str, str]]:
    """Which copies to plant of which files the corpus holds."""
    jpegs = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.jpg"))
    dicoms = sorted(
        p.relative_to(corpus).as_posix()
        for p in corpus.rglob("*.dcm")
        if "WindowWidth" in pydicom.dcmread(p, stop_before_pixels=True)
    )
    return {
        "planted/resized.jpg": ("resized", jpegs[0]),
        "planted/q60.jpg": ("re-encoded", jpegs[1]),
        "planted/cropped.png": ("cropped", jpegs[2]),
        "planted/copy.jpg": ("exact", jpegs[3]),
        "planted/window.dcm": ("window-shifted", dicoms[0]),
    }


@pytest.fixture(scope="module")
def planted_bench_index(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> tuple[Path, dict[str, tuple[str, str]]]:
    root = tmp_path_factory.mktemp("planted-bench")
    corpus = root / "corpus"
    make_corpus(corpus, n=40, seed=11, source=SAMPLE_DIR / "images")
    planted_as = _planted_as(corpus)
    plant(corpus, planted_as)
    run_cli("index", corpus, "--index", root / "index", *tiny_model_args(tiny_model_dir))
    return root / "index", planted_as


@pytest.fixture(scope="module")
def retriever(
    planted_bench_index: tuple[Path, dict[str, tuple[str, str]]], tiny_encoder: Encoder
) -> Iterator[Retriever]:
    settings = Settings(index_dir=planted_bench_index[0], device="cpu", precision="fp32")
    opened = Retriever.open(settings, encoder=tiny_encoder)
    yield opened
    opened.close()


def test_the_duplicates_command_equals_brute_force(
    planted_bench_index: tuple[Path, dict[str, tuple[str, str]]], retriever: Retriever
) -> None:
    index_dir, planted_as = planted_bench_index
    indexed = IndexedVectors.read(retriever.folder, retriever.store, retriever.folder.read_info())
    assert len(indexed.ids) == 40 + len(planted_as)
    for threshold in midpoint_thresholds(indexed.matrix, 4):
        report = json.loads(
            run_cli("duplicates", index_dir, "--json", "--threshold", str(threshold))
        )
        found = {frozenset(cluster["ids"]) for cluster in report["clusters"]}
        truth = brute_force_clusters(indexed.ids, indexed.matrix, indexed.checksums, threshold)
        assert found == truth, threshold
    exact = json.loads(run_cli("duplicates", index_dir, "--json", "--threshold", "1.0"))
    _, original = planted_as["planted/copy.jpg"]
    assert sorted(["planted/copy.jpg", original]) in [
        sorted(cluster["paths"]) for cluster in exact["clusters"]
    ]


def test_folded_pages_equal_brute_force(retriever: Retriever) -> None:
    indexed = IndexedVectors.read(retriever.folder, retriever.store, retriever.folder.read_info())
    every = set(indexed.ids.tolist())
    for text in ["chest X-ray", "CT of the head"]:
        query = retriever.embed_text(text)
        for threshold in [None, *midpoint_thresholds(indexed.matrix, 2)]:
            truth = brute_force_fold(indexed, query, threshold, every)
            result = retriever.search(vector=query, k=12, offset=2, dedupe=threshold)
            page = truth[2:14]
            assert [hit.id for hit in result.hits] == [i for i, _ in page], (text, threshold)
            for hit, (_, copies) in zip(result.hits, page, strict=True):
                assert sorted(i for i, _ in hit.copies) == sorted(copies)
