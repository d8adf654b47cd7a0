"""Image to text: each captioned image asks for its own caption (and its group's captions)."""

from __future__ import annotations

from .. import scoring
from ..context import TaskContext
from ..inputs import Need
from ..scoring import Progress
from .base import PerQueryScores, Task


def exact(context: TaskContext, progress: Progress) -> PerQueryScores:
    captions = context.captions
    assert captions is not None
    relevance = scoring.same_image(captions.rows, captions.rows, context.groups)
    queries = context.index.vectors[captions.rows]
    ranks = scoring.first_ranks_exact(queries, captions.vectors, relevance, progress)
    return PerQueryScores(scoring.cross_modal(ranks), captions.rows)


TASK = Task(
    name="image_to_text",
    title="image -> text",
    short="image→text",
    needs=frozenset({Need.CAPTIONS}),
    exact=exact,
    chart="recall",
    chart_figures=tuple(f"R@{k}" for k in scoring.RECALL_KS),
)
