"""A service's NumPy products run on one BLAS thread."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from indexer.blas_threads import SERVING_BLAS_THREADS, limit_blas_threads


def test_every_loaded_blas_runs_one_thread_per_product() -> None:
    with threadpool_limits(limits=None):  # the test process's own limits come back after
        limit_blas_threads()
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas, "NumPy loads a BLAS"
        assert {pool["num_threads"] for pool in blas} == {SERVING_BLAS_THREADS}
        rows = np.random.default_rng(0).standard_normal((3200, 512)).astype(np.float32)
        query = rows[7] / np.linalg.norm(rows[7])
        np.testing.assert_allclose((rows @ query)[7], np.linalg.norm(rows[7]), rtol=1e-4)
