"""ANN indexes against brute force on seeded synthetic unit vectors, and the publish step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer import ann
from indexer.settings import Settings
from indexer.storage.folder import IndexFolder, new_info
from indexer.storage.info import EncoderRecord
from indexer.storage.publish import publish
from indexer.storage.vectors import VectorFile
from indexer.storage.verify import check_recall, verify_index

DIM = 32


def clustered_vectors(n: int, seed: int = 0, clusters: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    points = centres[rng.integers(0, clusters, n)] + 0.5 * rng.standard_normal((n, DIM))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("block", [65_536, 700, 7])
def test_exact_top_k_matches_numpy_sort(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(ann.exact, "EXACT_BLOCK", block)
    vectors = clustered_vectors(3000)
    ids = np.arange(1, 3001, dtype=np.int64) * 3
    queries = clustered_vectors(7, seed=1)
    scores, found = ann.exact_top_k(vectors, ids, queries, 10)
    full = queries @ vectors.T
    order = np.argsort(-full, axis=1)[:, :10]
    np.testing.assert_array_equal(found, ids[order])
    np.testing.assert_allclose(scores, np.take_along_axis(full, order, axis=1), rtol=1e-6)


def test_flat_equals_brute_force_with_and_without_selector() -> None:
    vectors = clustered_vectors(2000)
    ids = np.arange(10, 2010, dtype=np.int64)
    index = ann.build("flat", DIM, ids, vectors)
    queries = clustered_vectors(5, seed=2)
    scores, found = index.search(queries, 10)
    truth_scores, truth = ann.exact_top_k(vectors, ids, queries, 10)
    np.testing.assert_array_equal(found, truth)
    np.testing.assert_allclose(scores, truth_scores, rtol=1e-5)
    allowed = ids[::37]
    _, found = index.search(queries, 10, allowed)
    _, truth = ann.exact_top_k(vectors[::37], allowed, queries, 10)
    np.testing.assert_array_equal(found, truth)


@pytest.mark.parametrize(
    "allowed",
    [
        np.arange(10, 2010, 2, dtype=np.int64),  # half of the ids: a bitmap
        np.array([17, 1999], dtype=np.int64),  # two far apart: a batch of ids
        np.array([15, 16, 23, 24], dtype=np.int64),  # byte boundaries of the bitmap
    ],
)
def test_selectors_admit_exactly_the_allowed_ids(allowed: np.ndarray) -> None:
    selector = ann.id_selector(allowed)
    admitted = [i for i in range(2020) if selector.is_member(i)]
    assert admitted == allowed.tolist()
    vectors = clustered_vectors(2000)
    ids = np.arange(10, 2010, dtype=np.int64)
    index = ann.build("flat", DIM, ids, vectors)
    queries = clustered_vectors(5, seed=2)
    _, found = index.search(queries, 10, allowed)
    _, truth = ann.exact_top_k(vectors[allowed - 10], allowed, queries, 10)
    np.testing.assert_array_equal(found[:, : len(allowed)], truth)


def test_a_changed_allowed_array_is_never_answered_from_an_older_selector() -> None:
    vectors = clustered_vectors(1000)
    ids = np.arange(1, 1001, dtype=np.int64)
    index = ann.build("flat", DIM, ids, vectors)
    query = clustered_vectors(1, seed=3)
    cached = np.arange(1, 1001, 3, dtype=np.int64)
    cached.flags.writeable = False  # as the store's cached filter results are
    changing = np.arange(1, 500, 2, dtype=np.int64)
    for allowed in (cached, cached, changing, changing):
        _, found = index.search(query, 10, allowed)
        _, truth = ann.exact_top_k(vectors[allowed - 1], allowed, query, 10)
        np.testing.assert_array_equal(found, truth)
        changing += 1  # the same writable array now holds other ids


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes_reach_the_recall_target(kind: str) -> None:
    vectors = clustered_vectors(20_000)
    ids = np.arange(1, 20_001, dtype=np.int64)
    index = ann.build(kind, DIM, ids, vectors)
    assert index.kind == kind and index.search_param > 0
    queries = ann.sample_queries(vectors, 200, seed=5)
    assert ann.recall_at_k(index, vectors, ids, queries) >= 0.97
    assert np.array_equal(index.ids(), ids)


def test_auto_stays_exact_for_small_corpora() -> None:
    roomy = 1 << 40
    assert ann.choose_index_type("auto", 1000, DIM, roomy) == "flat"
    assert ann.choose_index_type("auto", ann.AUTO_FLAT_MAX + 1, DIM, roomy) == "ivf"
    assert ann.choose_index_type("hnsw", 10, DIM, roomy) == "hnsw"


def test_removal_keeps_the_rest() -> None:
    vectors = clustered_vectors(500)
    ids = np.arange(1, 501, dtype=np.int64)
    for kind in ("flat", "ivf"):
        index = ann.build(kind, DIM, ids, vectors)
        index.remove(ids[:100])
        assert np.array_equal(index.ids(), ids[100:])


def _synthetic_index(path: Path, n: int, index_type: str) -> IndexFolder:
    folder = IndexFolder(path)
    path.mkdir()
    encoder = EncoderRecord(
        name="synthetic", model="none", fingerprint="x", dim=DIM, random_weights=True
    )
    info = new_info(encoder, path, index_type)
    store = folder.open_store(create=True)
    rows: list[dict[str, Any]] = [
        dict(
            path=f"s/{i}.png",
            sha256=f"{i:064x}",
            size=1,
            mtime=0.0,
            width=1,
            height=1,
            format="png",
            modality=None,
            caption=None,
            extra={},
        )
        for i in range(n)
    ]
    with store.writer() as w:
        ids = w.add_images(rows)
        folder.vector_file(DIM).write(ids, clustered_vectors(n))
    publish(folder, store, info, index_type)
    store.close()
    return folder


@pytest.mark.parametrize("index_type", ann.INDEX_TYPES)
def test_published_index_verifies_and_reports_recall(tmp_path: Path, index_type: str) -> None:
    folder = _synthetic_index(tmp_path / "idx", 5000, index_type)
    assert verify_index(folder.path) == []
    measured = check_recall(folder.path)
    assert measured["index_type"] == index_type
    assert measured["recall_at_k"] >= (1.0 if index_type == "flat" else 0.97)


@pytest.mark.parametrize("index_type", ["ivf", "ivfsq", "ivfpq"])
def test_a_trained_index_is_updated_in_place_until_the_corpus_outgrows_it(
    tmp_path: Path, index_type: str
) -> None:
    folder = _synthetic_index(tmp_path / "idx", 3000, index_type)
    store = folder.open_store()
    try:
        with store.writer() as w:
            w.delete_images([1, 2, 3])
        info = publish(folder, store, folder.read_info(), index_type)
        assert (info.count, info.trained_count, info.index_type) == (2997, 3000, index_type)
        assert verify_index(folder.path) == []
        assert check_recall(folder.path)["recall_at_k"] >= 0.95
    finally:
        store.close()


def test_verify_reports_a_stale_ann_index(tmp_path: Path) -> None:
    folder = _synthetic_index(tmp_path / "idx", 300, "flat")
    store = folder.open_store()
    with store.writer() as w:
        w.delete_images([1, 2])
    store.close()
    problems = verify_index(folder.path)
    assert any("in the ANN index but not in the database" in p for p in problems)


@pytest.mark.parametrize("kind", ann.INDEX_TYPES)
def test_an_index_built_in_chunks_from_disk_equals_one_built_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    vectors = clustered_vectors(3000)
    file = VectorFile(tmp_path / "vectors.f16", DIM)
    file.write(np.arange(1, 3001), vectors)
    ids = np.arange(1, 3001, dtype=np.int64)
    ids = ids[ids % 7 != 0]  # gaps, as deleted images leave
    lazy = file.rows_of(ids)
    np.testing.assert_array_equal(lazy[100:110], file.read(ids[100:110]))
    np.testing.assert_array_equal(lazy[np.array([9, 2])], file.read(ids[[9, 2]]))
    assert lazy[0:0].shape == (0, DIM)

    in_memory = ann.build(kind, DIM, ids, file.read(ids), table=file.memmap())
    monkeypatch.setattr(ann.base, "ADD_CHUNK", 500)  # several FAISS add calls
    chunked = ann.build(kind, DIM, ids, lazy)
    assert chunked.ntotal == len(ids) and chunked.search_param == in_memory.search_param
    np.testing.assert_array_equal(chunked.ids(), ids)
    queries = clustered_vectors(20, seed=5)
    if kind == "hnsw":  # the graph depends on how insertions are batched: compare recall
        recall = ann.recall_at_k(chunked, lazy, ids, queries)
        assert recall >= 0.95
        assert abs(recall - ann.recall_at_k(in_memory, lazy, ids, queries)) <= 0.03
    else:
        found = chunked.search(queries, 10)[1]
        np.testing.assert_array_equal(found, in_memory.search(queries, 10)[1])


def test_publish_without_a_memory_budget_follows_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library caller that leaves ``memory`` out gets MEDSEARCH_INDEX_MEMORY, as the CLI does."""
    n = 10_000
    monkeypatch.setenv("MEDSEARCH_INDEX_MEMORY", "1M")  # less than an exact index of n takes
    folder = _synthetic_index(tmp_path / "idx", n, "auto")
    memory = Settings.from_env().index_memory
    assert ann.estimate_bytes("flat", n, DIM, memory=None) > memory
    expected = ann.choose_index_type("auto", n, DIM, memory)
    assert expected != "flat"
    assert folder.read_info().index_type == expected


@pytest.mark.parametrize("kind", ann.INDEX_TYPES)
def test_ids_scoring_at_least_a_cut_off_equal_brute_force(kind: str) -> None:
    vectors = clustered_vectors(3000)
    ids = np.arange(5, 3005, dtype=np.int64)
    index = ann.build(kind, DIM, ids, vectors, table=np.vstack([np.zeros((4, DIM)), vectors]))
    assert index.family.exact_range == (kind in ("flat", "ivf"))
    query = clustered_vectors(1, seed=3)[0]
    scores = vectors @ query
    ordered = np.sort(scores)[::-1]
    for rank in (1, 40, 900):
        floor = float((ordered[rank - 1] + ordered[rank]) / 2)
        truth = ids[scores >= floor]
        np.testing.assert_array_equal(ann.ids_scoring_at_least(vectors, ids, query, floor), truth)
        if index.family.exact_range:
            np.testing.assert_array_equal(index.ids_scoring_at_least(query, floor), truth)
    if not index.family.exact_range:
        with pytest.raises(NotImplementedError):
            index.ids_scoring_at_least(query, 0.5)
        return
    # a score equal to the cut-off is kept, as a search's min_score keeps it
    best, found = index.search(query[None, :], 1)
    assert found[0, 0] in index.ids_scoring_at_least(query, float(best[0, 0]))


def test_a_cut_off_beyond_any_float32_keeps_all_or_nothing() -> None:
    vectors = clustered_vectors(50)
    ids = np.arange(1, 51, dtype=np.int64)
    index = ann.build("flat", DIM, ids, vectors)
    query = vectors[0]
    np.testing.assert_array_equal(index.ids_scoring_at_least(query, -1e308), ids)
    assert len(index.ids_scoring_at_least(query, 1e308)) == 0
    np.testing.assert_array_equal(ann.ids_scoring_at_least(vectors, ids, query, -1e308), ids)
    assert len(ann.ids_scoring_at_least(vectors, ids, query, 1e308)) == 0
