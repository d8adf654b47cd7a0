"""A small real HTTP server on loopback in a thread, for tests that need something other than a
MedSearch service to talk to (a site serving images, a service that misbehaves on purpose)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietServer(ThreadingHTTPServer):
    """Logs nothing when a client hangs up early (a time-out, a refused oversized body)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextmanager
def local_http(handler: Any) -> Iterator[str]:
    """Serve ``handler`` (a request handler class, or a factory of one) on a free loopback
    port; yields the base URL, shuts the server down afterwards."""
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no access log."""

    def log_message(self, format: str, *args: Any) -> None:
        pass
