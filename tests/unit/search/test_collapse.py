"""Collapsed search on four real CT series against a brute-force collapse of the exact ranking,
for every index type."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer import ann
from indexer.encoders import Encoder
from indexer.errors import InvalidRequestError, NotFoundError
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.storage.folder import IndexFolder
from indexer.storage.publish import publish
from tests.support.ct_series import CT_SERIES_COUNT, CT_STUDY_COUNT


@pytest.fixture(scope="module", params=ann.INDEX_TYPES)
def typed_retriever(
    request: pytest.FixtureRequest,
    ct_series_index_dir: Path,
    tiny_encoder: Encoder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Retriever]:
    """The CT series index republished as each index type."""
    kind: str = request.param
    copy = tmp_path_factory.mktemp(f"ct-{kind}") / "index"
    shutil.copytree(ct_series_index_dir, copy)
    folder = IndexFolder(copy)
    store = folder.open_store()
    try:
        info = publish(folder, store, folder.read_info(), kind)
    finally:
        store.close()
    assert info.index_type == kind
    opened = Retriever.open(Settings(index_dir=copy, device="cpu"), encoder=tiny_encoder)
    yield opened
    opened.close()


def brute_force(
    retriever: Retriever,
    query: np.ndarray,
    field: str,
    *,
    k: int,
    offset: int = 0,
    filters: dict[str, Any] | None = None,
    min_score: float | None = None,
    exclude: tuple[int, ...] = (),
) -> list[dict[str, Any]]:
    """Collapse of the exact ranking of every image: each group's best image, its next three,
    how many of its images match, and its size in the whole index."""
    ids = retriever.store.ids()
    records = retriever.store.get_many(ids.tolist())
    scores = retriever.vectors_for(ids.tolist()) @ query
    order = np.argsort(-scores, kind="stable")
    everyone: dict[Any, int] = {}
    for record in records.values():
        value = record.metadata().get(field)
        everyone[value] = everyone.get(value, 0) + 1
    groups: dict[Any, list[tuple[int, float]]] = {}
    for row in order:
        image_id, score = int(ids[row]), float(scores[row])
        meta = records[image_id].metadata()
        if image_id in exclude or (min_score is not None and score < min_score):
            continue
        if filters and any(meta.get(f) != v for f, v in filters.items()):
            continue
        key = meta.get(field) if meta.get(field) is not None else ("image", image_id)
        groups.setdefault(key, []).append((image_id, score))
    return [
        {
            "id": members[0][0],
            "score": members[0][1],
            "value": key,
            "size": everyone[key],
            "matched": len(members),
            "next": [i for i, _ in members[1:4]],
        }
        for key, members in list(groups.items())[offset : offset + k]
    ]


def collapsed(retriever: Retriever, field: str, **kwargs: Any) -> list[dict[str, Any]]:
    result = retriever.search(collapse=field, **kwargs)
    found = []
    for hit in result.hits:
        assert hit.group is not None and hit.group.field == field
        assert all(s <= hit.score + 1e-6 for _, s in hit.group.next)
        found.append(
            {
                "id": hit.id,
                "score": hit.score,
                "value": hit.group.value,
                "size": hit.group.size,
                "matched": hit.group.matched,
                "next": [i for i, _ in hit.group.next],
            }
        )
    return found


def assert_same(found: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [{**g, "score": 0} for g in found] == [{**g, "score": 0} for g in expected]
    for got, wanted in zip(found, expected, strict=True):
        assert got["score"] == pytest.approx(wanted["score"], abs=1e-5)


def query_ids(retriever: Retriever) -> list[int]:
    ids = retriever.store.ids()
    return [int(ids[0]), int(ids[len(ids) // 2]), int(ids[-1])]


@pytest.mark.parametrize("field", ["series", "study"])
def test_similar_images_collapsed_equal_brute_force_for_every_index_type(
    typed_retriever: Retriever, field: str
) -> None:
    for image_id in query_ids(typed_retriever):
        query = typed_retriever.vectors_for([image_id])[0]
        expected = brute_force(typed_retriever, query, field, k=10, exclude=(image_id,))
        assert_same(collapsed(typed_retriever, field, image_id=image_id, k=10), expected)


def test_pages_filters_and_score_floor_equal_brute_force(typed_retriever: Retriever) -> None:
    query = typed_retriever.embed_text("head CT")
    cases: list[dict[str, Any]] = [
        {"k": 2},
        {"k": 2, "offset": 1},
        {"k": 10, "offset": 3},
        {"k": 10, "filters": {"study": "philips_s21570"}},
        {"k": 1, "offset": 1, "filters": {"study": "philips_s21570"}},
    ]
    for case in cases:
        expected = brute_force(typed_retriever, query, "series", **case)
        assert_same(collapsed(typed_retriever, "series", vector=query, **case), expected)
    # a floor between the scores: some slices of some series match, and fewer series
    scores = np.sort(typed_retriever.vectors_for(typed_retriever.store.ids().tolist()) @ query)
    cut = len(scores) * 3 // 4
    floor = float(scores[cut - 1] + scores[cut]) / 2  # halfway: no score sits on it
    expected = brute_force(typed_retriever, query, "series", k=10, min_score=floor)
    found = collapsed(typed_retriever, "series", vector=query, k=10, min_score=floor)
    assert_same(found, expected)
    assert sum(g["matched"] for g in found) == int(np.sum(scores >= floor))


@pytest.mark.parametrize(("series", "study"), [("series", "study"), ("series_key", "study_key")])
def test_similar_images_by_series_come_from_every_series(
    ct_series_index_dir: Path, series: str, study: str
) -> None:
    """The issue's requirement: collapsed by series, the top 10 of "similar images" of any
    slice come from as many distinct series as the corpus has, whether the series is named by
    a sidecar column or by the keyed ``series_key`` read from the files."""
    settings = Settings(index_dir=ct_series_index_dir, device="cpu")
    retriever = Retriever.open(settings)
    try:
        for image_id in query_ids(retriever):
            plain = retriever.search(image_id=image_id, k=10)
            grouped = retriever.search(image_id=image_id, k=10, collapse=series)
            found = [hit.metadata[series] for hit in grouped.hits]
            assert len(set(found)) == len(found) == CT_SERIES_COUNT
            assert grouped.total == CT_SERIES_COUNT
            assert sum(h.group.size for h in grouped.hits if h.group) == len(retriever.store.ids())
            # without collapsing, neighbouring slices of the query's own series crowd the list
            assert len({hit.metadata[series] for hit in plain.hits}) < CT_SERIES_COUNT
        assert retriever.search(text="brain", collapse=study).total == CT_STUDY_COUNT
    finally:
        retriever.close()


def test_an_unknown_collapse_field_is_refused(retriever: Retriever) -> None:
    with pytest.raises(InvalidRequestError, match="unknown group field 'nope'"):
        retriever.search(text="x", collapse="nope")


def test_images_without_the_field_are_groups_of_their_own(retriever: Retriever) -> None:
    """The sample index's DICOMs have a modality, its JPEGs a label: collapsing on a field
    that only some images hold keeps the others, one result each."""
    fields = retriever.store.filterable_fields()
    field = next(f for f in fields if 0 < _holding(retriever, f) < len(retriever.store.ids()))
    result = retriever.search(text="chest", collapse=field, k=100)
    lacking = [h for h in result.hits if h.group is not None and h.group.value is None]
    assert len(lacking) == len(retriever.store.ids()) - _holding(retriever, field)
    assert all(h.group is not None and (h.group.size, h.group.matched) == (1, 1) for h in lacking)
    assert result.total == len(result.hits)


def _holding(retriever: Retriever, field: str) -> int:
    records = retriever.store.get_many(retriever.store.ids().tolist())
    return sum(r.metadata().get(field) is not None for r in records.values())


def test_group_members_are_listed_in_slice_order(ct_series_index_dir: Path) -> None:
    settings = Settings(index_dir=ct_series_index_dir, device="cpu")
    retriever = Retriever.open(settings)
    try:
        listing = retriever.group("series", "philips_s21570/s2020")
        assert (listing.value, len(listing.images)) == ("philips_s21570/s2020", 140)
        positions = [m.slice_position for m in listing.images]
        assert None not in positions and positions == sorted(positions)  # type: ignore[type-var]
        # text finds a field of numbers, as a filter does; images without a position come last
        one = retriever.group("instance_number", "1")
        assert one.value == 1 and len(one.images) == CT_SERIES_COUNT
        assert len(retriever.group("study", "ge").images) == 28
        with pytest.raises(NotFoundError):
            retriever.group("series", "no such series")
        with pytest.raises(NotFoundError):
            retriever.group("slice_position", "not a number")
        with pytest.raises(InvalidRequestError):
            retriever.group("no such field", "x")
    finally:
        retriever.close()
