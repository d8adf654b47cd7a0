"""Keep-alive HTTP clients that load a ``medsearch serve`` on 127.0.0.1.

Traffic only ever goes to the loopback address and every loop is bounded by a deadline and a
request count. The service itself runs in a child process (:mod:`search_api.process`).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
#: requests one client may send in one phase, whatever the duration
MAX_REQUESTS_PER_CLIENT = 100_000
REQUEST_TIMEOUT_S = 120.0


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
    #: when each successful request finished (``time.perf_counter()``), in step with latencies_ms
    finished_at: list[float] = field(default_factory=list)
    #: when each failed request finished
    errors_at: list[float] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.errors

    def extend(self, other: LoadResult) -> None:
        """Count ``other``'s requests in this phase too."""
        self.latencies_ms += other.latencies_ms
        self.server_ms += other.server_ms
        self.finished_at += other.finished_at
        self.errors_at += other.errors_at
        self.errors += other.errors
        self.error_examples = (self.error_examples + other.error_examples)[:5]
        self.seconds += other.seconds

    def note_error(self, message: str) -> None:
        self.errors += 1
        self.errors_at.append(time.perf_counter())
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
        merged.finished_at.extend(result.finished_at)
        merged.errors_at.extend(result.errors_at)
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
    finished = time.perf_counter()
    elapsed_ms = (finished - started) * 1000
    if status != 200:
        result.note_error(f"HTTP {status}: {body[:150].decode(errors='replace')}")
        return
    result.latencies_ms.append(elapsed_ms)
    result.finished_at.append(finished)
    try:
        result.server_ms.append(float(json.loads(body)["timings_ms"]["total"]))
    except (ValueError, KeyError, TypeError):
        pass
