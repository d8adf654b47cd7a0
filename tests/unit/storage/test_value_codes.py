"""Filters read from the value codes find exactly the ids SQLite finds in the rows, through
inserts, deletes, rewrites, real incremental runs, and an index made before the codes."""

from __future__ import annotations

import itertools
import random
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event, select

from indexer.records import MetadataValue
from indexer.storage import value_code_stamps as stamps
from indexer.storage import value_codes
from indexer.storage.filters import Filters
from indexer.storage.metadata_db import Store
from indexer.storage.schema import ImageRow
from indexer.storage.sql import id_array
from tests.support.helpers import SAMPLE_IMAGES, run_cli, tiny_model_args
from tests.unit.storage.test_writer import _row

#: values SQLite compares in every way the codes must follow: 13 equals 13.0, true equals 1
VALUES: list[Any] = ["CT", "ct", "13", 13, 13.0, 2.5, True, False, 1, 0, None, "", "é"]


def random_rows(rng: random.Random, first: int, n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(first, first + n):
        extra = {"kind": rng.choice(VALUES), "arm": rng.choice("ab"), "id_like": f"p{i}"}
        if rng.random() < 0.3:
            extra["sometimes"] = rng.choice(VALUES)
        modality = rng.choice(["CT", "MR", None])
        rows.append(_row(i, extra=extra, modality=modality, width=rng.choice([8, 16])))
    return rows


def filters_to_try(rng: random.Random, n: int) -> list[Filters]:
    fields = ["kind", "arm", "sometimes", "modality", "width", "format", "id_like"]
    wanted: list[Filters] = []
    for _ in range(n):
        picked = rng.sample(fields, rng.choice([1, 1, 2, 3]))
        filters: dict[str, Any] = {}
        for field in picked:
            choices = VALUES + ["a", "b", "MR", 8, 16, "png", "p3", "p40", "absent"]
            values = [v for v in rng.sample(choices, rng.choice([1, 2])) if v is not None]
            filters[field] = values if len(values) > 1 else (values or ["a"])[0]
        wanted.append(filters)
    return wanted


def assert_same_as_sql(store: Store, filters: list[Filters]) -> int:
    """Every filter finds the ids SQLite finds; how many were answered from the codes."""
    fields = store._fields
    coded = 0
    every_id = id_array(store.engine, select(ImageRow.id).order_by(ImageRow.id))
    assert store.ids(from_codes=True).tolist() == every_id.tolist() == store.ids().tolist()
    for wanted in filters:
        try:
            expected = fields.ids_matching_in_sql(wanted)
        except Exception as error:  # a value the field cannot hold fails both ways alike
            with pytest.raises(type(error)):
                store.ids_matching(wanted)
            continue
        from_codes = fields._coded.ids_matching(fields.typed_filters(wanted))
        coded += from_codes is not None
        assert store.ids_matching(wanted).tolist() == expected.tolist(), wanted
    return coded


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "meta.sqlite", create=True)


def test_codes_match_sqlite_through_inserts_deletes_and_rewrites(store: Store) -> None:
    rng = random.Random(7)
    filters = filters_to_try(rng, 120)
    with store.writer() as w:
        ids = w.add_images(random_rows(rng, 0, 300))
    assert assert_same_as_sql(store, filters) > 30
    with store.writer() as w:
        # ids far apart: the codes of another chunk
        w.insert_rows(
            [
                {**r, "id": 3 * value_codes.CHUNK_IDS + i, "indexed_at": 0.0}
                for i, r in enumerate(random_rows(rng, 1000, 40))
            ]
        )
    assert_same_as_sql(store, filters)
    with store.writer() as w:
        w.delete_images(rng.sample(ids, 120))
    assert_same_as_sql(store, filters)
    sidecar: dict[str, dict[str, MetadataValue]] = {
        f"images/{n:05d}.png": {"kind": rng.choice(VALUES[:-3]), "modality": "US"}
        for n in range(0, 300, 7)
    }
    with store.writer() as w:
        assert w.apply_sidecar(sidecar) > 0
        assert w.update_extra({"images/00001.png": {"arm": "c", "sometimes": 2.5}}) <= 1
    assert assert_same_as_sql(store, filters + [{"modality": "US"}, {"arm": "c"}]) > 30
    with store.writer() as w:
        w.delete_images(store.ids().tolist())
    assert assert_same_as_sql(store, filters) > 0
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("SELECT count(*) FROM value_code_chunks").fetchone() == (0,)


def test_the_ids_of_new_images_are_appended_to_those_listed_before(store: Store) -> None:
    rng = random.Random(9)
    with store.writer() as w:
        w.add_images(random_rows(rng, 0, 100))
    first = store.ids(from_codes=True)
    listed = [first.tolist()]
    for start in (100, 110, 120):  # as a run's checkpoints add them
        with store.writer() as w:
            w.add_images(random_rows(rng, start, 10))
        listed.append(store.ids(from_codes=True).tolist())
        assert listed[-1] == store.ids().tolist()
    later = store.ids(from_codes=True)
    assert first.tolist() == listed[0] and len(later) == 130 and not later.flags.writeable
    with store.writer() as w:
        w.add_images(random_rows(rng, 130, 10))
    # written after the ids already listed: the same memory, which no listed array sees change
    assert np.shares_memory(store.ids(from_codes=True), later) and len(later) == 130
    with store.writer() as w:  # images removed: listed again from the first one removed
        w.delete_images([5, 60])
    assert (
        store.ids(from_codes=True).tolist()
        == store.ids().tolist()
        == [i for i in range(1, 141) if i not in (5, 60)]
    )


def test_a_field_with_lists_or_too_many_values_is_read_from_sqlite(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(value_codes, "MAX_CODES", 50)
    with store.writer() as w:
        w.add_images(
            [_row(i, extra={"tags": ["a"] if i == 5 else "a", "seq": i}) for i in range(80)]
        )
    covered = store._fields._coded._covered_fields()
    assert "tags" not in covered and "seq" not in covered and "format" in covered
    assert store.ids_matching({"seq": 17}).tolist() == [18]
    assert store.ids_matching({"tags": "a"}).tolist() == [i + 1 for i in range(80) if i != 5]
    with sqlite3.connect(store.path) as connection:
        left = connection.execute(
            "SELECT count(*) FROM value_code_keys WHERE field IN ('tags', 'seq')"
        ).fetchone()
    assert left == (0,)


def test_a_filter_reads_no_row_of_images(store: Store) -> None:
    with store.writer() as w:
        w.add_images(random_rows(random.Random(1), 0, 50))
    store.filter_field_kinds()
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    store.ids_matching({"arm": "a", "modality": ["CT", "MR"]})
    assert statements and not any("FROM images" in s for s in statements)


def test_an_index_from_before_the_codes_is_read_from_sqlite_then_given_codes(
    tmp_path: Path,
) -> None:
    rng = random.Random(3)
    db = tmp_path / "meta.sqlite"
    with Store(db, create=True) as store, store.writer() as w:
        w.add_images(random_rows(rng, 0, 200))
    with sqlite3.connect(db) as connection:  # as an older MedSearch left it
        for trigger in value_codes._TRIGGERS:
            connection.execute(f"DROP TRIGGER {trigger}")
        for table in value_codes.metadata.tables:
            connection.execute(f"DROP TABLE {table}")
    filters = filters_to_try(rng, 60)
    with Store(db) as old:
        assert assert_same_as_sql(old, filters) == 0
    with Store(db, create=True) as opened_for_writing:
        assert assert_same_as_sql(opened_for_writing, filters) > 15


def test_rows_another_writer_wrote_are_never_missed(tmp_path: Path) -> None:
    rng = random.Random(4)
    db = tmp_path / "meta.sqlite"
    with Store(db, create=True) as store, store.writer() as w:
        w.add_images(random_rows(rng, 0, 100))
    with sqlite3.connect(db) as connection:  # an older MedSearch, which keeps no codes
        connection.execute("DELETE FROM images WHERE id % 3 = 0")
        connection.execute(
            "INSERT INTO images (path, sha256, size, mtime, width, height, format, modality, "
            "extra, indexed_at) VALUES ('new.png', 'x', 1, 1, 8, 8, 'png', 'CT', "
            """'{"arm": "a"}', 1)"""
        )
    filters = filters_to_try(rng, 60) + [{"arm": "a"}, {"modality": "CT"}]
    with Store(db) as read_only:
        assert assert_same_as_sql(read_only, filters) == 0
        assert 101 in read_only.ids_matching({"arm": "a"}).tolist()
        with Store(db, create=True) as opened_for_writing:
            assert assert_same_as_sql(opened_for_writing, filters) > 15
            assert 101 in opened_for_writing.ids_matching({"arm": "a"}).tolist()
        # a reader that kept the codes of the tables made again reads them whole
        assert assert_same_as_sql(read_only, filters) > 15


def test_a_reader_reads_again_only_the_chunks_written_since(tmp_path: Path) -> None:
    rng = random.Random(5)
    db = tmp_path / "meta.sqlite"
    filters = filters_to_try(rng, 60)
    with Store(db, create=True) as writing, Store(db) as reader:
        with writing.writer() as w:
            w.add_images(random_rows(rng, 0, 100))
        assert assert_same_as_sql(reader, filters) > 15
        with sqlite3.connect(db) as connection:  # chunk 0 of each field changed unseen
            connection.execute("UPDATE value_code_chunks SET codes = zeroblob(length(codes))")
            connection.execute("UPDATE value_code_chunks SET stamp = 0")
        with writing.writer() as w:  # a chunk of its own
            w.insert_rows(
                [
                    {**r, "id": 2 * value_codes.CHUNK_IDS + i, "indexed_at": 0.0}
                    for i, r in enumerate(random_rows(rng, 500, 30))
                ]
            )
        # the reader read the new chunk alone: it still finds chunk 0's ids, as SQLite does
        assert assert_same_as_sql(reader, filters) > 15
        with Store(db) as fresh:
            assert fresh.ids(from_codes=True).tolist() == [
                2 * value_codes.CHUNK_IDS + i for i in range(30)
            ]
        with writing.writer() as w:  # a chunk deleted: every chunk is read again
            w.delete_images(list(range(2 * value_codes.CHUNK_IDS, 2 * value_codes.CHUNK_IDS + 30)))
        assert reader.ids(from_codes=True).tolist() == []


def test_codes_kept_before_the_stamps_are_read_whole_then_given_stamps(tmp_path: Path) -> None:
    rng = random.Random(6)
    db = tmp_path / "meta.sqlite"
    with Store(db, create=True) as store, store.writer() as w:
        w.add_images(random_rows(rng, 0, 150))
    with sqlite3.connect(db) as connection:  # as the MedSearch before the stamps left it
        for trigger in stamps.TRIGGERS:
            connection.execute(f"DROP TRIGGER {trigger}")
        connection.execute(f"DROP INDEX {stamps.STAMP_INDEX}")
        connection.execute("ALTER TABLE value_code_chunks DROP COLUMN stamp")
        connection.execute("ALTER TABLE value_code_state DROP COLUMN stamp")
        connection.execute("ALTER TABLE value_code_state DROP COLUMN epoch")
    filters = filters_to_try(rng, 60)
    with Store(db) as old:
        assert assert_same_as_sql(old, filters) > 15
        with Store(db, create=True) as opened_for_writing:
            with opened_for_writing.writer() as w:
                w.delete_images(list(range(1, 40)))
                w.add_images(random_rows(rng, 200, 30))
            assert assert_same_as_sql(opened_for_writing, filters) > 15
        assert assert_same_as_sql(old, filters) > 15
    with sqlite3.connect(db) as connection:
        stamped = connection.execute("SELECT min(stamp) FROM value_code_chunks").fetchone()[0]
    assert stamped > 0


def test_incremental_runs_of_the_real_command(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    names = sorted(p.name for p in SAMPLE_IMAGES.iterdir())
    modalities = ["CR", "CT", "MR", "US", "NM", "OT"]
    filters: list[Filters] = [{"format": f} for f in ("jpeg", "png", "dicom")]
    filters += [{"modality": m} for m in modalities] + [{"modality": modalities, "format": "dicom"}]
    for step, chosen in enumerate([names[::2], names[1::3], names[::5]]):
        for path in corpus.iterdir():
            if path.name not in chosen:
                path.unlink()
        for name in chosen:
            shutil.copy(SAMPLE_IMAGES / name, corpus)
        run_cli("index", corpus, "--index", index, "--prune", *tiny_model_args(tiny_model_dir))
        with Store(index / "meta.sqlite") as store:
            kinds = store.filter_field_kinds()
            extra = [f for f in kinds if f not in ("width", "height")]
            values = [
                {field: value} for field in extra for value, _ in store.facets().get(field, [])[:3]
            ]
            tried = filters + values + list(itertools.islice(_pairs(values), 20))
            assert assert_same_as_sql(store, tried) >= len(filters), step


def _pairs(single: Sequence[Filters]) -> Any:
    for a, b in itertools.combinations(single, 2):
        if set(a) != set(b):
            yield {**a, **b}
