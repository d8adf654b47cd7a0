"""The null distribution of scores: measured on publish from real queries, shown by info,
checked like every published file, and absent from an older index without breaking it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.encoders import Encoder
from indexer.errors import InvalidRequestError
from indexer.indexing.null_queries import OFF_TOPIC_PHRASES, null_queries_of, synthetic_images
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.storage.folder import NULL_SCORES_FILE, IndexFolder
from indexer.storage.null_scores import NULL_TOP_K, RANDOM_QUERIES, random_queries
from indexer.storage.publish import publish
from indexer.storage.verify import verify_index
from tests.support.helpers import SAMPLE_COUNT, SAMPLE_DIR, run_cli, tiny_model_args


def _stored(index_dir: Path) -> dict:
    return json.loads((index_dir / NULL_SCORES_FILE).read_text())


def _all_vectors(index_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    folder = IndexFolder(index_dir)
    info = folder.read_info()
    with folder.open_store() as store:
        ids = store.ids()
    return ids, folder.vector_file(info.dim).read(ids).astype(np.float64)


def _brute_force_top(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """Every query's ``k`` best cosines against every stored vector, pooled and sorted."""
    scores = queries.astype(np.float64) @ vectors.T
    return np.sort(np.sort(scores, axis=1)[:, ::-1][:, :k].ravel())


def test_publish_records_the_top_scores_of_unrelated_queries(
    sample_index_dir: Path, tiny_encoder: Encoder
) -> None:
    stored = _stored(sample_index_dir)
    assert stored["count"] == SAMPLE_COUNT
    _, vectors = _all_vectors(sample_index_dir)
    text, image = null_queries_of(tiny_encoder)
    expected = {
        "text": (len(OFF_TOPIC_PHRASES), text.vectors),
        "image": (len(synthetic_images()), image.vectors),
        "random": (RANDOM_QUERIES, random_queries(vectors.shape[1]).vectors),
    }
    assert set(stored["samples"]) == set(expected)
    for kind, (queries, vectors_of_kind) in expected.items():
        sample = stored["samples"][kind]
        assert (sample["queries"], sample["k"]) == (queries, NULL_TOP_K)
        assert str(queries) in sample["method"]
        truth = _brute_force_top(vectors_of_kind, vectors, NULL_TOP_K)
        np.testing.assert_allclose(sample["scores"], truth, atol=2e-6)
    info = IndexFolder(sample_index_dir).read_info()
    assert info.checksums[NULL_SCORES_FILE].startswith("sha256:")


def test_info_shows_the_null_distribution(sample_index_dir: Path) -> None:
    shown = json.loads(run_cli("info", sample_index_dir, "--json"))["null_scores"]
    stored = _stored(sample_index_dir)
    assert shown["count"] == SAMPLE_COUNT
    for kind, sample in stored["samples"].items():
        summary = shown["samples"][kind]
        assert summary["scores"] == len(sample["scores"]) == sample["queries"] * NULL_TOP_K
        assert summary["mean"] == pytest.approx(np.mean(sample["scores"]), abs=1e-6)
        assert summary["sd"] == pytest.approx(np.std(sample["scores"]), abs=1e-6)
        assert summary["method"] == sample["method"]
    text = run_cli("info", sample_index_dir)
    assert "null       scores unrelated queries get on 32 images" in text
    assert f"top-{NULL_TOP_K} of {len(OFF_TOPIC_PHRASES)} queries" in text
    assert "off-topic phrases" in text and "random unit vectors" in text


@pytest.fixture()
def old_index(sample_index_dir: Path, tmp_path: Path) -> Path:
    """A copy of the sample index as MedSearch published it before null distributions."""
    copy = tmp_path / "old"
    shutil.copytree(sample_index_dir, copy)
    folder = IndexFolder(copy)
    info = folder.read_info()
    checksums = {k: v for k, v in info.checksums.items() if k != NULL_SCORES_FILE}
    (copy / NULL_SCORES_FILE).unlink()
    data = info.to_json()
    data["checksums"] = checksums
    folder.info_path.write_text(json.dumps(data))
    return copy


def test_an_older_index_searches_without_z_and_refuses_min_z(
    old_index: Path, tiny_encoder: Encoder
) -> None:
    assert verify_index(old_index, deep=True) == []
    settings = Settings(index_dir=old_index, device="cpu", precision="fp32")
    retriever = Retriever.open(settings, encoder=tiny_encoder)
    try:
        result = retriever.search(text="chest x-ray", k=5)
        assert len(result.hits) == 5
        assert all(hit.z is None and hit.percentile is None for hit in result.hits)
        assert result.to_dict()["results"][0]["z"] is None
        with pytest.raises(InvalidRequestError, match="min_z needs the index's null"):
            retriever.search(text="chest x-ray", min_z=1.0)
        # a cut-off relative to the top needs no null
        kept = retriever.search(text="chest x-ray", k=SAMPLE_COUNT, min_relative=1.0)
        assert [hit.id for hit in kept.hits] == [result.hits[0].id]
    finally:
        retriever.close()
    assert "none recorded" in run_cli("info", old_index)
    assert json.loads(run_cli("info", old_index, "--json"))["null_scores"] is None


def test_the_next_run_records_it_on_an_older_index(
    old_index: Path, tiny_model_dir: Path, sample_index_dir: Path
) -> None:
    before = IndexFolder(old_index).read_info().generation
    run_cli(
        "index",
        SAMPLE_DIR,
        "--index",
        old_index,
        "--metadata",
        SAMPLE_DIR / "metadata.csv",
        *tiny_model_args(tiny_model_dir),
    )
    info = IndexFolder(old_index).read_info()
    assert info.generation == before + 1
    assert _stored(old_index) == _stored(sample_index_dir)
    # nothing changed since: the next run publishes nothing new
    run_cli("index", SAMPLE_DIR, "--index", old_index, *tiny_model_args(tiny_model_dir))
    assert IndexFolder(old_index).read_info().generation == info.generation


def test_publishing_without_the_model_records_the_random_null(old_index: Path) -> None:
    folder = IndexFolder(old_index)
    with folder.open_store() as store:
        info = publish(folder, store, folder.read_info())
    assert NULL_SCORES_FILE in info.checksums
    assert set(_stored(old_index)["samples"]) == {"random"}


def test_a_damaged_null_distribution_is_found(old_index: Path, sample_index_dir: Path) -> None:
    shutil.copy(sample_index_dir / NULL_SCORES_FILE, old_index / NULL_SCORES_FILE)
    folder = IndexFolder(old_index)
    data = json.loads(folder.info_path.read_text())
    data["checksums"][NULL_SCORES_FILE] = (
        IndexFolder(sample_index_dir).read_info().checksums[NULL_SCORES_FILE]
    )
    folder.info_path.write_text(json.dumps(data))
    assert verify_index(old_index, deep=True) == []
    content = (old_index / NULL_SCORES_FILE).read_bytes()
    (old_index / NULL_SCORES_FILE).write_bytes(content.replace(b'"k": 10', b'"k": 11'))
    problems = verify_index(old_index, deep=True)
    assert any(NULL_SCORES_FILE in problem and "checksum" in problem for problem in problems)
