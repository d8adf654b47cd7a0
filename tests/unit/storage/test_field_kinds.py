"""The fields the images hold, counted as rows are written, equal a scan of every row's JSON."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from indexer.records import MetadataValue
from indexer.storage.field_kinds import SCAN_PAIRS
from indexer.storage.metadata_db import Store
from tests.unit.storage.test_writer import _row


def scanned(db: Path) -> dict[tuple[str, str], int]:
    """Every (field, JSON type) pair with its image count, read by SQLite from the rows."""
    with sqlite3.connect(db) as connection:
        return {(f, t): n for f, t, n in connection.execute(SCAN_PAIRS)}


def counted(db: Path) -> dict[tuple[str, str], int]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT field, sql_type, images FROM field_kinds")
        return {(f, t): n for f, t, n in rows}


def mixed_rows(first: int, n: int) -> list[dict[str, Any]]:
    """Rows whose fields take every JSON type, some on a few rows only."""
    values: list[Any] = ["CT", 13, 2.5, True, False, None]
    return [
        _row(i, extra={"kind": values[i % len(values)], f"only_{i % 3}": i, "text": str(i)})
        for i in range(first, first + n)
    ]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "meta.sqlite", create=True)


def test_counts_follow_inserts_deletes_and_rewrites(store: Store) -> None:
    with store.writer() as w:
        ids = w.add_images(mixed_rows(0, 60))
    assert counted(store.path) == scanned(store.path)
    with store.writer() as w:
        w.insert_rows(
            [{**r, "id": 1000 + i, "indexed_at": 0.0} for i, r in enumerate(mixed_rows(500, 7))]
        )
    assert counted(store.path) == scanned(store.path)
    with store.writer() as w:
        w.delete_images(ids[::4])
    assert counted(store.path) == scanned(store.path)
    sidecar: dict[str, dict[str, MetadataValue]] = {
        f"images/{n:05d}.png": {"kind": "MR", "added": 1.5} for n in range(0, 60, 3)
    }
    with store.writer() as w:
        assert w.apply_sidecar(sidecar) > 0
    assert counted(store.path) == scanned(store.path)
    with store.writer() as w:
        assert w.update_extra({"images/00001.png": {"kind": 7, "new": "x"}}) == 1
    assert counted(store.path) == scanned(store.path)
    with store.writer() as w:
        w.delete_images(store.ids().tolist())
    assert counted(store.path) == scanned(store.path) == {}


def test_a_rolled_back_write_leaves_the_counts(store: Store) -> None:
    with store.writer() as w:
        w.add_images(mixed_rows(0, 6))
    before = counted(store.path)
    with pytest.raises(RuntimeError), store.writer() as w:
        w.add_images(mixed_rows(100, 6))
        raise RuntimeError("the vectors could not be written")
    assert counted(store.path) == before == scanned(store.path)


def test_field_kinds_are_read_without_parsing_any_row(store: Store) -> None:
    with store.writer() as w:
        w.add_images(mixed_rows(0, 12))
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    kinds = store.filter_field_kinds()
    assert kinds["kind"] == frozenset({"text", "number", "boolean"})
    assert "only_1" in kinds and "text" in kinds
    assert statements and not any("json_each" in s for s in statements)


def test_an_index_from_before_the_table_is_read_by_a_scan_and_filled_when_written(
    tmp_path: Path,
) -> None:
    db = tmp_path / "meta.sqlite"
    with Store(db, create=True) as store, store.writer() as w:
        w.add_images(mixed_rows(0, 30))
    expected = Store(db).filter_field_kinds()
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TABLE field_kinds")  # as an older MedSearch left it
    assert Store(db).filter_field_kinds() == expected
    with Store(db, create=True):
        pass
    assert counted(db) == scanned(db)
    assert Store(db).filter_field_kinds() == expected
