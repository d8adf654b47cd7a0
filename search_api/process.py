"""``medsearch serve`` in a child process on a free loopback port, for programs that drive it.

The benchmarks load it with HTTP clients and the tests query it as a browser would; both need the
real service, started the way a user starts it, and stopped cleanly afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import MedSearchError

HOST = "127.0.0.1"
#: seconds between two looks at /api/health while the service starts
_POLL_S = 0.05
# loopback only, never through a proxy from the environment
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServiceStartError(MedSearchError):
    """The child service exited or did not answer /api/health in time."""

    code = "service_start_failed"


@dataclass(frozen=True)
class ServiceProcess:
    """A running service: its process, base URL, output file and start-up time."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    startup_s: float

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_service(
    *index_dirs: Path | str,
    threads: int = 8,
    env: Mapping[str, str | None] | None = None,
    startup_timeout_s: float = 120.0,
    program: Sequence[str | Path] = (sys.executable, "-m", "indexer"),
    cwd: Path | None = None,
) -> Iterator[ServiceProcess]:
    """Run ``medsearch serve INDEX_DIR...`` until the block ends, once it answers /api/health.

    Each of ``index_dirs`` is a folder or a ``NAME=DIR`` string, as on the command line.
    ``program`` is the ``medsearch`` command to run (by default this interpreter's), in ``cwd``.

    The child gets this process's environment without ``MEDSEARCH_API_TOKEN`` (a token only when
    ``env`` asks for one), plus ``env``, where None removes a variable. Raises
    :class:`ServiceStartError` with the end of its output if it exits or stays silent for
    ``startup_timeout_s``.
    """
    port = free_port()
    command = [*map(str, program), "serve", *map(str, index_dirs)]
    command += ["--host", HOST, "--port", str(port), "--threads", str(threads)]
    child_env = {k: v for k, v in os.environ.items() if k != "MEDSEARCH_API_TOKEN"}
    for name, value in (env or {}).items():
        if value is None:
            child_env.pop(name, None)
        else:
            child_env[name] = value
    with tempfile.TemporaryDirectory(prefix="medsearch-serve-") as tmp:
        log_path = Path(tmp) / "serve.log"
        started = time.perf_counter()
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=child_env, cwd=cwd
            )
        try:
            _wait_healthy(process, f"http://{HOST}:{port}", log_path, startup_timeout_s)
            yield ServiceProcess(process, port, log_path, time.perf_counter() - started)
        finally:
            _stop(process)


def _wait_healthy(
    process: subprocess.Popen[bytes], base: str, log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceStartError(
                f"medsearch serve exited with status {process.returncode}: {_tail(log_path)}"
            )
        try:
            with _OPENER.open(base + "/api/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(_POLL_S)
    raise ServiceStartError(f"medsearch serve did not answer within {timeout_s:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"
