"""The real ``medsearch serve`` process that the API, sign-in and browser tests talk to."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from search_api.process import ServiceProcess, run_service


@contextmanager
def serve(
    index_dir: Path,
    *,
    threads: int = 4,
    env: dict[str, str] | None = None,
    startup_timeout_s: float = 120.0,
) -> Iterator[ServiceProcess]:
    """Serve ``index_dir`` with the model on the CPU, whatever the machine has, plus ``env``."""
    settings = {"MEDSEARCH_DEVICE": "cpu", **(env or {})}
    with run_service(
        index_dir, threads=threads, env=settings, startup_timeout_s=startup_timeout_s
    ) as server:
        yield server
