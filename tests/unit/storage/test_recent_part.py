"""The recent part of an inverted-lists index: a checkpoint writes the vectors added since
``index.faiss`` was written, not the whole index, and searches give what one index would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer import ann
from indexer.fault_points import FAULT_POINT_VARIABLE
from indexer.search.snapshot import Snapshot
from indexer.storage import publish as publish_module
from indexer.storage.folder import FAISS_FILE, RECENT_FILE, IndexFolder
from indexer.storage.info import IndexInfo
from indexer.storage.metadata_db import Store
from indexer.storage.publish import publish
from indexer.storage.run_publications import RunPublications
from indexer.storage.verify import verify_index
from tests.unit.storage.test_checkpoint_cost import DIM, MEMORY, _append, _new_index

REPO = Path(__file__).resolve().parents[3]


def _unit(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _stat(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def _exact_top(folder: IndexFolder, store: Store, queries: np.ndarray, k: int) -> np.ndarray:
    ids = store.ids()
    scores = folder.vector_file(DIM).rows_of(ids)[:].astype(np.float32) @ queries.T
    return ids[np.argsort(-scores, axis=0, kind="stable")[:k].T]


@pytest.mark.parametrize("kind", ["ivf", "ivfsq", "ivfpq"])
def test_a_recent_part_searches_as_one_index_holding_all(kind: str) -> None:
    vectors = _unit(3000, 1, dim=32)
    ids = np.arange(1, 3001, dtype=np.int64)
    table = vectors.astype(np.float16)
    # trained alike: the recent part shares its main part's training
    whole = ann.build(kind, 32, ids[:2400], vectors[:2400], table=table)
    whole.add(ids[2400:], vectors[2400:])
    parted = ann.build(kind, 32, ids[:2400], vectors[:2400], table=table)
    lists_before = parted.family.ids(parted.index).copy()
    assert parted.start_recent()
    # the main part is left as it was while its trained copy is made
    assert parted.index.ntotal == 2400
    assert (parted.family.ids(parted.index) == lists_before).all()
    parted.add(ids[2400:], vectors[2400:])
    assert (parted.ntotal, parted.recent_count) == (3000, 600)
    assert (parted.ids() == ids).all()
    queries = _unit(25, 2, dim=32)
    allowed = np.arange(1, 3001, 3, dtype=np.int64)
    for filter_ids in (None, allowed):
        got = parted.search(queries, 10, filter_ids)
        want = whole.search(queries, 10, filter_ids)
        assert (got[1] == want[1]).all()
        np.testing.assert_allclose(got[0], want[0], rtol=0, atol=1e-6)
    parted.remove(np.array([5, 2500], dtype=np.int64))
    assert parted.ntotal == 2998 and 2500 not in parted.ids() and 5 not in parted.ids()
    parted.fold_recent()
    assert parted.recent is None and parted.index.ntotal == 2998


def test_types_without_inverted_lists_keep_no_recent_part() -> None:
    vectors = _unit(200, 3)
    for kind in ("flat", "hnsw"):
        index = ann.build(kind, DIM, np.arange(1, 201, dtype=np.int64), vectors)
        assert not index.start_recent() and index.recent is None


def _ivf_run(tmp_path: Path) -> tuple[IndexFolder, Store, IndexInfo, RunPublications]:
    folder, store, info = _new_index(tmp_path / "index")
    _append(folder, store, 1, 400)
    run = RunPublications()
    info = publish(folder, store, info, "ivf", MEMORY, run=run)
    assert RECENT_FILE not in info.checksums
    return folder, store, info, run


def test_a_checkpoint_writes_the_recent_part_not_the_main_file(tmp_path: Path) -> None:
    folder, store, info, run = _ivf_run(tmp_path)
    main = _stat(folder.faiss_path)
    for first in (401, 451):
        _append(folder, store, first, 50)
        info = publish(folder, store, info, "ivf", MEMORY, run=run)
        assert _stat(folder.faiss_path) == main
        assert info.checksums[FAISS_FILE] and info.checksums[RECENT_FILE]
    assert info.count == 500 and info.trained_count == 400
    # another run (a service, verify) reads both parts, checked against their checksums
    loaded = ann.load_published(folder, info)
    assert (loaded.index.ntotal, loaded.recent_count) == (400, 100)
    assert (loaded.ids() == np.arange(1, 501)).all()
    queries = _unit(20, 4)
    loaded.search_param = loaded.family.param_limit(loaded.index)  # every list: exact
    assert (loaded.search(queries, 10)[1] == _exact_top(folder, store, queries, 10)).all()
    assert verify_index(folder.path, deep=True) == []
    # the next run goes on from the published parts
    _append(folder, store, 501, 30)
    info = publish(folder, store, info, "ivf", MEMORY, run=RunPublications())
    assert _stat(folder.faiss_path) == main
    assert ann.load_published(folder, info).recent_count == 130
    store.close()


def test_the_parts_are_folded_when_the_recent_one_grows_or_ids_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, store, info, run = _ivf_run(tmp_path)
    _append(folder, store, 401, 50)
    info = publish(folder, store, info, "ivf", MEMORY, run=run)
    assert folder.recent_path.is_file()
    # past the bound the recent part is folded in: index.faiss is written whole, the recent
    # file goes once the info no longer names it
    monkeypatch.setattr(publish_module, "RECENT_MAX_BYTES", 0)
    _append(folder, store, 451, 50)
    info = publish(folder, store, info, "ivf", MEMORY, run=run)
    assert RECENT_FILE not in info.checksums and not folder.recent_path.exists()
    assert ann.load_published(folder, info).index.ntotal == 500
    monkeypatch.undo()
    _append(folder, store, 501, 20)
    info = publish(folder, store, info, "ivf", MEMORY, run=run)
    assert ann.load_published(folder, info).recent_count == 20
    # a removal changes the main part anyway: the parts become one file again
    with store.writer() as writer:
        writer.delete_images([3, 510])
    info = publish(folder, store, info, "ivf", MEMORY, run=run)
    assert RECENT_FILE not in info.checksums and not folder.recent_path.exists()
    loaded = ann.load_published(folder, info)
    assert loaded.recent is None and loaded.ntotal == 518
    assert verify_index(folder.path, deep=True) == []
    store.close()


def test_a_main_file_changed_during_a_run_is_written_again(tmp_path: Path) -> None:
    folder, store, info, run = _ivf_run(tmp_path)
    folder.faiss_path.write_bytes(b"damaged")
    _append(folder, store, 401, 50)
    info = publish(folder, store, info, "ivf", MEMORY, run=run)
    assert ann.load_published(folder, info).ntotal == 450
    assert verify_index(folder.path, deep=True) == []
    store.close()


def test_killed_after_the_recent_part_is_written_the_next_run_repairs(tmp_path: Path) -> None:
    folder, store, info, run = _ivf_run(tmp_path)
    _append(folder, store, 401, 50)
    info = publish(folder, store, info, "ivf", MEMORY, run=run)
    _append(folder, store, 451, 50)
    store.close()
    published = folder.info_path.read_bytes()
    script = (
        "import sys; from pathlib import Path\n"
        "from indexer.storage.folder import IndexFolder\n"
        "from indexer.storage.publish import publish\n"
        "folder = IndexFolder(Path(sys.argv[1]))\n"
        "store = folder.open_store()\n"
        f"publish(folder, store, folder.read_info(), 'ivf', {MEMORY})\n"
    )
    env = {**os.environ, FAULT_POINT_VARIABLE: "publish:after-recent"}
    killed = subprocess.run(
        [sys.executable, "-c", script, str(folder.path)], env=env, cwd=REPO, check=False
    )
    assert killed.returncode == -9
    assert folder.info_path.read_bytes() == published
    # the recent file on disk is the unpublished one: the version published is damaged there,
    # and the next run builds the index again from the vectors
    assert verify_index(folder.path, deep=True) != []
    store = folder.open_store()
    info = publish(folder, store, folder.read_info(), "ivf", MEMORY, run=RunPublications())
    assert info.count == 500 and verify_index(folder.path, deep=True) == []
    store.close()


def test_a_new_version_with_the_same_main_file_reuses_the_loaded_one(tmp_path: Path) -> None:
    folder, store, info, run = _ivf_run(tmp_path)
    first = Snapshot.load(folder, None)
    _append(folder, store, 401, 50)
    info = publish(folder, store, info, "ivf", MEMORY, run=run)
    second = Snapshot.load(folder, first)
    # only the recent part was read: the main part is the one already in memory
    assert second.index.index is first.index.index
    assert (second.index.recent_count, second.index.ntotal) == (50, 450)
    queries = _unit(10, 5)
    second.index.search_param = second.index.family.param_limit(second.index.index)
    assert (second.index.search(queries, 5)[1] == _exact_top(folder, store, queries, 5)).all()
    # a version whose main file changed is read from the file
    with store.writer() as writer:
        writer.delete_images([7])
    publish(folder, store, info, "ivf", MEMORY, run=run)
    third = Snapshot.load(folder, second)
    assert third.index.index is not second.index.index and third.index.recent is None
    assert third.index.ntotal == 449
    store.close()
