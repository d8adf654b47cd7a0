"""Keyword and hybrid search on the sample index against brute-force BM25 and fusion.

BM25 is computed here in Python from the words of each record (FTS5's formula: k1 = 1.2,
b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)), at least 1e-6), and the fusion from that ranking
and an exact cosine ranking of every stored vector.
"""

from __future__ import annotations

import math
import re
import shutil
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer import ann
from indexer.encoders import Encoder
from indexer.errors import InvalidRequestError
from indexer.records import ImageRecord
from indexer.search import keywords
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.storage.folder import IndexFolder
from indexer.storage.keyword_index import indexed_text, query_terms
from indexer.storage.publish import publish

QUERY = "chest pneumonia opacities consolidation"


def words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFD", text.lower())
    return re.findall(r"[^\W_]+", "".join(c for c in folded if not unicodedata.combining(c)))


def records(retriever: Retriever) -> dict[int, ImageRecord]:
    return retriever.store.get_many(retriever.store.ids().tolist())


def bm25(documents: dict[int, str], query: str) -> list[tuple[int, float]]:
    """(id, BM25 score) of every document holding a query word, best first, ties by id."""
    docs = {image_id: Counter(words(body)) for image_id, body in documents.items()}
    n_docs = len(docs)
    average = sum(sum(c.values()) for c in docs.values()) / n_docs
    scored = []
    for image_id, counts in docs.items():
        length, score, held = sum(counts.values()), 0.0, False
        for term in dict.fromkeys(words(query)):
            holding = sum(1 for c in docs.values() if term in c)
            if not counts[term]:
                continue
            held = True
            idf = max(math.log((n_docs - holding + 0.5) / (holding + 0.5)), 1e-6)
            f = counts[term]
            score += idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * length / average))
        if held:
            scored.append((image_id, score))
    return sorted(scored, key=lambda pair: (-pair[1], pair[0]))


def brute_bm25(retriever: Retriever, query: str) -> list[tuple[int, float]]:
    """BM25 of every indexed image's words (caption, modality, text fields)."""
    documents = {
        image_id: indexed_text(r.caption, r.modality, r.extra)
        for image_id, r in records(retriever).items()
    }
    return bm25(documents, query)


def brute_dense(retriever: Retriever, query: str) -> list[int]:
    ids = retriever.store.ids()
    scores = retriever.vectors_for(ids.tolist()) @ retriever.embed_text(query)
    return [int(ids[i]) for i in np.argsort(-scores, kind="stable")]


def brute_rrf(rankings: list[list[int]]) -> list[tuple[int, float]]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, image_id in enumerate(ranking):
            fused[image_id] = fused.get(image_id, 0.0) + 1 / (60 + rank + 1)
    return sorted(fused.items(), key=lambda pair: -pair[1])


def ranked(retriever: Retriever, **kwargs: Any) -> list[tuple[int, float]]:
    result = retriever.search(k=100, **kwargs)
    return [(hit.id, hit.score) for hit in result.hits]


def test_keyword_ranking_is_brute_force_bm25(retriever: Retriever) -> None:
    expected = brute_bm25(retriever, QUERY)
    found = ranked(retriever, text=QUERY, mode="keyword")
    assert 3 <= len(found) < retriever.store.count()
    assert [i for i, _ in found] == [i for i, _ in expected]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-9)


def test_keyword_hits_list_the_words_their_images_hold(retriever: Retriever) -> None:
    result = retriever.search(text="Pneumonía ARDS zzzunknown", mode="keyword", k=50)
    assert result.hits
    for hit in result.hits:
        held = set(words(indexed_text(hit.caption, *_modality_extra(retriever, hit.id))))
        assert hit.matched_terms == tuple(t for t in ("pneumonia", "ards") if t in held)
        assert hit.matched_terms


def _modality_extra(retriever: Retriever, image_id: int) -> tuple[Any, Any]:
    record = retriever.get(image_id)
    return record.modality, record.extra


def test_keyword_filters_exclusions_and_pages_match_brute_force(retriever: Retriever) -> None:
    everything = records(retriever)
    expected = [
        i for i, _ in brute_bm25(retriever, QUERY) if everything[i].modality == "CR" and i != 2
    ]
    options: dict[str, Any] = {"text": QUERY, "mode": "keyword", "filters": {"modality": "CR"}}
    pages = [
        retriever.search(k=2, offset=offset, exclude_ids=[2], **options)
        for offset in range(0, len(expected) + 2, 2)
    ]
    assert [hit.id for page in pages for hit in page.hits] == expected
    assert {page.total for page in pages} == {len(expected)}


def test_hybrid_is_reciprocal_rank_fusion_of_both_rankings(retriever: Retriever) -> None:
    depth = keywords.HYBRID_DEPTH
    keyword_ids = [i for i, _ in brute_bm25(retriever, QUERY)][:depth]
    expected = brute_rrf([brute_dense(retriever, QUERY)[:depth], keyword_ids])
    found = ranked(retriever, text=QUERY, mode="hybrid")
    assert [s for _, s in found] == pytest.approx([s for _, s in expected][: len(found)])
    # ids may swap only between equal fused scores
    by_score: dict[float, set[int]] = {round(s, 12): set() for _, s in expected}
    for image_id, score in expected:
        by_score[round(score, 12)].add(image_id)
    assert all(i in by_score[round(s, 12)] for i, s in found)
    assert len(found) == len(expected) == retriever.search(text=QUERY, mode="hybrid").total


def test_fuse_matches_brute_force_on_random_rankings() -> None:
    rng = np.random.default_rng(7)
    rankings = [rng.permutation(500)[: rng.integers(1, 300)] for _ in range(3)]
    scores, ids = keywords.fuse(rankings)
    expected = dict(brute_rrf([r.tolist() for r in rankings]))
    assert dict(zip(ids.tolist(), scores.tolist(), strict=True)) == pytest.approx(expected)
    assert np.all(np.diff(scores) <= 0)


def test_collapsed_keyword_search_keeps_each_groups_best_image(retriever: Retriever) -> None:
    everything = records(retriever)
    groups: dict[Any, list[int]] = {}
    for image_id, _ in brute_bm25(retriever, QUERY):
        value = everything[image_id].metadata().get("label")
        groups.setdefault(value if value is not None else ("image", image_id), []).append(image_id)
    result = retriever.search(text=QUERY, mode="keyword", collapse="label", k=100)
    assert result.total == len(groups)
    assert [hit.id for hit in result.hits] == [members[0] for members in groups.values()]
    for hit, members in zip(result.hits, groups.values(), strict=True):
        assert hit.group is not None and hit.group.matched == len(members)
        assert [i for i, _ in hit.group.next] == members[1:4]


def test_facets_count_the_keyword_matches(retriever: Retriever) -> None:
    result = retriever.search(text=QUERY, mode="keyword", count_facets=True)
    assert result.facets is not None
    assert sum(count for _, count in result.facets["modality"]) == result.total


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "keyword", "image_id": 1}, "text alone"),
        ({"mode": "hybrid", "text": "x", "image_id": 1}, "text alone"),
        ({"mode": "keyword", "text": "x", "min_score": 0.1}, "cosine"),
        ({"mode": "keyword", "text": "x", "level": "series"}, "level"),
        ({"mode": "sparse", "text": "x"}, "mode must be"),
    ],
)
def test_wrong_keyword_requests_are_refused(
    retriever: Retriever, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        retriever.search(**options)


@settings(max_examples=150, deadline=None)
@given(
    st.text(max_size=40) | st.sampled_from(['"', 'a"b', "NEAR(a b)", "a* OR", "-x", "^y", "{b}:c"])
)
def test_odd_text_is_answered_or_refused_never_an_error(retriever: Retriever, text: str) -> None:
    result = retriever.search(text=text, mode="keyword", k=50)
    assert all(hit.matched_terms for hit in result.hits)
    assert (result.total > 0) <= bool(query_terms(text))


def test_a_text_without_words_matches_by_meaning_alone(retriever: Retriever) -> None:
    assert retriever.search(text=" ,;- ", mode="keyword").total == 0
    hybrid = retriever.search(text=" ,;- ", mode="hybrid", k=5)
    dense = retriever.search(text=" ,;- ", k=5)
    assert [h.id for h in hybrid.hits] == [h.id for h in dense.hits]
    assert all(h.matched_terms == () for h in hybrid.hits)


@pytest.fixture(scope="module", params=ann.INDEX_TYPES)
def typed_retriever(
    request: pytest.FixtureRequest,
    sample_index_dir: Path,
    tiny_encoder: Encoder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Retriever]:
    """The sample index republished as each index type."""
    copy = tmp_path_factory.mktemp(f"sample-{request.param}") / "index"
    shutil.copytree(sample_index_dir, copy)
    folder = IndexFolder(copy)
    with folder.open_store() as store:
        publish(folder, store, folder.read_info(), request.param)
    opened = Retriever.open(Settings(index_dir=copy, device="cpu"), encoder=tiny_encoder)
    yield opened
    opened.close()


def test_hybrid_pages_filters_and_collapse_work_on_every_index_type(
    typed_retriever: Retriever,
) -> None:
    options: dict[str, Any] = {"text": QUERY, "mode": "hybrid", "filters": {"modality": "CR"}}
    dense = typed_retriever.search(text=QUERY, k=100, filters={"modality": "CR"}, exclude_ids=[3])
    keyword = typed_retriever.search(
        text=QUERY, k=100, mode="keyword", filters={"modality": "CR"}, exclude_ids=[3]
    )
    expected = brute_rrf([[h.id for h in dense.hits], [h.id for h in keyword.hits]])
    pages = [
        typed_retriever.search(k=4, offset=offset, exclude_ids=[3], **options).hits
        for offset in range(0, len(expected), 4)
    ]
    found = [(hit.id, hit.score) for page in pages for hit in page]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected])
    assert {i for i, _ in found} == {i for i, _ in expected}
    collapsed = typed_retriever.search(collapse="label", k=100, **options)
    labels = [hit.group.value for hit in collapsed.hits if hit.group is not None]
    assert len(labels) == len(set(labels)) == collapsed.total
