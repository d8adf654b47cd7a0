"""A small thread-safe LRU cache of what queries compute: embeddings, the ids a filter selects,
facet counts under a filter.

Repeated queries are common: the web page sends the same text or the same uploaded image again for
every further page and every filter change, and runs many queries under one filter. Each
embedding is 2 KB, so a thousand fit in 2 MB; a filter's ids can be millions, so a cache of them
is bounded by their total count instead (``weigh``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

V = TypeVar("V")


class QueryCache(Generic[V]):
    """Values whose weights (``weigh``, 1 each by default) add up to at most ``size``, the least
    recently used dropped first. Every caller shares a cached value: arrays are made read-only,
    and other values must not be changed in place."""

    def __init__(self, size: int, weigh: Callable[[V], int] = lambda _: 1) -> None:
        self.size = size
        self._weigh = weigh
        self._lock = threading.Lock()
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._weight = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value for ``key``, or ``compute()`` stored under it (computed unlocked)."""
        with self._lock:
            cached = self._values.get(key)
            if cached is not None:
                self._values.move_to_end(key)
                return cached
        value = compute()
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
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
