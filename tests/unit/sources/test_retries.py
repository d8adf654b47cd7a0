"""The retry policy of remote sources against a real local HTTP server: which failures are
retried, how long each wait is, Retry-After, and the bounds on attempts and total wait."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
import requests

from indexer.settings import Settings
from indexer.sources.retries import (
    MAX_TOTAL_WAIT,
    MAX_WAIT,
    RetryPolicy,
    is_passing,
    retry_after,
    with_retries,
)
from tests.support.local_http import QuietHandler, local_http


class Script:
    """Status codes (and Retry-After values) a server answers with, one per request, then 200."""

    def __init__(self, *answers: tuple[int, str | None]) -> None:
        self.answers = list(answers)
        self.asked = 0


#: starts a server answering as scripted; returns its URL and the script
Serve = Callable[..., tuple[str, Script]]


@pytest.fixture
def served() -> Iterator[Serve]:
    with ExitStack() as servers:

        def serve(*answers: tuple[int, str | None]) -> tuple[str, Script]:
            script = Script(*answers)
            return servers.enter_context(local_http(scripted_handler(script))), script

        yield serve


def scripted_handler(script: Script) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            status, wait = script.answers.pop(0) if script.answers else (200, None)
            script.asked += 1
            self.send_response(status)
            if wait is not None:
                self.send_header("Retry-After", wait)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    return Handler


def get(url: str) -> Callable[[], str]:
    def call() -> str:
        response = requests.get(url, timeout=5)
        response.raise_for_status()
        return response.text

    return call


def status_of(exc: requests.HTTPError) -> int | None:
    return exc.response.status_code if exc.response is not None else None


def test_passing_failures_are_retried_with_doubling_waits(served: Serve) -> None:
    url, script = served((503, None), (429, None), (502, None))
    waits: list[float] = []
    assert with_retries(get(url), RetryPolicy(3, 0.5), waits.append) == "ok"
    assert script.asked == 4 and waits == [0.5, 1.0, 2.0]


def test_retry_after_is_honoured_in_seconds_and_as_a_date(served: Serve) -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    url, script = served((503, "7"), (503, later))
    waits: list[float] = []
    assert with_retries(get(url), RetryPolicy(2, 0.5), waits.append) == "ok"
    assert waits[0] == 7.0 and 28.0 <= waits[1] <= 30.0


def test_permanent_failures_and_exhausted_retries_raise_the_last_failure(served: Serve) -> None:
    url, script = served((404, None))
    waits: list[float] = []
    with pytest.raises(requests.HTTPError) as refused:
        with_retries(get(url), RetryPolicy(3, 0.5), waits.append)
    assert status_of(refused.value) == 404 and script.asked == 1 and waits == []

    url, script = served((503, None), (503, None), (503, None))
    with pytest.raises(requests.HTTPError) as busy:
        with_retries(get(url), RetryPolicy(2, 0.5), waits.append)
    assert status_of(busy.value) == 503 and script.asked == 3 and waits == [0.5, 1.0]


def test_a_retry_after_beyond_the_total_wait_ends_the_retries(served: Serve) -> None:
    url, script = served((503, str(int(MAX_TOTAL_WAIT) + 1)))
    waits: list[float] = []
    with pytest.raises(requests.HTTPError):
        with_retries(get(url), RetryPolicy(5, 0.5), waits.append)
    assert script.asked == 1 and waits == []


def test_waits_are_bounded_and_connection_failures_are_passing() -> None:
    policy = RetryPolicy(20, 1.0)
    assert [policy.wait_before(n) for n in range(7)] == [1, 2, 4, 8, 16, MAX_WAIT, MAX_WAIT]
    total = sum(policy.wait_before(n) for n in range(policy.retries))
    assert total > MAX_TOTAL_WAIT  # so with_retries' own bound is what holds a call
    with pytest.raises(requests.ConnectionError) as refused:
        requests.get("http://127.0.0.1:9/", timeout=1)  # the discard port: nothing listens
    assert is_passing(refused.value) and retry_after(refused.value) is None
    assert not is_passing(ValueError("an answer that cannot be parsed"))
    defaults = RetryPolicy.for_settings(Settings())
    assert defaults.retries == Settings().dicomweb_retries > 0
