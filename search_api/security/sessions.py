"""Browser sessions and the brake on wrong tokens, both kept in the service's memory.

A session id is 256 random bits (:func:`secrets.token_urlsafe`) handed out at sign-in; the store
keeps only its SHA-256, with an expiry, so a lookup reveals nothing through its timing and a
memory dump holds no usable cookie. Sign-out deletes it. A restart forgets every session: nobody
stays signed in with a token that is no longer configured.

Wrong tokens are counted per client address over a sliding window; past the limit the address
gets 429 until the oldest failure of the window has aged out. Both stores are bounded: past
their size the entries closest to expiry or oldest are dropped first.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

Clock = Callable[[], float]

#: most sessions and most client addresses remembered at once
MAX_SESSIONS = 10_000
MAX_CLIENTS = 10_000


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("utf-8", errors="replace")).digest()


class SessionStore:
    """Signed-in browsers: random session ids that expire ``ttl_s`` seconds after sign-in."""

    def __init__(self, ttl_s: float, *, clock: Clock = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: OrderedDict[bytes, float] = OrderedDict()  # in order of sign-in

    def create(self) -> str:
        """A new session id, valid for ``ttl_s`` seconds."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._drop_expired(now)
            self._expiry[_digest(session_id)] = now + self.ttl_s
            while len(self._expiry) > MAX_SESSIONS:
                self._expiry.popitem(last=False)
        return session_id

    def is_valid(self, session_id: str | None) -> bool:
        """Whether ``session_id`` was handed out, is not revoked and has not expired."""
        if not session_id:
            return False
        with self._lock:
            expiry = self._expiry.get(_digest(session_id))
            return expiry is not None and self._clock() < expiry

    def revoke(self, session_id: str | None) -> None:
        """Sign this session out (nothing happens for an unknown id)."""
        if session_id:
            with self._lock:
                self._expiry.pop(_digest(session_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)

    def _drop_expired(self, now: float) -> None:
        # every session lives as long: the oldest sign-ins expire first
        while self._expiry and next(iter(self._expiry.values())) <= now:
            self._expiry.popitem(last=False)


class FailureLimiter:
    """Counts wrong tokens per client; ``retry_after`` says how long one must wait, if at all."""

    def __init__(self, max_failures: int, window_s: float, *, clock: Clock = time.monotonic):
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until ``client`` may try a token again, or None if it may now."""
        now = self._clock()
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) < self.max_failures:
                return None
            return max(1, int(failures[0] + self.window_s - now + 0.999))

    def failed(self, client: str) -> None:
        """Count one wrong token from ``client``."""
        now = self._clock()
        with self._lock:
            failures = self._recent(client, now)
            failures.append(now)
            while len(failures) > self.max_failures:
                failures.popleft()
            self._failures[client] = failures
            self._failures.move_to_end(client)
            while len(self._failures) > MAX_CLIENTS:
                self._failures.popitem(last=False)

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            self._failures.pop(client, None)
        return failures
