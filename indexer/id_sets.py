"""Membership of ids in a sorted array of ids (a filter's matches, an index's ids), by binary
search: a filter can match millions of images, and ``np.isin`` sorts them again at every call;
and a sorted array that grows at its end without copying what it holds.
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


#: how much room a :class:`GrowingIds` makes when it is full, as a share of what it holds
GROWTH = 0.25


class GrowingIds:
    """Sorted ids that higher ids are appended to, each append copying only the new ones (the
    ids of a ten-million-vector index are 80 MB, and a checkpoint adds a few thousand).

    The ids live at the start of a larger buffer; :meth:`view` hands out a read-only view of
    them, and an append writes past the end of every view handed out, so a view never changes.
    """

    def __init__(self, ids: IdArray) -> None:
        self._buffer = np.array(ids, dtype=np.int64)
        self._length = len(self._buffer)

    def view(self) -> IdArray:
        held = self._buffer[: self._length]
        held.flags.writeable = False
        return held

    def append(self, ids: IdArray) -> None:
        """Add ``ids``, sorted and each above every id held."""
        end = self._length + len(ids)
        if end > len(self._buffer):
            grown = np.empty(max(end, int(self._length * (1 + GROWTH))), dtype=np.int64)
            grown[: self._length] = self._buffer[: self._length]
            self._buffer = grown
        self._buffer[self._length : end] = ids
        self._length = end
