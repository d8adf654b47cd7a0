"""Benchmarks of MedSearch on the machine at hand: indexing rate, query latency, index scale.

Each module returns plain dicts (the ``medsearch bench`` commands print them as tables or JSON):

* :mod:`indexer.bench.corpus` writes a seeded benchmark corpus from ``data/sample``;
* :mod:`indexer.bench.index_bench` times the real indexing pipeline against two references;
* :mod:`indexer.bench.query_bench` times text and image queries in process and over HTTP;
* :mod:`indexer.bench.scale_bench` builds a large synthetic index and measures it;
* :mod:`indexer.bench.stats` holds percentiles, memory readings and machine facts.
"""

from __future__ import annotations

from collections.abc import Callable

#: where a benchmark reports what it is doing (a line of text); the CLI prints it on stderr
LogFn = Callable[[str], None]


def no_log(message: str) -> None:
    """A :data:`LogFn` that drops every message."""


__all__ = ["LogFn", "no_log"]
