"""Series- and study-level search on real CT series, against brute force over the group vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.errors import InvalidRequestError, NotFoundError
from indexer.records import MetadataValue
from indexer.search.levels import level_field
from indexer.search.retriever import Retriever
from indexer.storage.filters import Filters
from indexer.storage.folder import IndexFolder
from indexer.storage.group_files import load_groups
from tests.support.ct_series import CT_STUDY_COUNT
from tests.support.helpers import run_cli


def _brute_force(
    retriever: Retriever, field: str, query: np.ndarray, filters: Filters | None = None
) -> list[tuple[MetadataValue, float]]:
    """Every group of ``field`` with any image matching ``filters``, by the cosine of
    ``query`` with the normalised mean of its images' stored vectors, best first."""
    allowed = set(retriever.store.ids_matching(filters).tolist()) if filters else None
    ids, values = retriever.store.field_values(field)
    members: dict[MetadataValue, list[int]] = {}
    for image_id, value in zip(ids.tolist(), values, strict=True):
        members.setdefault(value, []).append(image_id)
    scored = []
    for value, group_ids in members.items():
        if allowed is not None and not allowed & set(group_ids):
            continue
        mean = retriever.vectors_for(group_ids).astype(np.float64).mean(axis=0)
        scored.append((value, float(query @ (mean / np.linalg.norm(mean)))))
    return sorted(scored, key=lambda pair: -pair[1])


@pytest.mark.parametrize("field", ["series", "study"])
@pytest.mark.parametrize(
    "filters", [None, {"slice_thickness": 5.0}, {"study": "philips_s21570"}, {"format": "png"}]
)
def test_a_level_search_ranks_groups_as_brute_force_over_their_mean_vectors(
    ct_series_retriever: Retriever, field: str, filters: Filters | None
) -> None:
    level = f"group:{field}"
    for query in ("head CT", "axial brain slice"):
        expected = _brute_force(
            ct_series_retriever, field, ct_series_retriever.embed_text(query), filters
        )
        result = ct_series_retriever.search(text=query, level=level, k=10, filters=filters)
        assert result.total == len(expected)
        got = [(hit.group.value, hit.score) for hit in result.hits if hit.group]
        assert [value for value, _ in got] == [value for value, _ in expected]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=2e-3)
    # pages of one group each make up the whole ranking
    paged = [
        ct_series_retriever.search(text="head CT", level=level, k=1, offset=offset, filters=filters)
        for offset in range(len(expected))
    ]
    assert [page.hits[0].group.value for page in paged if page.hits[0].group] == [
        value
        for value, _ in _brute_force(
            ct_series_retriever, field, ct_series_retriever.embed_text("head CT"), filters
        )
    ]


def test_a_group_result_is_its_representative_image_with_its_size_and_best_images(
    ct_series_retriever: Retriever, ct_series_index_dir: Path
) -> None:
    folder = IndexFolder(ct_series_index_dir)
    table = load_groups(folder, folder.read_info(), "series").table
    query = ct_series_retriever.embed_text("head CT")
    result = ct_series_retriever.search(
        text="head CT", level="group:series", k=4, filters={"slice_thickness": 5.0}
    )
    assert len(result.hits) == 1  # only philips_s21570/s2010 has 5 mm slices
    hit = result.hits[0]
    assert hit.group is not None and hit.group.value == "philips_s21570/s2010"
    group = table.find("philips_s21570/s2010")
    assert group is not None
    assert hit.id == table.representatives[group]
    assert hit.group.size == 28 and hit.group.matched == 28
    members = table.member_ids(group)
    scores = ct_series_retriever.vectors_for(members.tolist()) @ query
    best = [int(members[i]) for i in np.argsort(-scores, kind="stable") if members[i] != hit.id]
    assert [image_id for image_id, _ in hit.group.next] == best[:3]
    assert hit.to_dict()["group"]["next"][0]["id"] == best[0]


@pytest.mark.parametrize("field", ["series", "study", "series_key", "study_key"])
def test_similar_series_of_a_series_returns_itself_first(
    ct_series_retriever: Retriever, field: str
) -> None:
    _, values = ct_series_retriever.store.field_values(field)
    for value in sorted({str(v) for v in values}):
        result = ct_series_retriever.search(group=value, level=f"group:{field}", k=10)
        assert result.hits[0].group is not None
        assert result.hits[0].group.value == value
        assert result.hits[0].score == pytest.approx(1.0, abs=2e-3)
        assert [h.score for h in result.hits] == sorted(
            (h.score for h in result.hits), reverse=True
        )


def test_level_errors_say_what_is_wrong(ct_series_retriever: Retriever) -> None:
    with pytest.raises(InvalidRequestError, match="patient_key"):
        ct_series_retriever.search(text="head", level="group:patient_key")
    with pytest.raises(InvalidRequestError, match="level must be"):
        ct_series_retriever.search(text="head", level="volume")
    with pytest.raises(InvalidRequestError, match="group level"):
        ct_series_retriever.search(group="ge")
    with pytest.raises(InvalidRequestError, match="not text and group"):
        ct_series_retriever.search(text="head", group="ge", level="group:series")
    with pytest.raises(NotFoundError, match="no group"):
        ct_series_retriever.search(group="nowhere", level="group:series")
    assert level_field("study") == "study_key" and level_field("image") is None


def test_the_cli_searches_series_and_finds_similar_ones(
    ct_series_index_dir: Path, tiny_model_dir: Path
) -> None:
    import json

    out = run_cli(
        "search", ct_series_index_dir, "--group", "ge", "--level", "group:series", "--json"
    )
    results = json.loads(out)["results"]
    assert results[0]["group"]["value"] == "ge" and results[0]["group"]["size"] == 28
    out = run_cli("search", ct_series_index_dir, "--text", "head", "--level", "group:study")
    assert "study=philips_s21570: 168 images, 168 matched" in out


def test_collapse_at_a_group_level_keeps_the_best_series_of_each_study(
    ct_series_retriever: Retriever,
) -> None:
    query = ct_series_retriever.embed_text("head CT")
    every = ct_series_retriever.search(vector=query, level="series", k=50)
    best_per_study: dict[str, int] = {}
    for hit in every.hits:  # best first: the first series seen of a study is its best
        best_per_study.setdefault(str(hit.metadata["study_key"]), hit.id)
    collapsed = ct_series_retriever.search(vector=query, level="series", collapse="study_key")
    assert [hit.id for hit in collapsed.hits] == list(best_per_study.values())
    assert collapsed.total == len(best_per_study) == CT_STUDY_COUNT
    paged = ct_series_retriever.search(
        vector=query, level="series", collapse="study_key", k=1, offset=1
    )
    assert [hit.id for hit in paged.hits] == list(best_per_study.values())[1:2]
