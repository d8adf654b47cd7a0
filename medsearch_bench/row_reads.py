"""Ways of reading the rows a re-rank needs from ``vectors.f16``, timed against each other.

``python -m medsearch_bench.row_reads VECTORS_F16 DIM ROWS_PER_QUERY QUERIES`` reads, for each
of ``QUERIES`` seeded random sets of sorted rows, the same rows by each way in turn (so the
machine's load falls on every way alike) and prints the p50 and p99 milliseconds of each: a
plain memory map (whose touched pages stay resident), the bounded mapping of
:mod:`indexer.storage.row_table` at three budgets, and one ``pread`` per run of rows
(:meth:`~indexer.storage.vectors.VectorFile.read_stored`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from indexer.storage.row_table import RowTable
from indexer.storage.vectors import VectorFile

Reader = Callable[[npt.NDArray[np.int64]], object]


def readers(path: Path, dim: int) -> dict[str, Reader]:
    """Each way of reading rows by image id."""
    file = VectorFile(path, dim)
    rows = file.rows()
    mapped = file.memmap()
    ways: dict[str, Reader] = {"mapping, unbounded": lambda ids: np.asarray(mapped[ids - 1])}
    for budget_mib in (16, 256, 1024):
        ways[f"bounded mapping, {budget_mib} MiB"] = _by_id(
            RowTable(path, dim, rows, budget=budget_mib << 20)
        )
    ways["pread per run"] = file.read_stored
    return ways


def _by_id(table: RowTable) -> Reader:
    return lambda ids: table[ids - 1]


def compare(path: Path, dim: int, per_query: int, queries: int, seed: int = 0) -> list[str]:
    """One line per way: its p50 and p99 over the queries (the first ten left out)."""
    ways = readers(path, dim)
    rows = VectorFile(path, dim).rows()
    rng = np.random.default_rng(seed)
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(queries):
        ids = np.sort(rng.choice(rows, per_query, replace=False)) + 1
        for name, read in ways.items():
            started = time.perf_counter()
            read(ids)
            times[name].append((time.perf_counter() - started) * 1000)
    lines = []
    for name, taken in times.items():
        kept = np.asarray(taken[10:] or taken)
        p50, p99 = np.percentile(kept, 50), np.percentile(kept, 99)
        lines.append(f"{per_query} rows/query, {name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    return lines


if __name__ == "__main__":
    path, dim, per_query, queries = sys.argv[1:5]
    print("\n".join(compare(Path(path), int(dim), int(per_query), int(queries))))
