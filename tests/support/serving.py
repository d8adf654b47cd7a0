"""The real ``medsearch serve`` process that the API, sign-in and browser tests talk to."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from search_api.process import ServiceProcess, run_service


@contextmanager
def serve(
    *index_dirs: Path | str,
    threads: int = 4,
    env: dict[str, str] | None = None,
    startup_timeout_s: float = 120.0,
) -> Iterator[ServiceProcess]:
    """Serve ``index_dirs`` (folders or ``NAME=DIR``) with the models on the CPU, whatever the
    machine has, plus ``env``."""
    settings = {"MEDSEARCH_DEVICE": "cpu", **(env or {})}
    with run_service(
        *index_dirs, threads=threads, env=settings, startup_timeout_s=startup_timeout_s
    ) as server:
        yield server


@contextmanager
def serve_fp32(
    *index_dirs: Path | str, thumbnails: Path, env: dict[str, str] | None = None
) -> Iterator[ServiceProcess]:
    """Serve ``index_dirs`` with two threads in fp32 and thumbnails rendered into
    ``thumbnails``, plus ``env``."""
    settings = {"MEDSEARCH_THUMBNAIL_DIR": str(thumbnails), "MEDSEARCH_PRECISION": "fp32"}
    with serve(*index_dirs, threads=2, env={**settings, **(env or {})}) as server:
        yield server
