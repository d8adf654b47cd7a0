"""Retrying the passing failures of a remote source (a PACS over HTTP) with exponential back-off.

A failure is *passing* when asking again later may succeed: an HTTP 5xx or 429 answer, a
time-out, a refused or dropped connection (also one dropped while the body was being read). Any
other failure (a 4xx, an answer that cannot be parsed) is permanent and raised at once.

:func:`with_retries` calls a function until it succeeds, fails permanently, or the
:class:`RetryPolicy` runs out of attempts or of waiting time. The wait before retry ``n``
(0-based) is ``first_wait * 2**n``, at most :data:`MAX_WAIT`, and never shorter than what a
``Retry-After`` header asks; the waits of one call add up to at most :data:`MAX_TOTAL_WAIT`,
so a ``Retry-After`` beyond what is left ends the retries instead of holding the run.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests

from ..settings import Settings

#: longest single wait between two attempts, in seconds
MAX_WAIT = 30.0
#: longest total wait of one call over all its retries, in seconds
MAX_TOTAL_WAIT = 120.0

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a passing failure is retried."""

    #: retries after the first attempt (0: none)
    retries: int
    #: seconds before the first retry; each later one waits twice as long
    first_wait: float

    @classmethod
    def for_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.dicomweb_retries, settings.dicomweb_backoff)

    def wait_before(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based), honouring ``retry_after``."""
        backoff = min(self.first_wait * 2.0**retry, MAX_WAIT)
        return backoff if retry_after is None else max(backoff, retry_after)


#: one attempt only
NO_RETRIES = RetryPolicy(0, 0.0)


def is_passing(exc: BaseException) -> bool:
    """Whether asking again later may succeed."""
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else None
        return status is not None and (status >= 500 or status == 429)
    return isinstance(
        exc, requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError
    )


def retry_after(exc: BaseException) -> float | None:
    """The seconds an HTTP error's ``Retry-After`` header asks to wait (a number or a date)."""
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def with_retries(
    call: Callable[[], T], policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep
) -> T:
    """``call()``, retried after passing failures as ``policy`` allows; the last failure is
    raised when it runs out."""
    waited = 0.0
    retry = 0
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_passing(exc) or retry >= policy.retries:
                raise
            wait = policy.wait_before(retry, retry_after(exc))
            if waited + wait > MAX_TOTAL_WAIT:
                raise
        sleep(wait)
        waited += wait
        retry += 1
