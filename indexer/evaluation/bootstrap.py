"""Seeded percentile bootstrap over queries: the 95% interval printed beside every figure.

The queries are drawn with replacement ``rounds`` times (one seeded generator, so a run gives the
same intervals every time), the statistic is computed on each resample, and the interval is the
2.5th and 97.5th percentile of those values. Queries are the unit resampled, as in the papers'
intervals: the interval says how much the figure depends on which queries happened to be asked.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

#: statistic of a resample: row indices [rounds, n] -> one value per round
Statistic = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]]

LEVEL = 0.95
#: resamples per chunk, so that rounds x queries indices never fill the memory
_CHUNK_CELLS = 4_000_000


def percentile_interval(
    statistic: Statistic, n: int, rounds: int, seed: int, level: float = LEVEL
) -> tuple[float, float] | None:
    """The ``level`` percentile interval of ``statistic`` over ``rounds`` resamples of n queries.

    None when there is nothing to resample (no query, or ``rounds`` 0).
    """
    if n == 0 or rounds == 0:
        return None
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_CELLS // n)
    values: list[npt.NDArray[np.float64]] = []
    for start in range(0, rounds, per_chunk):
        size = min(per_chunk, rounds - start)
        values.append(np.asarray(statistic(rng.integers(0, n, size=(size, n))), dtype=np.float64))
    drawn = np.concatenate(values)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(drawn, [tail, 100.0 - tail])
    return float(low), float(high)


def mean_of(values: npt.ArrayLike) -> Statistic:
    """The statistic "mean of the per-query ``values``"."""
    array = np.asarray(values, dtype=np.float64)
    return lambda rows: array[rows].mean(axis=1)


def median_of(values: npt.ArrayLike) -> Statistic:
    """The statistic "median of the per-query ``values``"."""
    array = np.asarray(values, dtype=np.float64)
    return lambda rows: np.median(array[rows], axis=1)


def overlapping(first: tuple[float, float] | None, second: tuple[float, float] | None) -> bool:
    """Whether two intervals share a point (a missing interval overlaps everything)."""
    if first is None or second is None:
        return True
    return first[0] <= second[1] and second[0] <= first[1]
