"""The row-reading comparison of docs/benchmarks.md: every way reads the same rows, and is timed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.storage.vectors import VectorFile
from medsearch_bench.row_reads import compare, readers


def test_every_way_reads_the_same_rows_and_is_timed(tmp_path: Path) -> None:
    dim, rows = 64, 2000
    file = VectorFile(tmp_path / "vectors.f16", dim)
    vectors = np.random.default_rng(0).standard_normal((rows, dim)).astype(np.float32)
    file.write(np.arange(1, rows + 1), vectors)
    ids = np.array([3, 4, 5, 900, 1999], dtype=np.int64)
    expected = vectors[ids - 1].astype(np.float16)
    for name, read in readers(file.path, dim).items():
        np.testing.assert_array_equal(np.asarray(read(ids)), expected, err_msg=name)
    lines = compare(file.path, dim, per_query=50, queries=15)
    assert len(lines) == 5 and all("50 rows/query" in line and "p99" in line for line in lines)
