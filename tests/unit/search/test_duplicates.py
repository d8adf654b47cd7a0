"""Near-duplicate clusters, leakage counts and the adaptive threshold, against brute force on
the sample corpus with planted copies (resized, re-encoded, cropped, byte copies, a DICOM
written with another window)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.search import duplicates
from indexer.search.duplicate_finder import DuplicateFinder
from indexer.search.duplicate_threshold import CACHE_FILE, CLOSER_BY, HIGHEST, LOWEST
from indexer.search.duplicates import IndexedVectors, near_pairs
from indexer.storage.folder import IndexFolder
from indexer.storage.metadata_db import Store
from tests.support.helpers import run_cli
from tests.support.planted_duplicates import (
    PLANTED,
    brute_force_clusters,
    brute_force_leakage,
    index_planted,
    midpoint_thresholds,
)


@pytest.fixture(scope="module")
def planted_index(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("planted")
    index_dir = index_planted(root, tiny_model_dir)
    return index_dir


@pytest.fixture(scope="module")
def finder(planted_index: Path) -> Iterator[DuplicateFinder]:
    folder = IndexFolder(planted_index)
    with folder.open_store() as store:
        yield DuplicateFinder(folder, store)


def paths_of(store: Store, ids: frozenset[int] | tuple[int, ...]) -> set[str]:
    return {record.path for record in store.get_many(ids).values()}


def test_clusters_equal_brute_force_at_several_thresholds(finder: DuplicateFinder) -> None:
    indexed = finder.indexed()
    assert len(indexed.ids) == 32 + len(PLANTED)
    thresholds = [*midpoint_thresholds(indexed.matrix, 4), finder.threshold().threshold]
    for threshold in thresholds:
        report = finder.report(threshold)
        found = {frozenset(c.ids) for c in report.clusters}
        truth = brute_force_clusters(indexed.ids, indexed.matrix, indexed.checksums, threshold)
        assert found == truth, threshold
        assert report.method == "exact"
        sizes = [len(c.ids) for c in report.clusters]
        assert sizes == sorted(sizes, reverse=True)
        for cluster in report.clusters:
            assert cluster.loosest <= cluster.closest


def test_exact_copies_cluster_whatever_the_threshold(finder: DuplicateFinder) -> None:
    report = finder.report(1.0)
    [cluster] = [c for c in report.clusters if c.exact_copies]
    assert paths_of(finder.store, cluster.ids) == {
        "images/cxr_04.jpg",
        "planted/cxr_04_copy.jpg",
        "planted/again/cxr_04_copy.jpg",
    }
    assert cluster.exact_copies == (cluster.ids,)


def test_leakage_across_split_equals_brute_force(finder: DuplicateFinder) -> None:
    indexed = finder.indexed()
    ids, values = finder.store.field_values("split")
    split = dict(zip(ids.tolist(), values, strict=True))
    for threshold in [*midpoint_thresholds(indexed.matrix, 3), 1.0]:
        report = finder.report(threshold, "split")
        truth = brute_force_clusters(indexed.ids, indexed.matrix, indexed.checksums, threshold)
        spanning = {c for c in truth if len({split.get(i) for i in c} - {None}) > 1}
        assert {frozenset(c.ids) for c in report.clusters} == spanning
        expected = brute_force_leakage(spanning, split)
        assert {
            (str(p.first), str(p.second)): (p.clusters, p.images) for p in report.leakage
        } == expected
    # the byte copies of a train image sit in test: leakage at any threshold
    assert finder.report(1.0, "split").leakage[0].clusters >= 1


def test_adaptive_threshold_follows_the_rule_and_is_cached(
    finder: DuplicateFinder, planted_index: Path
) -> None:
    indexed = finder.indexed()
    scores = indexed.matrix.astype(np.float64) @ indexed.matrix.astype(np.float64).T
    same = np.asarray(indexed.checksums)[:, None] == np.asarray(indexed.checksums)[None, :]
    scores[same] = -np.inf
    median = float(np.median(scores.max(axis=1)))
    expected = min(max(1 - (1 - median) / CLOSER_BY, LOWEST), HIGHEST)
    measured = finder.threshold()
    assert measured.threshold == pytest.approx(expected, abs=1e-5)
    assert measured.sample == len(indexed.ids)
    cached = json.loads((planted_index / CACHE_FILE).read_text())
    assert cached["threshold"] == measured.threshold
    assert cached["generation"] == indexed.generation
    assert finder.report().threshold_rule == "adaptive"
    assert finder.report().threshold == measured.threshold


def test_pairs_within_lists_match_exact_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((3000, 64)).astype(np.float32)
    # a near copy of every tenth vector
    copies = base[::10] + 0.05 * rng.standard_normal((300, 64)).astype(np.float32)
    matrix = np.concatenate([base, copies])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    exact = set(zip(*(a.tolist() for a in near_pairs(matrix, 0.95)[:2]), strict=True))
    monkeypatch.setattr(duplicates, "EXACT_MAX", 100)
    found = set(zip(*(a.tolist() for a in near_pairs(matrix, 0.95)[:2]), strict=True))
    assert len(exact) >= 300
    assert found <= exact
    assert len(found) >= 0.99 * len(exact)


def test_indexed_vectors_are_the_published_rows(finder: DuplicateFinder) -> None:
    indexed = finder.indexed()
    info = finder.folder.read_info()
    again = IndexedVectors.read(finder.folder, finder.store, info)
    assert np.array_equal(again.matrix, indexed.matrix)
    stored = finder.folder.vector_file(info.dim).read(indexed.ids)
    assert np.allclose(stored, indexed.matrix)


def test_duplicates_command_outputs(planted_index: Path, tmp_path: Path) -> None:
    data = json.loads(run_cli("duplicates", planted_index, "--json", "--threshold", "1.0"))
    assert data["cluster_count"] >= 1
    assert data["clusters"][0]["exact_copies"] == [data["clusters"][0]["ids"]]
    assert sorted(data["clusters"][0]["paths"]) == [
        "images/cxr_04.jpg",
        "planted/again/cxr_04_copy.jpg",
        "planted/cxr_04_copy.jpg",
    ]
    text = run_cli(
        "duplicates", planted_index, "--across", "split", "--threshold", "1.0",
        "--csv", tmp_path / "d.csv", "--html", tmp_path / "d.html",
    )  # fmt: skip
    assert "spanning several values of split" in text
    assert f"test / train: {data['cluster_count']} clusters" in text
    with (tmp_path / "d.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["path"] for row in rows} == {p for c in data["clusters"] for p in c["paths"]}
    assert "planted/cxr_04_copy.jpg" in (tmp_path / "d.html").read_text()
    adaptive = json.loads(run_cli("duplicates", planted_index, "--json"))
    info = json.loads(run_cli("info", planted_index, "--json"))
    assert adaptive["threshold"] == info["duplicate_threshold"]["threshold"]
    assert adaptive["threshold_rule"] == "adaptive"


def test_duplicates_command_refuses_an_unknown_field(planted_index: Path) -> None:
    result = CliRunner().invoke(cli, ["duplicates", str(planted_index), "--across", "nope"])
    assert result.exit_code == 2
    assert "unknown group field 'nope'" in result.output
