"""Micro-batching: requests that wait for the model thread together go through one forward.

A service answers many text queries at once, each from its own request thread, and all of them
need the one model thread. One forward of a batch of short texts costs much less than a forward
for each (every layer's weights are read once for all of them), so the requests that are waiting
when the model thread becomes free are taken together, up to a bound, and embedded in one call.

A lone client never waits for company: a request that finds the model thread idle after a forward
of one request is embedded at once, alone, so it sees the latency it always had. Under load,
clients that got their answers from one forward send their next requests a moment apart, and the
first to arrive would go alone while the others wait a whole forward for it. So after a forward of
several requests that ended a moment ago, the next one waits until as many requests are there,
but at most a quarter of that forward's time.

Every request gets exactly the rows of its own items. When a batch fails, each of its requests is
embedded again on its own, so an error reaches only the caller whose items cause it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import numpy as np

from ..base import FloatArray
from .device import ModelThread

Item = TypeVar("Item")


@dataclass(frozen=True)
class BatchStats:
    """What a :class:`MicroBatcher` has done since it started."""

    #: requests answered (or failed)
    requests: int = 0
    #: calls of the embedding function, each one forward of one or more requests
    forwards: int = 0
    #: most requests one forward served
    largest: int = 0
    #: requests waiting for the model thread now
    waiting: int = 0


@dataclass
class _Request(Generic[Item]):
    items: Sequence[Item]
    answer: Future[FloatArray]


class MicroBatcher(Generic[Item]):
    """Runs ``embed`` on the model thread for the items of all requests waiting together.

    ``embed`` maps a list of items to one row per item, and must give each item the row it
    would give it alone (padding masked, for texts). A forward takes whole requests while their
    items add up to at most ``max_items``; a larger request still goes, alone.
    """

    def __init__(
        self,
        model_thread: ModelThread,
        embed: Callable[[Sequence[Item]], FloatArray],
        max_items: int,
    ) -> None:
        self._model_thread = model_thread
        self._embed = embed
        self._max_items = max_items
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._waiting: list[_Request[Item]] = []
        # requests the last forward served, its seconds and its end: what the next one waits
        # for, how long, and whether that forward's clients can still be on their way back
        self._last_requests = 1
        self._last_seconds = 0.0
        self._last_end = 0.0
        # True while a call of _serve_waiting is queued on the model thread that has not yet
        # taken the waiting requests: a new request then need not queue another.
        self._scheduled = False
        self._stats = BatchStats()

    @property
    def stats(self) -> BatchStats:
        with self._lock:
            return replace(self._stats, waiting=len(self._waiting))

    def __call__(self, items: Sequence[Item]) -> FloatArray:
        """The rows of ``items``, embedded with whatever other requests wait at the same time."""
        if self._model_thread.is_current():
            # Work already on the model thread cannot wait for the model thread.
            return self._embed(items)
        request: _Request[Item] = _Request(list(items), Future())
        with self._lock:
            self._waiting.append(request)
            self._arrived.notify()
            schedule = not self._scheduled
            self._scheduled = True
        if schedule:
            self._schedule()
        return request.answer.result()

    def _schedule(self) -> None:
        try:
            self._model_thread.submit(self._serve_waiting)
        except RuntimeError as exc:  # the model thread has shut down: nobody will serve them
            with self._lock:
                stranded, self._waiting = self._waiting, []
                self._scheduled = False
            for request in stranded:
                request.answer.set_exception(exc)

    def _serve_waiting(self) -> None:
        """On the model thread: take the waiting requests (up to the bound) and answer them."""
        with self._lock:
            # Clients of the last forward come back soon after it; long after, nobody is coming.
            recent = time.perf_counter() - self._last_end < self._last_seconds
            expected = min(self._last_requests, self._max_items) if recent else 1
            self._arrived.wait_for(
                lambda: len(self._waiting) >= expected, timeout=self._last_seconds / 4
            )
            batch = self._take()
            # Requests left over (beyond the bound) get their own turn, queued behind this one
            # so that other work for the model thread is not starved.
            self._scheduled = bool(self._waiting)
            more = self._scheduled
        if more:
            self._schedule()
        started = time.perf_counter()
        self._answer(batch)
        with self._lock:
            self._last_requests = len(batch)
            self._last_end = time.perf_counter()
            self._last_seconds = self._last_end - started

    def _take(self) -> list[_Request[Item]]:
        count = items = 0
        for request in self._waiting:
            if count and items + len(request.items) > self._max_items:
                break
            count += 1
            items += len(request.items)
        batch = self._waiting[:count]
        del self._waiting[:count]
        return batch

    def _answer(self, batch: list[_Request[Item]]) -> None:
        if len(batch) == 1:
            request = batch[0]
            try:
                request.answer.set_result(self._embed(request.items))
            except BaseException as exc:  # to its caller, as concurrent.futures hands it on
                request.answer.set_exception(exc)
        else:
            try:
                rows = self._embed([item for request in batch for item in request.items])
            except Exception:
                for request in batch:
                    self._answer([request])
                return  # each was counted on its own
            bounds = np.cumsum([len(request.items) for request in batch])[:-1]
            for request, part in zip(batch, np.split(rows, bounds), strict=True):
                request.answer.set_result(part)
        self._count(len(batch))

    def _count(self, served: int) -> None:
        with self._lock:
            stats = self._stats
            self._stats = BatchStats(
                requests=stats.requests + served,
                forwards=stats.forwards + 1,
                largest=max(stats.largest, served),
            )
