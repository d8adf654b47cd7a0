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
