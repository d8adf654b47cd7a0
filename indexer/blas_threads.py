"""One BLAS thread for the NumPy products of a service.

A search's exact re-rank and filtered scoring are NumPy products, run by OpenBLAS's own thread
team. After each product those threads spin for a while before they sleep, on the cores the
model's threads need for the next query's embedding: on two cores a text query embedded right
after a search took about twice as long (docs/benchmarks.md, "Ten million vectors: the last
targets"). A service's products are small, one query at a time, so one thread each loses
little; request threads still run side by side.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

#: BLAS threads per product in a service
SERVING_BLAS_THREADS = 1


def limit_blas_threads(threads: int = SERVING_BLAS_THREADS) -> None:
    """Every BLAS library loaded in this process (NumPy's, FAISS's) runs ``threads`` threads
    per call from now on."""
    threadpool_limits(limits=threads, user_api="blas")
