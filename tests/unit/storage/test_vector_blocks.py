"""Block digests of ``vectors.f16``: recorded at publish, checked as rows are read and in the
background of a service, a damaged block refusing the version (HTTP 503); an index published
without them is still opened, its vectors hashed whole as before."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
from pathlib import Path

import pytest
from flask import Flask

from indexer.errors import IndexCorruptError, IndexDamagedError
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.storage import block_digests
from indexer.storage.block_digests import load_vector_blocks, publish_vector_blocks
from indexer.storage.block_guard import BlockGuard
from indexer.storage.checksums import content_checksum
from indexer.storage.folder import IndexFolder
from indexer.storage.info import IndexInfo
from indexer.storage.publish import publish
from indexer.storage.vector_blocks import (
    BLOCK_BYTES,
    HEADER,
    LEGACY_BLOCKS_FILE,
    RECENT_BLOCKS_FILE,
    VECTOR_BLOCKS_FILE,
    VectorBlocks,
)
from indexer.storage.verify import verify_index
from search_api import create_app
from tests.api.test_api_metrics import scrape
from tests.unit.storage.test_corruption import _copy, _flip_byte

#: a small block, so that the 32-row sample index spans several
SMALL_BLOCK = 1024
BLOCK_FILES = (VECTOR_BLOCKS_FILE, RECENT_BLOCKS_FILE)


def _republish_blocks(index_dir: Path, info: IndexInfo, rows: int, block_bytes: int) -> IndexInfo:
    """Record the block digests of ``rows`` rows at ``block_bytes`` as the published ones."""
    folder = IndexFolder(index_dir)
    published = publish_vector_blocks(folder, info, rows, block_bytes=block_bytes)
    others = {k: v for k, v in info.checksums.items() if k not in BLOCK_FILES}
    info = dataclasses.replace(info, vector_rows=rows, checksums={**others, **published})
    folder.write_info(info)
    return info


def _small_blocks(sample_index_dir: Path, tmp_path: Path) -> Path:
    index_dir = _copy(sample_index_dir, tmp_path)
    info = IndexFolder(index_dir).read_info()
    _republish_blocks(index_dir, info, info.vector_rows or 0, SMALL_BLOCK)
    return index_dir


def _sha256_blocks(data: bytes, block_bytes: int) -> list[bytes]:
    return [
        hashlib.sha256(data[start : start + block_bytes]).digest()
        for start in range(0, len(data), block_bytes)
    ]


def _digests(blocks: VectorBlocks) -> list[bytes]:
    return [row.tobytes() for row in blocks.digests]


def _publish_file(folder: IndexFolder, info: IndexInfo, name: str, content: bytes) -> None:
    """Write ``content`` as the file ``name`` of ``info``'s version, its checksum recorded."""
    (folder.path / name).write_bytes(content)
    checksum = content_checksum(content)
    folder.write_info(dataclasses.replace(info, checksums={**info.checksums, name: checksum}))


def _row_offset(index_dir: Path, image_id: int) -> int:
    return (image_id - 1) * IndexFolder(index_dir).read_info().dim * 2


def _settings(index_dir: Path) -> Settings:
    return Settings(index_dir=index_dir, device="cpu", precision="fp32")


def test_publish_records_the_sha256_of_every_block_of_the_published_rows(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    folder = IndexFolder(sample_index_dir)
    info = folder.read_info()
    blocks = load_vector_blocks(folder, info)
    published = folder.vectors_path.read_bytes()[: (info.vector_rows or 0) * info.dim * 2]
    assert blocks is not None and blocks.block_bytes == BLOCK_BYTES
    assert _digests(blocks) == _sha256_blocks(published, BLOCK_BYTES)

    small = IndexFolder(_small_blocks(sample_index_dir, tmp_path))
    blocks = load_vector_blocks(small, small.read_info())
    assert blocks is not None and len(blocks) == -(-len(published) // SMALL_BLOCK) > 4
    assert _digests(blocks) == _sha256_blocks(published, SMALL_BLOCK)


def test_a_new_version_keeps_the_whole_blocks_digests_and_hashes_the_rows_it_adds(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _copy(sample_index_dir, tmp_path)
    info = IndexFolder(index_dir).read_info()
    original = (index_dir / "vectors.f16").read_bytes()[: 32 * info.dim * 2]
    # a version of 18 rows ends inside a block; the next one publishes all 32
    earlier = _republish_blocks(index_dir, info, 18, SMALL_BLOCK)
    _flip_byte(index_dir / "vectors.f16", SMALL_BLOCK + 3)  # inside a whole, published block
    later = _republish_blocks(index_dir, earlier, 32, SMALL_BLOCK)
    blocks = load_vector_blocks(IndexFolder(index_dir), later)
    assert blocks is not None
    # the whole blocks were not read again; the partly published one and the new ones were
    assert _digests(blocks) == _sha256_blocks(original, SMALL_BLOCK)
    whole = 18 * info.dim * 2 // SMALL_BLOCK
    assert _digests(blocks)[whole] != _sha256_blocks(original[: 18 * info.dim * 2], SMALL_BLOCK)[-1]


def test_checkpoints_write_the_recent_digests_alone_until_they_are_folded_in(
    sample_index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(block_digests, "RECENT_MAX_DIGESTS", 4)
    index_dir = _copy(sample_index_dir, tmp_path)
    folder = IndexFolder(index_dir)
    info = folder.read_info()
    row_bytes = info.dim * 2
    original = folder.vectors_path.read_bytes()[: 32 * row_bytes]
    main_blocks = 10 * row_bytes // SMALL_BLOCK
    info = _republish_blocks(index_dir, info, 10, SMALL_BLOCK)
    main = (index_dir / VECTOR_BLOCKS_FILE).read_bytes()
    for rows in (12, 14, 11):  # fewer rows too: ids past the last image deleted
        info = _republish_blocks(index_dir, info, rows, SMALL_BLOCK)
        assert set(BLOCK_FILES) <= set(info.checksums)
        assert (index_dir / VECTOR_BLOCKS_FILE).read_bytes() == main
        recent = VectorBlocks.from_bytes((index_dir / RECENT_BLOCKS_FILE).read_bytes())
        assert recent.length == rows * row_bytes
        assert len(recent) == -(-rows * row_bytes // SMALL_BLOCK) - main_blocks
        blocks = load_vector_blocks(folder, info)
        assert blocks is not None
        assert _digests(blocks) == _sha256_blocks(original[: rows * row_bytes], SMALL_BLOCK)
        _guard(folder, info).check_all()

    # a row the recent digests cover is checked by them
    _flip_byte(folder.vectors_path, 10 * row_bytes + 1)
    with pytest.raises(IndexDamagedError, match="vectors.f16 bytes"):
        _guard(folder, info).check_all()
    _flip_byte(folder.vectors_path, 10 * row_bytes + 1)

    # a recent file that does not match (as a publication killed after writing it leaves it)
    # is made again; the main file stays
    _flip_byte(index_dir / RECENT_BLOCKS_FILE, -1)
    info = _republish_blocks(index_dir, info, 13, SMALL_BLOCK)
    assert (index_dir / VECTOR_BLOCKS_FILE).read_bytes() == main
    blocks = load_vector_blocks(folder, info)
    assert blocks is not None
    assert _digests(blocks) == _sha256_blocks(original[: 13 * row_bytes], SMALL_BLOCK)

    # past RECENT_MAX_DIGESTS digests after the main file's, every digest goes to the main file
    info = _republish_blocks(index_dir, info, 32, SMALL_BLOCK)
    assert RECENT_BLOCKS_FILE not in info.checksums
    blocks = load_vector_blocks(folder, info)
    assert blocks is not None and _digests(blocks) == _sha256_blocks(original, SMALL_BLOCK)


def _guard(folder: IndexFolder, info: IndexInfo) -> BlockGuard:
    guard = block_digests.guard_of(folder, info, None)
    assert guard is not None
    return guard


def test_rows_are_checked_as_they_are_read_and_a_damaged_block_refuses_the_version(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _small_blocks(sample_index_dir, tmp_path)
    damaged_id = 21
    _flip_byte(index_dir / "vectors.f16", _row_offset(index_dir, damaged_id) + 5)
    retriever = Retriever.open(_settings(index_dir))
    with contextlib.closing(retriever):
        state = retriever.vector_check()
        assert state is not None and state.unchecked == state.blocks  # nothing hashed at open
        # reading a row checks its block (the first, sound) and no other
        assert retriever.vectors_for([2]).shape == (1, retriever.encoder.dim)
        state = retriever.vector_check()
        assert state is not None and state.unchecked == state.blocks - 1 and state.damage is None

        with pytest.raises(IndexDamagedError) as caught:
            retriever.search(image_id=damaged_id, k=3)
        assert "vectors.f16 bytes" in caught.value.message
        assert caught.value.status == 503 and caught.value.code == "index_damaged"
        # once found, the whole version is refused, whatever a query reads
        with pytest.raises(IndexDamagedError):
            retriever.search(text="chest x-ray", k=3)
        with pytest.raises(IndexDamagedError):
            retriever.vectors_for([2])


def _wait_for_check(app: Flask) -> dict[str, float]:
    """The index's damage flag and unchecked blocks, once the background check has ended."""
    deadline = time.monotonic() + 60
    while True:
        samples = scrape(app)
        state = {
            name: samples[(f"medsearch_index_{name}", (("index", "index"),))]
            for name in ("damaged", "vector_blocks_unchecked")
        }
        if state["damaged"] or not state["vector_blocks_unchecked"]:
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.05)


def test_the_background_check_flags_a_damaged_version_the_api_refuses_with_503(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _small_blocks(sample_index_dir, tmp_path)
    _flip_byte(index_dir / "vectors.f16", _row_offset(index_dir, 30) + 1)
    app = create_app(_settings(index_dir).replace(thumbnail_dir=tmp_path / "thumbnails"))
    assert _wait_for_check(app)["damaged"] == 1  # no query read the damaged rows
    response = app.test_client().post("/api/search", json={"text": "chest x-ray", "k": 2})
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "index_damaged" and "vectors.f16" in error["message"], error


def test_an_undamaged_version_is_checked_in_the_background_and_answers(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _small_blocks(sample_index_dir, tmp_path)
    app = create_app(_settings(index_dir).replace(thumbnail_dir=tmp_path / "thumbnails"))
    assert _wait_for_check(app) == {"damaged": 0, "vector_blocks_unchecked": 0}
    response = app.test_client().post("/api/search", json={"image_id": 30, "k": 2})
    assert response.status_code == 200, response.get_json()
    assert verify_index(index_dir, deep=True) == []


def test_an_index_published_without_block_digests_is_hashed_whole_at_open(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _copy(sample_index_dir, tmp_path)
    data = json.loads((index_dir / "index_info.json").read_text())
    del data["checksums"][VECTOR_BLOCKS_FILE]  # as published before block digests existed
    (index_dir / "index_info.json").write_text(json.dumps(data))
    (index_dir / VECTOR_BLOCKS_FILE).unlink()
    retriever = Retriever.open(_settings(index_dir))
    with contextlib.closing(retriever):
        assert retriever.vector_check() is None
        assert retriever.search(text="chest x-ray", k=2).hits

    _flip_byte(index_dir / "vectors.f16", _row_offset(index_dir, 30) + 1)
    with pytest.raises(IndexCorruptError, match="vectors.f16 does not match the checksum"):
        Retriever.open(_settings(index_dir))


def test_deep_verify_finds_block_digests_that_disagree_with_sound_rows(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _copy(sample_index_dir, tmp_path)
    folder = IndexFolder(index_dir)
    info = folder.read_info()
    content = bytearray((index_dir / VECTOR_BLOCKS_FILE).read_bytes())
    content[HEADER.size] ^= 0xFF  # the first block's digest
    _publish_file(folder, info, VECTOR_BLOCKS_FILE, bytes(content))
    problems = verify_index(index_dir, deep=True)
    assert any("vectors.f16 bytes 0 to" in problem for problem in problems), problems


def test_a_new_version_takes_over_the_checked_blocks_and_checks_the_changed_ones(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _copy(sample_index_dir, tmp_path)
    info = IndexFolder(index_dir).read_info()
    earlier = _republish_blocks(index_dir, info, 18, SMALL_BLOCK)  # blocks 0-3 whole, 4 partial
    retriever = Retriever.open(_settings(index_dir))
    with contextlib.closing(retriever):
        retriever.vectors_for([2])  # checks block 0
        later = _republish_blocks(index_dir, earlier, 32, SMALL_BLOCK)
        IndexFolder(index_dir).write_info(
            dataclasses.replace(later, generation=later.generation + 1)
        )
        assert retriever.refresh()
        state = retriever.vector_check()
        # block 0 carried over; the partial block 4 and the new 5 to 7 checked at reload
        assert state is not None and state.blocks == 8
        assert state.unchecked == 3 and state.damage is None


def test_the_next_publication_replaces_the_older_json_block_list(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    index_dir = _copy(sample_index_dir, tmp_path)
    folder = IndexFolder(index_dir)
    info = folder.read_info()
    published = folder.vectors_path.read_bytes()[: (info.vector_rows or 0) * info.dim * 2]
    # the block list as earlier versions published it: JSON, 4 MiB blocks, hex digests
    legacy_block = 4 << 20
    legacy = {
        "block_bytes": legacy_block,
        "length": len(published),
        "digests": [digest.hex() for digest in _sha256_blocks(published, legacy_block)],
    }
    (index_dir / VECTOR_BLOCKS_FILE).unlink()
    checksums = {k: v for k, v in info.checksums.items() if k != VECTOR_BLOCKS_FILE}
    content = json.dumps(legacy, sort_keys=True).encode()
    _publish_file(
        folder, dataclasses.replace(info, checksums=checksums), LEGACY_BLOCKS_FILE, content
    )
    # still served and verified, its vectors hashed whole at open
    assert verify_index(index_dir, deep=True) == []
    retriever = Retriever.open(_settings(index_dir))
    with contextlib.closing(retriever):
        assert retriever.vector_check() is None
        assert retriever.search(text="chest x-ray", k=2).hits

    with folder.open_store() as store:
        republished = publish(folder, store, folder.read_info())
    assert republished.generation == info.generation + 1
    assert LEGACY_BLOCKS_FILE not in republished.checksums
    assert not (index_dir / LEGACY_BLOCKS_FILE).exists()
    blocks = load_vector_blocks(folder, republished)
    assert blocks is not None and _digests(blocks) == _sha256_blocks(published, BLOCK_BYTES)
    assert verify_index(index_dir, deep=True) == []
