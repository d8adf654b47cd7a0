"""A ``medsearch serve`` subprocess on 127.0.0.1 and keep-alive clients that load it.

Traffic only ever goes to the loopback address, every loop is bounded by a deadline and a request
count, and the server process is always stopped (terminate, then kill) when the block ends.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.errors import MedSearchError

from .stats import process_memory_mb

HOST = "127.0.0.1"
#: requests one client may send in one phase, whatever the duration
MAX_REQUESTS_PER_CLIENT = 100_000
REQUEST_TIMEOUT_S = 120.0


class BenchServerError(MedSearchError):
    """The benchmark's server did not start or answer."""

    code = "bench_server_error"


@dataclass(frozen=True)
class Request:
    """One HTTP request: method, path, body and headers."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str]


def json_request(path: str, payload: dict[str, Any]) -> Request:
    """A POST with a JSON body."""
    return Request("POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def multipart_request(
    path: str, fields: dict[str, str], file_field: str, filename: str, data: bytes, mime: str
) -> Request:
    """A POST with a multipart/form-data body holding ``fields`` and one file."""
    boundary = uuid.UUID(int=0x5EED).hex  # fixed: the body never contains it
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: {mime}\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return Request(
        "POST", path, b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )


@dataclass
class LoadResult:
    """Latencies (ms) of the successful requests and the errors of one load phase."""

    latencies_ms: list[float] = field(default_factory=list)
    #: the server's own "timings_ms.total" of each answer (embed + search, no HTTP), when given
    server_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.errors

    def note_error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_examples) < 5:
            self.error_examples.append(message[:200])


class Client:
    """One keep-alive HTTP/1.1 connection to the server (reconnects after a failure)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._conn: http.client.HTTPConnection | None = None

    def send(self, request: Request) -> tuple[int, bytes]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            self._conn.request(request.method, request.path, request.body, request.headers)
            response = self._conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def run_sequential(port: int, requests: list[Request]) -> LoadResult:
    """Send ``requests`` one after another on one connection."""
    result = LoadResult()
    client = Client(port)
    started = time.perf_counter()
    try:
        for request in requests:
            _timed_send(client, request, result)
    finally:
        client.close()
    result.seconds = time.perf_counter() - started
    return result


def run_concurrent(
    port: int, clients: int, duration_s: float, make_request: Callable[[int, int], Request]
) -> LoadResult:
    """``clients`` threads, each with its own connection, sending until ``duration_s`` is up.

    ``make_request(client, number)`` gives each client's next request.
    """
    results = [LoadResult() for _ in range(clients)]
    start_gate = threading.Barrier(clients + 1)
    deadline_box: list[float] = []

    def worker(number: int) -> None:
        client = Client(port)
        result = results[number]
        try:
            start_gate.wait()
            deadline = deadline_box[0]
            sent = 0
            while time.perf_counter() < deadline and sent < MAX_REQUESTS_PER_CLIENT:
                _timed_send(client, make_request(number, sent), result)
                sent += 1
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline_box.append(started + duration_s)
    start_gate.wait()
    for thread in threads:
        thread.join(timeout=duration_s + 2 * REQUEST_TIMEOUT_S)
    merged = LoadResult(seconds=time.perf_counter() - started)
    for result in results:
        merged.latencies_ms.extend(result.latencies_ms)
        merged.server_ms.extend(result.server_ms)
        merged.errors += result.errors
        merged.error_examples.extend(result.error_examples[: 5 - len(merged.error_examples)])
    return merged


def _timed_send(client: Client, request: Request, result: LoadResult) -> None:
    started = time.perf_counter()
    try:
        status, body = client.send(request)
    except (OSError, http.client.HTTPException) as exc:
        result.note_error(f"{type(exc).__name__}: {exc}")
        return
    elapsed_ms = (time.perf_counter() - started) * 1000
    if status != 200:
        result.note_error(f"HTTP {status}: {body[:150].decode(errors='replace')}")
        return
    result.latencies_ms.append(elapsed_ms)
    try:
        result.server_ms.append(float(json.loads(body)["timings_ms"]["total"]))
    except (ValueError, KeyError, TypeError):
        pass


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A running ``medsearch serve``."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    startup_s: float

    def memory_mb(self) -> dict[str, float]:
        return process_memory_mb(self.process.pid)


@contextmanager
def serve(
    index_dir: Path,
    *,
    threads: int = 8,
    env: dict[str, str] | None = None,
    startup_timeout_s: float = 600.0,
) -> Iterator[ServerProcess]:
    """Start ``medsearch serve INDEX_DIR`` on a free loopback port; stop it on exit."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "indexer",
        "serve",
        str(index_dir),
        "--host",
        HOST,
        "--port",
        str(port),
        "--threads",
        str(threads),
    ]
    child_env = dict(os.environ)
    child_env.pop("MEDSEARCH_API_TOKEN", None)  # a token only when ``env`` asks for one
    child_env.update(env or {})
    with tempfile.TemporaryDirectory(prefix="medsearch-bench-serve-") as tmp:
        log_path = Path(tmp) / "serve.log"
        with open(log_path, "wb") as log_file:
            started = time.perf_counter()
            process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, env=child_env
            )
            try:
                _wait_ready(process, port, log_path, startup_timeout_s)
                yield ServerProcess(process, port, log_path, time.perf_counter() - started)
            finally:
                _stop(process)


def _wait_ready(
    process: subprocess.Popen[bytes], port: int, log_path: Path, timeout_s: float
) -> None:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise BenchServerError(
                f"medsearch serve exited with status {process.returncode}: {_tail(log_path)}"
            )
        client = Client(port)
        try:
            status, _ = client.send(Request("GET", "/api/health", b"", {}))
            if status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            client.close()
        time.sleep(0.25)
    raise BenchServerError(f"medsearch serve did not answer within {timeout_s:.0f} s")


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
