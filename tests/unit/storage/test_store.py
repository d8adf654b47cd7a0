"""The metadata store's bulk reads: ids, file states and filters on a real SQLite database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from indexer.errors import FilterValueError, InvalidRequestError
from indexer.storage.filters import field_expression
from indexer.storage.metadata_db import Store
from indexer.storage.schema import FileState, ImageRow


def _row(image_id: int) -> dict[str, Any]:
    return {
        "id": image_id,
        "path": f"images/{image_id:05d}.png",
        "sha256": f"{image_id:064x}",
        "size": 1000 + image_id,
        "mtime": 1.5 * image_id,
        "width": 64,
        "height": 32 if image_id % 2 else 64,
        "format": "png",
        "modality": ("CT", "MR", None)[image_id % 3],
        "caption": None,
        "extra": {"site": f"s{image_id % 10}", "it's": image_id % 3} if image_id % 4 else {},
        "indexed_at": 0.0,
    }


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "meta.sqlite", create=True)
    # ids with gaps, as after removals (ids are never reused)
    with store.writer() as w:
        w.insert_rows([_row(i) for i in range(1, 400) if i % 7])
    return store


def _expected(rows: list[dict[str, Any]], test: Any) -> list[int]:
    return sorted(r["id"] for r in rows if test(r))


def test_ids_and_file_states_hold_every_row(store: Store) -> None:
    rows = [_row(i) for i in range(1, 400) if i % 7]
    ids = store.ids()
    assert ids.dtype == np.int64 and ids.tolist() == [r["id"] for r in rows]
    states = store.file_states()
    assert states == {
        r["path"]: FileState(r["id"], r["size"], r["mtime"], r["sha256"]) for r in rows
    }
    assert states["images/00001.png"].sha256 == f"{1:064x}"


@pytest.mark.parametrize(
    ("filters", "test"),
    [
        ({"modality": "CT"}, lambda r: r["modality"] == "CT"),
        ({"modality": ["CT", "MR"]}, lambda r: r["modality"] in ("CT", "MR")),
        ({"site": "s3"}, lambda r: r["extra"].get("site") == "s3"),
        (
            {"site": ["s1", "s2"], "height": 32},
            lambda r: r["extra"].get("site") in ("s1", "s2") and r["height"] == 32,
        ),
        ({"width": 64}, lambda r: True),
        ({"it's": [0, 2]}, lambda r: r["extra"].get("it's") in (0, 2)),
        # text that spells a number matches a field of numbers, as the command line sends it
        ({"it's": ["0", 2.0]}, lambda r: r["extra"].get("it's") in (0, 2)),
        ({"width": "64.0", "height": "32"}, lambda r: r["height"] == 32),
        ({"site": "1"}, lambda r: False),
    ],
)
def test_ids_matching_equals_a_scan_of_the_rows(store: Store, filters: dict, test: Any) -> None:
    rows = [_row(i) for i in range(1, 400) if i % 7]
    expected = _expected(rows, test)
    found = store.ids_matching(filters)
    assert found.dtype == np.int64 and found.tolist() == expected
    assert store.ids_matching(filters).tolist() == expected  # from the cache: the same
    facets = store.facets()
    store.index_extra_fields()
    assert store.ids_matching(filters).tolist() == expected  # through the fields' indexes
    assert store.facets() == facets


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"height": "tall"}, "'tall'"),
        ({"modality": 5}, "5"),
        ({"it's": [0, False]}, "False"),
        ({"width": True}, "True"),
        ({"it's": ["x"]}, "'x'"),
        ({"it's": "nan"}, "'nan'"),
    ],
)
def test_a_value_of_another_type_than_its_fields_values_is_refused(
    store: Store, filters: dict, named: str
) -> None:
    with pytest.raises(FilterValueError) as caught:
        store.ids_matching(filters)
    field = next(iter(filters))
    assert f"filter {field!r}: {named} cannot match" in caught.value.message
    assert caught.value.status == 400


def test_case_variants_of_text_values_that_match_nothing(store: Store) -> None:
    assert store.case_variants({"modality": "ct", "site": ["S1", "s2"], "it's": 0}) == {
        "modality": ["CT"],
        "site": ["s1"],
    }
    assert store.case_variants({"modality": "CT"}) == {}


def test_filters_and_facets_on_extra_fields_read_their_indexes(store: Store) -> None:
    store.index_extra_fields()
    store.index_extra_fields()  # a second time changes nothing
    for field in ("site", "it's"):
        expression = field_expression(field)
        with store.engine.connect() as connection:
            for query in (
                select(ImageRow.id).where(expression.in_(["s1"])),
                select(expression, func.count())
                .where(expression.is_not(None))
                .group_by(expression),
            ):
                sql = str(query.compile(store.engine, compile_kwargs={"literal_binds": True}))
                plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).fetchall()
                assert any("USING INDEX ix_extra_" in row[-1] for row in plan), (field, plan)


def test_cached_filter_results_follow_writes_and_cannot_be_changed(store: Store) -> None:
    before = store.ids_matching({"site": "s5"})
    with pytest.raises(ValueError):
        before[0] = 0
    with store.writer() as w:
        w.insert_rows([_row(1005), _row(1006)])
    after = store.ids_matching({"site": "s5"})
    assert after.tolist() == [*before.tolist(), 1005]


def test_an_unknown_filter_field_is_refused_every_time(store: Store) -> None:
    for _ in range(2):
        with pytest.raises(InvalidRequestError, match="unknown filter field"):
            store.ids_matching({"nope": "x"})
