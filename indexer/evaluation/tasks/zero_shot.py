"""Zero-shot classification: each labelled image takes the label whose prompt it is closest to.

The prompts fill :data:`~indexer.prompts.DEFAULT_TEMPLATE` with each label; the encoder turns
cosines into class probabilities as its model does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ...prompts import DEFAULT_TEMPLATE, fill_template
from .. import scoring
from ..context import TaskContext
from ..figures import zero_shot_figures
from ..inputs import Need
from ..results import ZeroShotFigures
from ..scoring import Progress
from .base import Task


@dataclass(frozen=True)
class ZeroShotScores:
    """The true and predicted class of each labelled image, and the classes by code."""

    truth: npt.NDArray[np.int64]
    predicted: npt.NDArray[np.int64]
    names: list[str]
    rows: npt.NDArray[np.int64]

    def figures(self, rounds: int, seed: int, *, detail: bool = True) -> ZeroShotFigures:
        return zero_shot_figures(
            self.truth, self.predicted, self.names, rounds, seed, matrix=detail
        )

    def within(self, keep: npt.NDArray[np.bool_]) -> ZeroShotScores:
        kept = keep[self.rows]
        return ZeroShotScores(self.truth[kept], self.predicted[kept], self.names, self.rows[kept])


def exact(context: TaskContext, progress: Progress) -> ZeroShotScores:
    labels = context.labels
    assert labels is not None
    prompts = [fill_template(DEFAULT_TEMPLATE, name) for name in labels.names]
    prompt_vectors = context.embed(prompts, "label prompts")
    predicted, truth = scoring.zero_shot(
        context.index.vectors[labels.rows] @ prompt_vectors.T,
        context.encoder.label_probabilities,
        labels.codes[labels.rows],
    )
    progress(len(labels.rows))
    return ZeroShotScores(truth, predicted, labels.names, labels.rows)


TASK = Task(
    name="zero_shot",
    title="zero-shot classification",
    short="zero-shot",
    needs=frozenset({Need.LABELS}),
    exact=exact,
    chart="map",
    chart_figures=("accuracy", "balanced_accuracy", "macro_f1"),
)
