"""Image to image: each labelled image asks for the other images of its label.

The leakage-free variant excludes the images of the query's own group (case, patient), which
would otherwise be found for being the same case rather than the same finding, and with
``--exclude-duplicates COS`` its near-duplicate cluster at that cosine. Both leave out
the query's own series where the index has series keys (unless ``--include-own-series``):
neighbouring slices are near copies of the query.

Served: indexed ids go to :meth:`Retriever.search` with the query itself excluded (top 10).
R-precision needs the whole ranking, so it stays exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import scoring
from ..context import TaskContext
from ..inputs import Need
from ..scoring import PerQuery, Progress
from .base import PerQueryScores, Task

if TYPE_CHECKING:
    from ...search.retriever import Retriever

CHART_FIGURES = (f"mAP@{scoring.IMAGE_K}", f"P@{scoring.IMAGE_K}", "R-precision")


def exact(context: TaskContext, progress: Progress) -> PerQueryScores:
    return _exact(context, progress, leakage_free=False)


def exact_leakage_free(context: TaskContext, progress: Progress) -> PerQueryScores:
    return _exact(context, progress, leakage_free=True)


def _exact(context: TaskContext, progress: Progress, *, leakage_free: bool) -> PerQueryScores:
    labels = context.labels
    assert labels is not None
    groups = context.groups if leakage_free else None
    duplicates = context.duplicates if leakage_free else None
    relevance = scoring.same_label(
        labels.rows, labels.codes, groups, context.own_series, duplicates
    )
    vectors = context.index.vectors
    values = scoring.image_to_image_exact(
        vectors, labels.rows, relevance, progress, context.collapse
    )
    return PerQueryScores(values, labels.rows)


def served(context: TaskContext, retriever: Retriever, progress: Progress) -> PerQuery:
    labels = context.labels
    assert labels is not None
    ids = context.index.ids
    row_of_id = {int(image_id): row for row, image_id in enumerate(ids)}
    relevance = scoring.same_label(labels.rows, labels.codes, context.own_series)
    ranked = np.zeros((len(labels.rows), scoring.IMAGE_K), dtype=bool)
    n_relevant = np.zeros(len(labels.rows), dtype=np.int64)
    for q, row in enumerate(labels.rows):
        image_id = int(ids[row])
        relevant, excluded = relevance(np.array([q]))
        left_out = ids[excluded[0]].tolist()  # the query, and its own series where left out
        hits = retriever.search(image_id=image_id, k=scoring.IMAGE_K, exclude_ids=left_out).hits
        relevant = relevant[0] & ~excluded[0]
        n_relevant[q] = relevant.sum()
        found = [relevant[row_of_id[h.id]] for h in hits]
        ranked[q, : len(found)] = found
        progress(1)
    values = scoring.image_to_image(ranked, n_relevant)
    values.pop("R-precision")
    return values


TASK = Task(
    name="image_to_image",
    title="image -> image (same {label})",
    short="image→image",
    needs=frozenset({Need.LABELS}),
    exact=exact,
    served=served,
    chart="map",
    chart_figures=CHART_FIGURES,
)
LEAKAGE_FREE = Task(
    name="image_to_image_leakage_free",
    title="image -> image (same {label}), own group or near-duplicates excluded",
    short="leakage-free",
    needs=frozenset({Need.LABELS, Need.GROUPS}),
    exact=exact_leakage_free,
    chart="map",
    chart_figures=CHART_FIGURES,
)
