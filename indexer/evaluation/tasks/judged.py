"""Judged queries (``--queries``): nDCG@10 and recall@K of the user's queries and graded images."""

from __future__ import annotations

from .. import scoring
from ..context import TaskContext
from ..inputs import Need
from ..scoring import Progress
from .base import PerQueryScores, Task


def exact(context: TaskContext, progress: Progress) -> PerQueryScores:
    judged = context.judged
    assert judged is not None
    vectors = context.embed(judged.texts, "judged queries")
    values = scoring.judged_retrieval(vectors, context.index.vectors, judged.gains, progress)
    return PerQueryScores(values, None)


TASK = Task(
    name="queries",
    title="judged queries",
    short="judged",
    needs=frozenset({Need.QUERIES}),
    exact=exact,
)
