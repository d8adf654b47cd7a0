"""A checkpoint of a long run does only the work of what changed: the published vectors are read
back once per run, and the ids to add and remove are found by binary search."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from indexer.ann import build, load_published
from indexer.errors import IndexCorruptError
from indexer.id_sets import in_sorted, not_in_sorted
from indexer.storage import block_digests, checksums
from indexer.storage.checksums import PrefixDigest
from indexer.storage.folder import VECTORS_FILE, IndexFolder, new_info
from indexer.storage.info import EncoderRecord, IndexInfo
from indexer.storage.metadata_db import Store
from indexer.storage.null_scores import REMEASURE_SHARE, load_null_scores
from indexer.storage.publish import publish
from indexer.storage.run_publications import RunPublications
from indexer.storage.vector_blocks import BLOCK_BYTES, RECENT_BLOCKS_FILE, VECTOR_BLOCKS_FILE
from indexer.storage.verify import verify_index
from tests.unit.storage.test_corruption import _flip_byte
from tests.unit.storage.test_writer import _row

DIM = 16
MEMORY = 64 << 20


def _append(folder: IndexFolder, store: Store, first: int, n: int) -> None:
    """Rows and vectors of ids ``first`` .. ``first + n - 1``, as the write stage adds them."""
    ids = np.arange(first, first + n, dtype=np.int64)
    vectors = np.random.default_rng(first).standard_normal((n, DIM)).astype(np.float32)
    folder.vector_file(DIM).write(ids, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    with store.writer() as w:
        w.insert_rows([{**_row(int(i)), "id": int(i), "indexed_at": time.time()} for i in ids])


def _new_index(path: Path) -> tuple[IndexFolder, Store, IndexInfo]:
    path.mkdir(parents=True)
    folder = IndexFolder(path)
    record = EncoderRecord(name="synthetic", model="synthetic", fingerprint="synthetic-16", dim=DIM)
    info = new_info(record, path / "corpus", "flat")
    store = folder.open_store(create=True)
    folder.write_info(info)
    return folder, store, info


def _prefix_checksum(folder: IndexFolder, rows: int) -> str:
    digest = PrefixDigest()
    digest.extend_to(folder.vectors_path, rows * DIM * 2)
    return digest.checksum()


def _flip_first_vector_byte(folder: IndexFolder) -> None:
    with open(folder.vectors_path, "r+b") as handle:  # in place: the same file
        first = handle.read(1)[0]
        handle.seek(0)
        handle.write(bytes([first ^ 0xFF]))


def test_a_run_reads_its_published_vectors_once(tmp_path: Path) -> None:
    folder, store, info = _new_index(tmp_path / "index")
    run = RunPublications()
    _append(folder, store, 1, 300)
    info = publish(folder, store, info, "flat", MEMORY, run=run)
    _append(folder, store, 301, 200)
    info = publish(folder, store, info, "flat", MEMORY, run=run)
    assert info.checksums[VECTORS_FILE] == _prefix_checksum(folder, 500)
    assert info.count == 500

    _flip_first_vector_byte(folder)
    _append(folder, store, 501, 50)
    # this run checked and hashed rows 1..500 already: its next checkpoint hashes only 501..550
    after = publish(folder, store, info, "flat", MEMORY, run=run)
    assert after.count == 550 and after.vector_rows == 550
    # the next run (or a caller keeping nothing of its run) reads every published row, and finds it
    _append(folder, store, 551, 10)
    for next_run in (RunPublications(), None):
        with pytest.raises(IndexCorruptError, match="vectors.f16"):
            publish(folder, store, after, "flat", MEMORY, run=next_run)
    store.close()


def test_ids_to_add_and_remove_equal_a_set_difference() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        a = np.unique(rng.integers(1, 400, rng.integers(0, 120)))
        b = np.unique(rng.integers(1, 400, rng.integers(0, 120)))
        assert not_in_sorted(a, b).tolist() == np.setdiff1d(a, b).tolist()
        assert not_in_sorted(b, a).tolist() == np.setdiff1d(b, a).tolist()
        assert (in_sorted(a, b) == np.isin(a, b)).all()


def test_a_run_updates_the_index_it_saved_without_reading_it_back(tmp_path: Path) -> None:
    folder, store, info = _new_index(tmp_path / "index")
    _append(folder, store, 1, 300)
    run = RunPublications()
    info = publish(folder, store, info, "ivf", MEMORY, run=run)
    assert info.trained_count == 300
    _append(folder, store, 301, 100)
    # index.faiss damaged on disk: a run that kept the index it saved updates that one and
    # writes it whole again; another run finds the damage and trains a new one
    (folder.faiss_path).write_bytes(b"damaged")
    updated = publish(folder, store, info, "ivf", MEMORY, run=run)
    assert updated.trained_count == 300 and updated.count == 400
    (folder.faiss_path).write_bytes(b"damaged")
    rebuilt = publish(folder, store, updated, "ivf", MEMORY, run=RunPublications())
    assert rebuilt.trained_count == 400
    loaded = load_published(folder, rebuilt)
    assert loaded.ntotal == 400
    assert sorted(loaded.ids().tolist()) == list(range(1, 401))
    store.close()


def test_null_scores_are_measured_again_only_when_the_count_has_moved(tmp_path: Path) -> None:
    folder, store, info = _new_index(tmp_path / "index")
    _append(folder, store, 1, 1000)
    info = publish(folder, store, info, "flat", MEMORY)
    measured = load_null_scores(folder, info)
    assert measured is not None and measured.count == 1000
    # a checkpoint's few rows: the index changes, its null scores are kept as measured
    small = int(REMEASURE_SHARE * 1000)
    _append(folder, store, 1001, small)
    info = publish(folder, store, info, "flat", MEMORY)
    assert info.count == 1000 + small
    kept = load_null_scores(folder, info)
    assert kept is not None and kept.to_json() == measured.to_json()
    # past the share, and after removals past it, they are measured on the index as it is
    _append(folder, store, 1001 + small, 10)
    info = publish(folder, store, info, "flat", MEMORY)
    grown = load_null_scores(folder, info)
    assert grown is not None and grown.count == info.count == 1010 + small
    with store.writer() as w:
        w.delete_images(range(1, 201))
    info = publish(folder, store, info, "flat", MEMORY)
    shrunk = load_null_scores(folder, info)
    assert shrunk is not None and shrunk.count == info.count == 810 + small
    store.close()


def test_checkpoints_write_the_recent_block_digests_until_they_are_folded_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, store, info = _new_index(tmp_path / "index")
    run = RunPublications()
    per_block = BLOCK_BYTES // (DIM * 2)
    _append(folder, store, 1, per_block + 100)
    info = publish(folder, store, info, "flat", MEMORY, run=run)
    main = info.checksums[VECTOR_BLOCKS_FILE]
    assert RECENT_BLOCKS_FILE not in info.checksums
    read: list[str] = []
    checked_bytes = checksums.checked_bytes

    def reading(path: Path, recorded: str) -> bytes:
        read.append(path.name)
        return checked_bytes(path, recorded)

    monkeypatch.setattr(checksums, "checked_bytes", reading)
    _append(folder, store, per_block + 101, per_block)
    info = publish(folder, store, info, "flat", MEMORY, run=run)
    # the main file's one whole block stays, not read again; the digests after it are the
    # recent file's
    assert info.checksums[VECTOR_BLOCKS_FILE] == main and RECENT_BLOCKS_FILE in info.checksums
    assert VECTOR_BLOCKS_FILE not in read
    assert verify_index(folder.path, deep=True) == []
    # a main file written since is read again: damaged, its digests are made again
    _flip_byte(folder.path / VECTOR_BLOCKS_FILE, -1)
    _append(folder, store, 2 * per_block + 101, 10)
    info = publish(folder, store, info, "flat", MEMORY, run=run)
    assert VECTOR_BLOCKS_FILE in read and verify_index(folder.path, deep=True) == []

    _append(folder, store, 2 * per_block + 111, per_block)
    info = publish(folder, store, info, "flat", MEMORY, run=run)
    main = info.checksums[VECTOR_BLOCKS_FILE]
    assert RECENT_BLOCKS_FILE in info.checksums
    monkeypatch.setattr(block_digests, "RECENT_MAX_DIGESTS", 0)
    _append(folder, store, 3 * per_block + 111, 10)
    info = publish(folder, store, info, "flat", MEMORY, run=run)
    assert info.checksums[VECTOR_BLOCKS_FILE] != main and RECENT_BLOCKS_FILE not in info.checksums
    assert not (folder.path / RECENT_BLOCKS_FILE).exists()
    assert verify_index(folder.path, deep=True) == []
    store.close()


def test_the_index_ids_grow_in_place_and_an_array_handed_out_never_changes() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((400, DIM)).astype(np.float32)
    index = build("flat", DIM, np.arange(1, 101, dtype=np.int64), vectors[:100])
    first = index.ids()
    for start in range(101, 400, 60):  # a checkpoint's new images have the highest ids
        added = np.arange(start, min(start + 60, 400), dtype=np.int64)
        index.add(added, vectors[added - 1])
    later = index.ids()
    assert first.tolist() == list(range(1, 101)) and later.tolist() == list(range(1, 400))
    assert not later.flags.writeable
    index.add(np.array([0], dtype=np.int64), vectors[:1])  # a lower id: sorted in
    assert index.ids().tolist() == list(range(0, 400)) and later[-1] == 399
