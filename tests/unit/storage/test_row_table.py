"""Rows of the vector file read through a mapping whose resident pages stay under a budget, the
same rows a plain mapping reads; a re-rank through it checks the blocks of the rows it reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from indexer import ann
from indexer.errors import IndexDamagedError
from indexer.storage.block_guard import BlockGuard
from indexer.storage.row_table import FOLIO_BYTES, RowTable
from indexer.storage.vector_blocks import VectorBlocks, digest_array
from indexer.storage.vectors import VectorFile
from tests.unit.ann.test_ann import DIM, clustered_vectors

SMAPS = Path("/proc/self/smaps")


def _vector_file(tmp_path: Path, rows: int) -> VectorFile:
    file = VectorFile(tmp_path / "vectors.f16", DIM)
    file.write(np.arange(1, rows + 1), clustered_vectors(rows))
    return file


def _resident_kib(path: Path) -> int:
    """Resident KiB of this process's mappings of ``path`` (``Rss`` in /proc/self/smaps)."""
    total, inside = 0, False
    for line in SMAPS.read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping's header line
            inside = fields[-1] == str(path)
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


def test_reads_equal_a_plain_mapping_for_row_lists_and_slices(tmp_path: Path) -> None:
    file = _vector_file(tmp_path, 3000)
    table, plain = file.row_table(), file.memmap()
    rows = np.random.default_rng(0).choice(3000, 200, replace=False)
    np.testing.assert_array_equal(table[rows], plain[rows])
    np.testing.assert_array_equal(table[10:300], plain[10:300])
    np.testing.assert_array_equal(table[np.sort(rows)[::-1]], plain[np.sort(rows)[::-1]])
    assert table.shape == plain.shape and len(table) == 3000


@pytest.mark.skipif(not SMAPS.is_file(), reason="reads the resident pages from /proc")
def test_resident_pages_stay_under_the_budget_and_grow_without_one(tmp_path: Path) -> None:
    dim, rows = 512, 32_768  # rows of 1 KiB: a 32 MiB file
    path = tmp_path / "big.f16"
    rng = np.random.default_rng(1)
    data = rng.standard_normal((rows, dim)).astype("<f2")
    path.write_bytes(data.tobytes())
    budget = 4 << 20
    bounded = RowTable(path, dim, rows, budget=budget)
    unbounded = RowTable(path, dim, rows, budget=1 << 40)
    batches = [np.sort(rng.choice(rows, 10, replace=False)) for _ in range(300)]
    largest = 0
    for batch in batches:
        np.testing.assert_array_equal(bounded[batch], data[batch])
        largest = max(largest, _resident_kib(path) << 10)
    # a row spanning two folios may overshoot by one
    assert largest <= budget + FOLIO_BYTES, largest
    for batch in batches:
        unbounded[batch]
    assert _resident_kib(path) << 10 > 2 * (budget + FOLIO_BYTES)


def _guarded(path: Path, rows: int, block_bytes: int) -> BlockGuard:
    """A guard of ``path``'s first ``rows`` rows with digests of its bytes as they are now."""
    data = path.read_bytes()[: rows * DIM * 2]
    digests = [
        hashlib.sha256(data[start : start + block_bytes]).digest()
        for start in range(0, len(data), block_bytes)
    ]
    return BlockGuard(path, VectorBlocks(block_bytes, len(data), digest_array(digests)), DIM * 2)


def test_a_rerank_checks_the_blocks_it_reads_and_refuses_a_damaged_one(tmp_path: Path) -> None:
    rows = 4000
    file = _vector_file(tmp_path, rows)
    ids = np.arange(1, rows + 1, dtype=np.int64)
    index = ann.build("ivfsq", DIM, ids, file.rows_of(ids))
    queries = ann.sample_queries(file.rows_of(ids), 2, seed=3)
    expected = index.search(queries, 5)

    block_bytes = 1024  # 16 rows: 250 blocks
    guard = _guarded(file.path, rows, block_bytes)
    index.table = VectorFile(file.path, DIM, guard).row_table()
    found = index.search(queries, 5)
    np.testing.assert_array_equal(found[1], expected[1])
    np.testing.assert_array_equal(found[0], expected[0])
    state = guard.state()
    assert 0 < state.unchecked < state.blocks and state.damage is None  # only the rows read

    # damage an unchecked block; a query near its rows re-ranks them and is refused
    unchecked = np.flatnonzero(~guard.checked()).tolist()
    block = unchecked[len(unchecked) // 2]
    row = block * block_bytes // (DIM * 2) + 1
    query = file.read([row + 1])  # its own row is among its candidates
    raw = bytearray(file.path.read_bytes())
    raw[row * DIM * 2 + 3] ^= 0xFF
    file.path.write_bytes(bytes(raw))
    with pytest.raises(IndexDamagedError):
        index.search(query, 5)
    with pytest.raises(IndexDamagedError):  # and so is every later read
        index.search(queries[:1], 5)
    assert guard.state().damage is not None


@pytest.mark.skipif(not SMAPS.is_file(), reason="reads the resident pages from /proc")
def test_scattered_rows_are_read_without_mapping_them(tmp_path: Path) -> None:
    dim, rows = 512, 16_384  # a 16 MiB file, rows of 1 KiB
    path = tmp_path / "big.f16"
    data = np.random.default_rng(2).standard_normal((rows, dim)).astype("<f2")
    path.write_bytes(data.tobytes())
    table = RowTable(path, dim, rows, budget=4 << 20)
    scattered = np.arange(0, rows, 1024)  # one row per MiB: a re-rank's candidates
    np.testing.assert_array_equal(table[scattered], data[scattered])
    np.testing.assert_array_equal(table[scattered[::-1]], data[scattered[::-1]])
    assert _resident_kib(path) == 0
    dense = table[100:600]  # close together: through the mapping
    np.testing.assert_array_equal(dense, data[100:600])
    with pytest.raises(IndexError):
        table[np.array([0, rows])]
    table.close()
