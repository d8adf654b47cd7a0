"""A real HTTP proxy in front of a test PACS that fails the requests a test chooses.

Requests are keyed by what they ask for: the SOP Instance UID of a WADO-RS retrieval
(``.../instances/<uid>``), or :data:`SEARCH` for every QIDO-RS search. A key's queued faults are
used up one per request, in order; a key in ``always`` gets its fault on every request. A request
without a fault is forwarded to the PACS and its answer sent back. Faults: ``"503"``, ``"404"``,
``"429"`` (with ``Retry-After: 1``), ``"drop"`` (the connection is closed without an answer) and
``"stall"`` (no answer for :attr:`FailingProxy.stall_seconds`, past the client's time-out).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.support.local_http import QuietHandler, local_http

#: the key of QIDO-RS searches
SEARCH = "search"
#: headers of the PACS's answer that are sent on (the body's length is set anew)
FORWARDED_HEADERS = ("Content-Type", "Warning")


@dataclass
class FailingProxy:
    """What to fail, and what was asked for (request times by key)."""

    target: str
    stall_seconds: float = 2.0
    faults: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    always: dict[str, str] = field(default_factory=dict)
    requests: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(self, key: str, *faults: str) -> None:
        """Queue ``faults`` for the next requests of ``key``."""
        with self._lock:
            self.faults[key].extend(faults)

    def next_fault(self, key: str) -> str | None:
        with self._lock:
            self.requests[key].append(time.monotonic())
            if key in self.always:
                return self.always[key]
            queued = self.faults.get(key)
            return queued.popleft() if queued else None


def request_key(path: str) -> str:
    """The SOP Instance UID a WADO-RS path retrieves, or :data:`SEARCH`."""
    head, sep, tail = path.split("?", 1)[0].rpartition("/instances/")
    return tail.strip("/") if sep and head and tail.strip("/") else SEARCH


def proxy_handler(proxy: FailingProxy) -> type[QuietHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            fault = proxy.next_fault(request_key(self.path))
            if fault == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if fault == "stall":
                time.sleep(proxy.stall_seconds)
                self.close_connection = True
                return
            if fault is not None:
                headers = {"Retry-After": "1"} if fault == "429" else {}
                self.answer(int(fault), b"", headers)
                return
            self.forward()

        def forward(self) -> None:
            sent = {
                k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
            }
            answer = requests.get(proxy.target + self.path, headers=sent, timeout=30)
            kept = {k: answer.headers[k] for k in FORWARDED_HEADERS if k in answer.headers}
            self.answer(answer.status_code, answer.content, kept)

        def answer(self, status: int, body: bytes, headers: dict[str, Any]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def failing_proxy(target: str, stall_seconds: float = 2.0) -> Iterator[FailingProxy]:
    """A :class:`FailingProxy` to ``target`` (a server's root URL) on a free loopback port."""
    proxy = FailingProxy(target.rstrip("/"), stall_seconds)
    with local_http(proxy_handler(proxy)) as url:
        proxy.url = url
        yield proxy
