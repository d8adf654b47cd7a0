"""Benchmarks of MedSearch on the machine at hand: indexing, queries, scale, soak, hostile files.

A package beside the core library, registered as the ``medsearch bench`` commands
(:mod:`medsearch_bench.cli`). Each module returns plain dicts, which the commands print as tables
(:mod:`medsearch_bench.report`) or as JSON:

* :mod:`medsearch_bench.corpus` writes a seeded benchmark corpus from the sample images;
* :mod:`medsearch_bench.index_bench` times the real indexing pipeline against two references;
* :mod:`medsearch_bench.query_bench` times text and image queries in process and over HTTP;
* :mod:`medsearch_bench.scale_bench` builds a large synthetic index and measures it;
* :mod:`medsearch_bench.precision_bench` compares reduced-precision embeddings with fp32 ones;
* :mod:`medsearch_bench.soak_bench` loads a served index for a long time while it is republished;
* :mod:`medsearch_bench.fuzz_bench` decodes mutated sample files in watched child processes;
* :mod:`medsearch_bench.stats` holds percentiles, memory readings and machine facts.

Like every front end, it reaches torch, FAISS and SQLite only through :mod:`indexer`.
"""

from __future__ import annotations

from collections.abc import Callable

#: where a benchmark reports what it is doing (a line of text); the CLI prints it on stderr
LogFn = Callable[[str], None]


def no_log(message: str) -> None:
    """A :data:`LogFn` that drops every message."""


__all__ = ["LogFn", "no_log"]
