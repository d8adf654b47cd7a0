"""Cut-offs that adapt (min_relative, min_z) and each result's standing against the null,
against brute force from the stored vectors and the stored null distribution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.errors import InvalidRequestError
from indexer.search.retriever import Retriever
from indexer.storage.folder import NULL_SCORES_FILE
from tests.support.helpers import SAMPLE_COUNT, run_cli

QUERIES: list[dict[str, Any]] = [
    {"text": "chest X-ray with pleural effusion"},
    {"text": "histopathology slide"},
    {"image_id": 3},
    {"image_id": 20},
]
#: the null each query kind is judged by, as the README documents it
NULL_OF = {"text": "text", "image_id": "image", "vector": "random"}


def _null(retriever: Retriever, kind: str) -> np.ndarray:
    data = json.loads((retriever.folder.path / NULL_SCORES_FILE).read_text())
    return np.asarray(data["samples"][NULL_OF[kind]]["scores"], dtype=np.float64)


def _standing(null: np.ndarray, score: float) -> tuple[float, float]:
    """z and percentile of ``score``, computed the plain way from the stored scores."""
    mean = sum(null) / len(null)
    sd = (sum((s - mean) ** 2 for s in null) / len(null)) ** 0.5
    below = sum(1 for s in null if s < score)
    return (score - mean) / sd, 100.0 * below / len(null)


def _between(values: list[float], i: int) -> float:
    """A value halfway between the sorted ``values[i - 1]`` and ``values[i]``."""
    return (values[i - 1] + values[i]) / 2


def _exact_ranking(
    retriever: Retriever, query: dict[str, Any], filters: dict[str, Any] | None
) -> list[tuple[int, float]]:
    """Every eligible image with its exact score, best first (the query image left out)."""
    ids = retriever.store.ids_matching(filters) if filters else retriever.store.ids()
    ids = np.asarray([i for i in ids.tolist() if i != query.get("image_id")], dtype=np.int64)
    if "text" in query:
        vector = retriever.embed_text(query["text"])
    else:
        vector = retriever.vectors_for([query["image_id"]])[0]
    scores = retriever.vectors_for(ids.tolist()) @ vector
    return sorted(zip(ids.tolist(), scores.tolist(), strict=True), key=lambda pair: -pair[1])


@pytest.mark.parametrize("query", QUERIES)
def test_every_hit_carries_its_z_and_percentile(
    retriever: Retriever, query: dict[str, Any]
) -> None:
    (kind,) = query
    null = _null(retriever, kind)
    result = retriever.search(**query, k=SAMPLE_COUNT)
    assert result.hits
    for hit in result.hits:
        z, percentile = _standing(null, hit.score)
        assert hit.z == pytest.approx(z, abs=1e-9)
        assert hit.percentile == pytest.approx(percentile, abs=1e-9)
        assert hit.percentile is not None and 0 <= hit.percentile <= 100
    assert result.below_cut_off is None


def test_a_vector_query_is_judged_by_the_random_null(retriever: Retriever) -> None:
    vector = retriever.embed_text("MRI of the brain")
    null = _null(retriever, "vector")
    hit = retriever.search(vector=vector, k=1).hits[0]
    assert hit.z == pytest.approx(_standing(null, hit.score)[0], abs=1e-9)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("filters", [None, {"modality": "CR"}])
@pytest.mark.parametrize("share", [0.0, 0.5, 0.9, 0.99, 1.0])
def test_min_relative_keeps_what_brute_force_keeps(
    retriever: Retriever, query: dict[str, Any], filters: dict[str, Any] | None, share: float
) -> None:
    ranking = _exact_ranking(retriever, query, filters)
    top = ranking[0][1]
    floor = top - (1 - share) * abs(top)
    expected = [i for i, score in ranking if score >= floor]
    result = retriever.search(**query, k=SAMPLE_COUNT, filters=filters, min_relative=share)
    assert [hit.id for hit in result.hits] == expected
    assert result.hits[0].id == ranking[0][0]  # the top result always stays
    assert result.below_cut_off == len(ranking) - len(expected)


@pytest.mark.parametrize("query", QUERIES)
def test_min_z_keeps_what_brute_force_keeps(retriever: Retriever, query: dict[str, Any]) -> None:
    (kind,) = query
    null = _null(retriever, kind)
    ranking = _exact_ranking(retriever, query, None)
    zs = sorted(_standing(null, score)[0] for _, score in ranking)
    # cut-offs that keep everything, nothing and parts of the ranking (between two results'
    # z, so that float rounding of a score cannot move a result across)
    for min_z in [zs[0] - 1, *(_between(zs, i) for i in (1, len(zs) // 2, -1)), zs[-1] + 1]:
        expected = [i for i, score in ranking if _standing(null, score)[0] >= min_z]
        result = retriever.search(**query, k=SAMPLE_COUNT, min_z=min_z)
        assert [hit.id for hit in result.hits] == expected
        assert all(hit.z is not None and hit.z >= min_z for hit in result.hits)


def test_the_highest_of_several_cut_offs_applies(retriever: Retriever) -> None:
    query: dict[str, Any] = {"text": "axial CT of the abdomen"}
    ranking = _exact_ranking(retriever, query, None)
    null = _null(retriever, "text")
    scores = sorted(score for _, score in ranking)
    min_score = _between(scores, 2 * len(scores) // 3)
    min_z = _standing(null, _between(scores, len(scores) // 2))[0]
    both = retriever.search(**query, k=SAMPLE_COUNT, min_score=min_score, min_z=min_z)
    assert [hit.id for hit in both.hits] == [i for i, s in ranking if s >= min_score]
    # a share of 0 keeps the scores of at least 0 (top - |top|)
    both = retriever.search(**query, k=SAMPLE_COUNT, min_relative=0.0, min_z=min_z)
    assert [hit.id for hit in both.hits] == [
        i for i, s in ranking if s >= 0 and _standing(null, s)[0] >= min_z
    ]


def test_below_cut_off_counts_the_page_results_removed(retriever: Retriever) -> None:
    query: dict[str, Any] = {"text": "retinal fundus photograph"}
    ranking = _exact_ranking(retriever, query, None)
    min_score = (ranking[6][1] + ranking[7][1]) / 2  # seven images score at least this
    page = retriever.search(**query, k=5, offset=4, min_score=min_score)
    assert [hit.id for hit in page.hits] == [i for i, _ in ranking[4:7]]
    assert page.below_cut_off == 2
    assert page.to_dict()["below_cut_off"] == 2
    nothing = retriever.search(**query, k=10, min_relative=1.0, offset=1)
    assert nothing.hits == [] and nothing.below_cut_off == 10


def test_cut_offs_follow_collapse_and_group_levels(
    retriever: Retriever, ct_series_retriever: Retriever
) -> None:
    """At every level, min_z cuts as the min_score it stands for and z is the hit's standing."""
    cases: list[tuple[Retriever, dict[str, Any]]] = [
        (retriever, {"text": "chest", "collapse": "modality"}),
        (ct_series_retriever, {"text": "abdomen", "level": "series"}),
        (ct_series_retriever, {"image_id": 10, "level": "study"}),
    ]
    for searched, options in cases:
        kind = "text" if "text" in options else "image_id"
        null = _null(searched, kind)
        every = searched.search(**options, k=50)
        zs = sorted(hit.z for hit in every.hits if hit.z is not None)
        assert len(zs) == len(every.hits) > 1
        min_z = _between(zs, len(zs) // 2)
        floor = float(np.mean(null) + min_z * np.std(null))
        cut = searched.search(**options, k=50, min_z=min_z)
        as_score = searched.search(**options, k=50, min_score=floor)
        assert [h.id for h in cut.hits] == [h.id for h in as_score.hits]
        assert 0 < len(cut.hits) < len(every.hits)
        assert cut.below_cut_off == len(every.hits) - len(cut.hits)
        top = every.hits[0].score
        relative = searched.search(**options, k=50, min_relative=0.8)
        kept = [h.id for h in every.hits if h.score >= top - 0.2 * abs(top)]
        assert [h.id for h in relative.hits] == kept
        # the top is the query's, not the page's
        paged = searched.search(**options, k=2, offset=1, min_relative=0.8)
        assert [h.id for h in paged.hits] == kept[1:3]


def test_min_relative_outside_0_to_1_is_refused(retriever: Retriever) -> None:
    with pytest.raises(InvalidRequestError, match="between 0 and 1"):
        retriever.search(text="lung", min_relative=1.5)


def test_the_cli_shows_z_and_cuts(sample_index_dir: Path) -> None:
    query: list[str | Path] = [
        "search",
        sample_index_dir,
        "--text",
        "chest X-ray with pleural effusion",
    ]
    answer = json.loads(run_cli(*query, "--json"))
    first = answer["results"][0]
    shown = run_cli(*query, "-k", "1")
    assert f" z {first['z']:5.2f} p{first['percentile']:.1f}  #{first['id']} " in shown
    relative = json.loads(run_cli(*query, "--min-relative", "1", "--json"))
    assert [hit["id"] for hit in relative["results"]] == [first["id"]]
    assert relative["results"][0]["z"] == first["z"]
    assert relative["below_cut_off"] == 9
    empty = run_cli(*query, "--min-z", str(first["z"] + 1))
    assert "no image matches; 10 results were below the cut-off" in empty
