"""A small thread-safe LRU cache of query embeddings.

Repeated queries are common: the web page sends the same text or the same uploaded image again for
every further page and every filter change. Each embedding is 2 KB, so a thousand fit in 2 MB.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np


class QueryCache:
    """At most ``size`` vectors, the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._vectors: OrderedDict[Hashable, np.ndarray] = OrderedDict()

    def get_or_embed(self, key: Hashable, embed: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached vector for ``key``, or ``embed()`` stored under it (computed unlocked)."""
        with self._lock:
            cached = self._vectors.get(key)
            if cached is not None:
                self._vectors.move_to_end(key)
                return cached
        vector = embed()
        vector.setflags(write=False)  # shared between callers: nobody may change it in place
        with self._lock:
            self._vectors[key] = vector
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector

    def __len__(self) -> int:
        with self._lock:  # never seen between an insertion and its eviction
            return len(self._vectors)
