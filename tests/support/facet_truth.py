"""Facet counts under a score cut-off by brute force over the stored vectors: the truth the
Retriever and the API are held to."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from indexer.search.retriever import Retriever

#: the sample's fields whose counts the tests compare
FIELDS = ("format", "modality", "body_part", "label")


def scores_of_every_image(retriever: Retriever, query: np.ndarray) -> dict[int, float]:
    """Each indexed image's score for ``query``, from its stored vector."""
    ids = retriever.store.ids()
    scores = retriever.vectors_for(ids.tolist()) @ query
    return {int(i): float(s) for i, s in zip(ids, scores, strict=True)}


def cut_below_rank(scores: Collection[float], rank: int) -> float:
    """A cut-off that keeps exactly the ``rank`` best scores: halfway to the next one, so that
    no rounding puts an image on the wrong side."""
    ordered = sorted(scores, reverse=True)
    return (ordered[rank - 1] + ordered[rank]) / 2


def brute_force_facets(
    retriever: Retriever,
    query: np.ndarray,
    min_score: float,
    filters: Mapping[str, Any] | None = None,
    exclude: Collection[int] = (),
) -> dict[str, Counter]:
    """Per field, the values of the images scoring at least ``min_score`` and matching the
    filters on the other fields, counted."""
    scores = scores_of_every_image(retriever, query)
    kept = [i for i, s in scores.items() if s >= min_score and i not in exclude]
    metadata = [retriever.get(i).metadata() for i in kept]
    wanted = {f: v if isinstance(v, list) else [v] for f, v in (filters or {}).items()}

    def matches_others(meta: dict[str, Any], field: str) -> bool:
        return all(meta.get(f) in values for f, values in wanted.items() if f != field)

    return {
        field: Counter(
            meta[field]
            for meta in metadata
            if meta.get(field) is not None and matches_others(meta, field)
        )
        for field in FIELDS
    }


def as_counters(facets: Mapping[str, list[tuple[Any, int]]]) -> dict[str, Counter]:
    """The Retriever's facets of :data:`FIELDS` as counters."""
    return {field: Counter(dict(facets.get(field, []))) for field in FIELDS}
