"""Reading every record a filter selects in blocks, and stored vectors with plain reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.errors import IndexCorruptError, InvalidRequestError
from indexer.storage.metadata_db import Store
from indexer.storage.vectors import VectorFile
from tests.unit.export.generated import generated_row


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "meta.sqlite", create=True)
    with store.writer() as w:
        w.insert_rows([generated_row(i) for i in range(1, 500) if i % 7])
    return store


def test_blocks_hold_the_matching_records_in_id_order(store: Store) -> None:
    every = store.get_many(store.ids().tolist())
    wanted = [i for i, r in sorted(every.items()) if r.modality in {"CT", "MR"} and r.height == 32]
    filters = {"modality": ["CT", "MR"], "height": "32"}
    with store.records_in_blocks(filters, 40) as found:
        blocks = list(found.blocks)
    assert found.total == len(wanted)
    assert [len(b) for b in blocks] == [40] * (len(wanted) // 40) + [len(wanted) % 40]
    assert [r for b in blocks for r in b] == [every[i] for i in wanted]


def test_rows_committed_while_reading_are_not_read(store: Store) -> None:
    with store.records_in_blocks(None, 100) as found:
        first = next(found.blocks)
        with store.writer() as w:  # another writer, as `medsearch index` beside an export
            w.insert_rows([generated_row(i) for i in range(1000, 1100)])
            w.delete_images([first[-1].id + 1])
        rest = [r.id for b in found.blocks for r in b]
    read = [r.id for r in first] + rest
    assert len(read) == found.total == 428
    assert max(read) < 1000 and first[-1].id + 1 in read
    assert store.count() == 428 + 100 - 1


def test_an_unknown_field_is_refused_before_reading(store: Store) -> None:
    with pytest.raises(InvalidRequestError, match="unknown filter field 'nope'"):
        store.records_in_blocks({"nope": 1}, 10)


def test_stored_vectors_are_read_by_runs_of_ids(tmp_path: Path) -> None:
    vectors = VectorFile(tmp_path / "vectors.f16", 16)
    data = np.random.default_rng(0).standard_normal((50, 16)).astype(np.float32)
    vectors.write(np.arange(1, 51), data)
    ids = [1, 2, 3, 9, 20, 21, 50]
    read = vectors.read_stored(ids)
    assert read.dtype == np.float16
    assert np.array_equal(read, data.astype(np.float16)[np.array(ids) - 1])
    assert vectors.read_stored([]).shape == (0, 16)
    with pytest.raises(IndexCorruptError, match="50 rows; ids up to 51"):
        vectors.read_stored([49, 51])
