"""Every index type against brute force, the memory-bounded auto choice, and the compressed
types (ivfsq, ivfpq) end to end: re-ranked from the vector file, published, verified, served."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from indexer import ann
from indexer.ann.base import faiss
from indexer.cli import cli
from indexer.encoders import Encoder
from indexer.errors import IndexMemoryError
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.sizes import format_size, parse_size
from indexer.storage.vectors import Rows, VectorFile
from tests.support.helpers import (
    SAMPLE_COUNT,
    SAMPLE_DIR,
    SAMPLE_METADATA,
    run_cli,
    tiny_model_args,
)
from tests.unit.ann.test_ann import DIM, clustered_vectors

N = 8000


def _on_disk(tmp_path: Path, n: int) -> tuple[np.ndarray, Rows]:
    """``n`` seeded clustered vectors in a real vector file, with gaps in the ids."""
    file = VectorFile(tmp_path / "vectors.f16", DIM)
    file.write(np.arange(1, n + 1), clustered_vectors(n))
    ids = np.arange(1, n + 1, dtype=np.int64)
    ids = ids[ids % 11 != 0]  # deleted images leave gaps
    return ids, file.rows_of(ids)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth.tolist(), found.tolist(), strict=True))
    return hits / truth.size


@pytest.mark.parametrize("kind", ann.INDEX_TYPES)
def test_every_index_type_against_brute_force_with_and_without_a_filter(
    tmp_path: Path, kind: str
) -> None:
    ids, rows = _on_disk(tmp_path, N)
    index = ann.build(kind, DIM, ids, rows)
    assert index.kind == kind and index.ntotal == len(ids)
    queries = ann.sample_queries(rows, 100, seed=5)
    vectors = VectorFile(tmp_path / "vectors.f16", DIM)
    allowed = ids[ids % 3 == 0]
    for subset in (None, allowed):
        searched = ids if subset is None else subset
        truth_scores, truth = ann.exact_top_k(vectors.rows_of(searched), searched, queries, 10)
        scores, found = index.search(queries, 10, subset)
        assert np.isin(found, searched).all()
        if kind == "flat":
            np.testing.assert_array_equal(found, truth)
        assert _recall(found, truth) >= 0.95
        if index.family.reranks:
            # re-ranked exactly: each score is the stored vector's inner product with the query
            exact = np.einsum(
                "qd,qkd->qk", queries, vectors.read(found.ravel()).reshape(*found.shape, DIM)
            )
            np.testing.assert_allclose(scores, exact, rtol=1e-5)
            assert (np.diff(scores, axis=1) <= 0).all()


@pytest.mark.parametrize("kind", ["ivfsq", "ivfpq"])
def test_compressed_indexes_are_smaller_and_say_how_small(tmp_path: Path, kind: str) -> None:
    ids, rows = _on_disk(tmp_path, N)
    index = ann.build(kind, DIM, ids, rows)
    assert index.rerank_factor >= ann.RERANK_START and index.search_param > 0
    assert index.memory_bytes == ann.estimate_bytes(kind, len(ids), DIM)
    stored = len(faiss.serialize_index(index.index))
    assert abs(index.memory_bytes - stored) <= 0.2 * stored
    flat = ann.estimate_bytes("ivf", len(ids), DIM)
    assert index.memory_bytes < flat / 2


def test_product_codes_shrink_to_fit_the_budget(tmp_path: Path) -> None:
    ids, rows = _on_disk(tmp_path, N)
    largest = ann.build("ivfpq", DIM, ids, rows)
    assert largest.index.pq.M == 16  # two dimensions per code byte
    budget = ann.estimate_bytes("ivfpq", len(ids), DIM, memory=None) - 1
    smaller = ann.build("ivfpq", DIM, ids, rows, memory=budget)
    assert smaller.index.pq.M == 8
    assert smaller.memory_bytes <= budget
    queries = ann.sample_queries(rows, 100, seed=5)
    assert ann.recall_at_k(smaller, rows, ids, queries) >= 0.95


@pytest.mark.parametrize("kind", ["ivf", "ivfsq", "ivfpq"])
def test_a_tiny_corpus_still_builds_every_trained_type_exactly(tmp_path: Path, kind: str) -> None:
    ids, rows = _on_disk(tmp_path, 20)
    index = ann.build(kind, DIM, ids, rows)
    queries = ann.sample_queries(rows, 10, seed=1)
    truth_scores, truth = ann.exact_top_k(rows, ids, queries, 5)
    scores, found = index.search(queries, 5)
    np.testing.assert_array_equal(found, truth)
    assert ann.choose_index_type(kind, 1, DIM, 1 << 30) == "flat"  # nothing to train on


def test_auto_picks_the_most_exact_type_that_fits_the_budget() -> None:
    n, dim = 1_000_000, 512
    need = {kind: ann.estimate_bytes(kind, n, dim) for kind in ("ivf", "ivfsq", "ivfpq")}
    assert need["ivf"] > need["ivfsq"] > need["ivfpq"]
    assert ann.choose_index_type("auto", n, dim, need["ivf"]) == "ivf"
    assert ann.choose_index_type("auto", n, dim, need["ivf"] - 1) == "ivfsq"
    assert ann.choose_index_type("auto", n, dim, need["ivfsq"] - 1) == "ivfpq"
    # a budget below 64-byte codes still fits smaller ones
    smaller = need["ivfpq"] // 2
    assert ann.choose_index_type("auto", n, dim, smaller) == "ivfpq"
    assert ann.estimate_bytes("ivfpq", n, dim, smaller) <= smaller
    with pytest.raises(IndexMemoryError, match="MEDSEARCH_INDEX_MEMORY"):
        ann.choose_index_type("auto", n, dim, parse_size("8M"))
    # small corpora stay exact while they fit, and go compressed when they do not
    assert ann.choose_index_type("auto", 50_000, dim, parse_size("1G")) == "flat"
    assert ann.choose_index_type("auto", 50_000, dim, parse_size("64M")) == "ivfsq"
    assert ann.choose_index_type("auto", 0, dim, parse_size("1M")) == "flat"
    # an explicit type is what is asked for, whatever the budget
    assert ann.choose_index_type("ivf", n, dim, parse_size("1M")) == "ivf"


def test_sizes_read_as_people_write_them() -> None:
    assert parse_size("512M") == 512 << 20
    assert parse_size("4G") == 4 << 30
    assert parse_size("1.5gib") == 3 << 29
    assert parse_size("2048") == 2048
    assert format_size(4 << 30) == "4G" and format_size(1536 << 20) == "1.5G"
    settings = Settings.from_env({"MEDSEARCH_INDEX_MEMORY": "3G"})
    assert settings.index_memory == 3 << 30
    assert Settings().index_memory > 0


def test_a_wrong_index_memory_exits_with_status_2(tmp_path: Path) -> None:
    args = ["index", str(SAMPLE_DIR), "--index", str(tmp_path / "index")]
    result = CliRunner().invoke(cli, [*args, "--index-memory", "lots"])
    assert result.exit_code == 2 and "not a size such as 512M or 4G" in result.output
    result = CliRunner().invoke(cli, args, env={"MEDSEARCH_INDEX_MEMORY": "-1G"})
    assert result.exit_code == 2
    assert "MEDSEARCH_INDEX_MEMORY='-1G' is not a size" in result.output
    assert not (tmp_path / "index").exists()


def test_a_compressed_index_through_the_cli_verifies_and_is_served(
    tmp_path: Path, tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE_DIR, corpus)
    index_dir = tmp_path / "index"
    model = tiny_model_args(tiny_model_dir)
    common: list[str | Path] = ["--index", index_dir, "--metadata", SAMPLE_METADATA, *model]
    run_cli("index", corpus, *common, "--index-type", "ivfpq", "--index-memory", "64M")
    assert "consistent" in run_cli("verify", index_dir, "--deep")
    shown = run_cli("info", index_dir, "--check-recall", "--json")
    assert '"index_type": "ivfpq"' in shown and '"recall_at_k": 1.0' in shown

    retriever = Retriever.open(Settings(index_dir=index_dir, device="cpu"), encoder=tiny_encoder)
    try:
        assert retriever.info().index_type == "ivfpq"
        query = retriever.vectors_for([3])[0]
        stored = retriever.vectors_for(list(range(1, SAMPLE_COUNT + 1)))
        exact = np.argsort(-(stored @ query), kind="stable")[:10] + 1
        first = retriever.search(vector=query, k=5)
        second = retriever.search(vector=query, k=5, offset=5)
        assert [h.id for h in first.hits + second.hits] == exact.tolist()
        modality = first.hits[0].metadata["modality"]
        filtered = retriever.search(vector=query, k=50, filters={"modality": modality})
        assert filtered.hits and all(h.metadata["modality"] == modality for h in filtered.hits)

        # removing images updates the compressed index in place; the service reloads it
        (corpus / "images" / "cxr_01.jpg").unlink()
        run_cli("index", corpus, *common, "--prune")
        assert retriever.refresh() is True
        assert retriever.info().count == SAMPLE_COUNT - 1
        assert "consistent" in run_cli("verify", index_dir, "--deep")
        hits = retriever.search(vector=query, k=SAMPLE_COUNT).hits
        assert len(hits) == SAMPLE_COUNT - 1
        # a new type asked for is a rebuild, served once published
        run_cli("index", corpus, *common, "--index-type", "ivfsq")
        assert retriever.refresh() is True and retriever.info().index_type == "ivfsq"
        assert retriever.search(vector=query, k=1).hits[0].id == 3
    finally:
        retriever.close()
