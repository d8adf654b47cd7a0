"""Per-query values to reported figures: the value, its bootstrap interval and the query count.

Each figure is the mean of its per-query values (the median for ``median_rank``); queries with
a NaN value (nothing relevant to find) are left out, and ``n`` says how many remained. Values that
are not finite (a median rank beyond a truncated ranking) are reported as null.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from . import metrics
from .bootstrap import mean_of, median_of, percentile_interval
from .results import Figure, Figures, Interval, ZeroShotFigures

#: figures summarised by their median instead of their mean
MEDIAN_FIGURES = frozenset({"median_rank"})


def summarise(per_query: dict[str, npt.NDArray[np.float64]], rounds: int, seed: int) -> Figures:
    """Each figure of per-query values with its interval, and the number of queries."""
    out: dict[str, Figure] = {}
    n = 0
    for name, values in per_query.items():
        kept = values[~np.isnan(values)]
        n = max(n, len(kept))
        statistic = median_of(kept) if name in MEDIAN_FIGURES else mean_of(kept)
        if len(kept):
            value = float(np.median(kept)) if name in MEDIAN_FIGURES else float(kept.mean())
        else:
            value = math.nan
        interval = percentile_interval(statistic, len(kept), rounds, seed)
        out[name] = Figure(_plain(value), _interval(interval))
    return Figures(out, n)


def zero_shot_figures(
    truth: npt.NDArray[np.int64],
    predicted: npt.NDArray[np.int64],
    labels: list[str],
    rounds: int,
    seed: int,
    *,
    matrix: bool = True,
) -> ZeroShotFigures:
    """Accuracy, balanced accuracy and macro-F1 with intervals (and the confusion matrix)."""
    classes = len(labels)
    scores = metrics.classification_scores(metrics.confusion_matrix(truth, predicted, classes))
    out: dict[str, Figure] = {}
    for name, value in scores.items():

        def statistic(rows: npt.NDArray[np.int64], name: str = name) -> npt.NDArray[np.float64]:
            return np.array(
                [
                    metrics.classification_scores(
                        metrics.confusion_matrix(truth[r], predicted[r], classes)
                    )[name]
                    for r in rows
                ]
            )

        interval = percentile_interval(statistic, len(truth), rounds, seed)
        out[name] = Figure(_plain(value), _interval(interval))
    if not matrix:
        return ZeroShotFigures(out, len(truth))
    confusion = metrics.confusion_matrix(truth, predicted, classes).tolist()
    return ZeroShotFigures(out, len(truth), list(labels), confusion)


def _plain(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def _interval(interval: tuple[float, float] | None) -> Interval | None:
    return None if interval is None else (_plain(interval[0]), _plain(interval[1]))
