"""The LRU cache of query embeddings."""

from __future__ import annotations

import functools
import threading

import numpy as np
import pytest

from indexer.query_cache import QueryCache


def test_least_recently_used_is_dropped_first() -> None:
    cache: QueryCache[np.ndarray] = QueryCache(size=2)
    embedded: list[str] = []

    def embed(key: str) -> np.ndarray:
        embedded.append(key)
        return np.full(4, len(embedded), dtype=np.float32)

    for key in ["a", "b", "a", "c", "a", "b"]:
        cache.get_or_compute(key, functools.partial(embed, key))
    # "b" was dropped when "c" came in ("a" had just been used), then came back.
    assert embedded == ["a", "b", "c", "b"]
    assert len(cache) == 2


def test_cached_vectors_are_read_only() -> None:
    cache: QueryCache[np.ndarray] = QueryCache(size=4)
    vector = cache.get_or_compute("q", lambda: np.ones(3, dtype=np.float32))
    assert cache.get_or_compute("q", lambda: np.zeros(3, dtype=np.float32)) is vector
    with pytest.raises(ValueError):
        vector[0] = 2.0


def test_the_cache_stays_bounded_under_concurrent_distinct_queries() -> None:
    cache: QueryCache[np.ndarray] = QueryCache(size=16)
    seen_sizes: list[int] = []

    def client(number: int) -> None:
        for query in range(500):
            cache.get_or_compute((number, query), lambda: np.ones(512, dtype=np.float32))
            seen_sizes.append(len(cache))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen_sizes) == 8 * 500
    assert max(seen_sizes) == len(cache) == 16


def test_a_weighted_cache_keeps_the_total_weight_within_its_size() -> None:
    cache: QueryCache[np.ndarray] = QueryCache(size=5, weigh=len)
    cache.get_or_compute("a", lambda: np.arange(3))
    cache.get_or_compute("b", lambda: np.arange(2))
    assert len(cache) == 2  # 3 + 2 fit
    cache.get_or_compute("c", lambda: np.arange(3))
    assert len(cache) == 2  # "a", the least recently used, went
    assert cache.get_or_compute("b", lambda: np.zeros(1)).tolist() == [0, 1]
    assert cache.get_or_compute("a", lambda: np.zeros(1)).tolist() == [0]
    big = cache.get_or_compute("big", lambda: np.arange(9))
    assert len(cache) == 1 and cache.get_or_compute("big", lambda: np.zeros(1)) is big
