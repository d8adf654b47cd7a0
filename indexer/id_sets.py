"""Membership of ids in a sorted array of ids (a filter's matches, an index's ids), by binary
search: a filter can match millions of images, and ``np.isin`` sorts them again at every call.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IdArray = npt.NDArray[np.int64]


def in_sorted(ids: IdArray, pool: IdArray) -> npt.NDArray[np.bool_]:
    """For each of ``ids``, whether it is in ``pool`` (ascending, no repeats)."""
    ids = np.asarray(ids, dtype=np.int64)
    if not len(pool) or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(pool, ids), len(pool) - 1)
    return np.asarray(pool[at] == ids)


def not_in_sorted(ids: IdArray, pool: IdArray) -> IdArray:
    """The ``ids`` not in ``pool`` (ascending, no repeats), in their order."""
    return np.asarray(ids, dtype=np.int64)[~in_sorted(ids, pool)]
