"""Start a real ``medsearch serve`` process on a free loopback port, for the tests that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
# loopback only, never through a proxy from the environment
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Server:
    """A running service: its base URL and the file that collects its output."""

    url: str
    log_path: Path


@contextmanager
def serve(
    index_dir: Path,
    *,
    threads: int = 4,
    env: dict[str, str] | None = None,
    startup_timeout_s: float = 120.0,
) -> Iterator[Server]:
    """Run ``medsearch serve INDEX_DIR`` until the block ends.

    The child gets this environment without ``MEDSEARCH_API_TOKEN``, plus ``env``.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port = int(sock.getsockname()[1])
    command = [sys.executable, "-m", "indexer", "serve", str(index_dir)]
    command += ["--host", HOST, "--port", str(port), "--threads", str(threads)]
    child_env = {k: v for k, v in os.environ.items() if k != "MEDSEARCH_API_TOKEN"}
    child_env.update(env or {})
    base = f"http://{HOST}:{port}"
    with tempfile.TemporaryDirectory(prefix="medsearch-test-serve-") as tmp:
        log_path = Path(tmp) / "serve.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=child_env)
        try:
            _wait_healthy(process, base, log_path, startup_timeout_s)
            yield Server(base, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _wait_healthy(
    process: subprocess.Popen[bytes], base: str, log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")
            raise RuntimeError(f"medsearch serve exited with {process.returncode}:\n{log}")
        try:
            with OPENER.open(base + "/api/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"medsearch serve did not answer within {timeout_s:.0f} s")
