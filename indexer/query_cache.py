"""A small thread-safe LRU cache of what queries compute: embeddings, the ids a filter selects.

Repeated queries are common: the web page sends the same text or the same uploaded image again for
every further page and every filter change, and runs many queries under one filter. Each
embedding is 2 KB, so a thousand fit in 2 MB; a filter's ids can be millions, so a cache of them
is bounded by their total count instead (``weigh``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np


class QueryCache:
    """Arrays whose weights (``weigh``, 1 each by default) add up to at most ``size``, the least
    recently used dropped first. Cached arrays are read-only: every caller shares them."""

    def __init__(self, size: int, weigh: Callable[[np.ndarray], int] = lambda _: 1) -> None:
        self.size = size
        self._weigh = weigh
        self._lock = threading.Lock()
        self._values: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._weight = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached array for ``key``, or ``compute()`` stored under it (computed unlocked)."""
        with self._lock:
            cached = self._values.get(key)
            if cached is not None:
                self._values.move_to_end(key)
                return cached
        value = compute()
        value.setflags(write=False)  # shared between callers: nobody may change it in place
        with self._lock:
            previous = self._values.pop(key, None)
            if previous is not None:
                self._weight -= self._weigh(previous)
            self._values[key] = value
            self._weight += self._weigh(value)
            while self._weight > self.size and len(self._values) > 1:
                _, dropped = self._values.popitem(last=False)
                self._weight -= self._weigh(dropped)
        return value

    def __len__(self) -> int:
        with self._lock:  # never seen between an insertion and its eviction
            return len(self._values)
