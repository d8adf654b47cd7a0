"""Text to image: each caption asks for its own image (and, with groups, its group's images).

Served: the caption vectors go to :meth:`Retriever.search` for the top 50 (the largest K
reported); a relevant image not returned within that depth counts as not found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import metrics, scoring
from ..context import TaskContext
from ..inputs import Need
from ..scoring import PerQuery, Progress
from .base import PerQueryScores, Task

if TYPE_CHECKING:
    from ...search.retriever import Retriever

#: results asked of the served index per caption
SERVED_DEPTH = max(scoring.RECALL_KS)


def exact(context: TaskContext, progress: Progress) -> PerQueryScores:
    captions = context.captions
    assert captions is not None
    relevance = scoring.same_image(captions.rows, context.all_rows, context.groups)
    ranks = scoring.first_ranks_exact(
        captions.vectors, context.index.vectors, relevance, progress, context.collapse
    )
    return PerQueryScores(scoring.cross_modal(ranks), captions.rows)


def served(context: TaskContext, retriever: Retriever, progress: Progress) -> PerQuery:
    captions = context.captions
    assert captions is not None
    row_of_id = {int(image_id): row for row, image_id in enumerate(context.index.ids)}
    relevance = scoring.same_image(captions.rows, context.all_rows, context.groups)
    ranked = np.zeros((len(captions.rows), SERVED_DEPTH), dtype=bool)
    for q in range(len(captions.rows)):
        hits = retriever.search(vector=captions.vectors[q], k=SERVED_DEPTH).hits
        relevant = relevance(np.array([q]))[0][0]
        found = [relevant[row_of_id[h.id]] for h in hits]
        ranked[q, : len(found)] = found
        progress(1)
    return scoring.cross_modal(metrics.first_relevant_rank(ranked))


TASK = Task(
    name="text_to_image",
    title="text -> image",
    short="text→image",
    needs=frozenset({Need.CAPTIONS}),
    exact=exact,
    served=served,
    chart="recall",
    chart_figures=tuple(f"R@{k}" for k in scoring.RECALL_KS),
    mode="dense",
)
