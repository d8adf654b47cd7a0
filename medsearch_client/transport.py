"""HTTP to a MedSearch service: credentials, time-outs, retries and the API's error shape.

Every answer that is not a success becomes an :class:`~medsearch_client.errors.ApiError`
carrying the API's status and code. Calls that change nothing on the service (every route but
sign-in and sign-out; searches are POSTs that only read) are retried, after a growing pause,
when the connection fails, the time-out passes or the service answers 502, 503 or 504.

With a token, the client sends ``Authorization: Bearer <token>``; with ``use_session`` it signs
in once instead (``POST /api/session``) and sends the session cookie the service sets, signing
in again once when the service has forgotten the session (after a restart or its expiry).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import requests

from medsearch_client.errors import ApiError, RequestTimeoutError, ServiceUnreachableError

#: statuses worth another try: the service, or a proxy before it, is briefly unavailable
RETRY_STATUSES = frozenset({502, 503, 504})
#: longest pause between two tries, whatever the service asks
MAX_PAUSE_S = 30.0
SESSION_PATH = "/api/session"


class Transport:
    """One service's base URL, credentials and retry policy over a ``requests`` session."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        use_session: bool = False,
        timeout: float | tuple[float, float] = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ) -> None:
        if retries < 0 or backoff < 0:
            raise ValueError("retries and backoff must be at least 0")
        if use_session and not token:
            raise ValueError("use_session signs in with the token: give the token too")
        self.url = url.rstrip("/")
        self.token = token
        self.use_session = use_session
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.http = session or requests.Session()
        self._signed_in = False

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> requests.Response:
        """The successful response to one request, after sign-in and retries as configured."""
        if self.use_session and not self._signed_in:
            self.sign_in()
        request = {"params": params, "json": json, "files": files, "data": data}
        try:
            return self._send(method, path, request, idempotent)
        except ApiError as error:
            if not (self.use_session and error.status == 401):
                raise
        self.sign_in()  # the service forgot the session: once more, signed in anew
        return self._send(method, path, request, idempotent)

    def sign_in(self) -> None:
        """Open a browser-style session with the token; the cookie then stands for it."""
        self.http.cookies.clear()
        self._send("POST", SESSION_PATH, {"json": {"token": self.token}}, False, bearer=False)
        self._signed_in = True

    def sign_out(self) -> None:
        """Revoke the session (nothing to do without one)."""
        if self._signed_in:
            self._send("DELETE", SESSION_PATH, {}, False, bearer=False)
            self._signed_in = False

    def _send(
        self,
        method: str,
        path: str,
        request: Mapping[str, Any],
        idempotent: bool,
        *,
        bearer: bool = True,
    ) -> requests.Response:
        headers = {"Accept": "application/json, image/*"}
        if bearer and self.token and not self.use_session:
            headers["Authorization"] = f"Bearer {self.token}"
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            for stream in (request.get("files") or {}).values():
                if hasattr(stream, "seek"):
                    stream.seek(0)  # a file part read by a failed try is sent whole again
            try:
                response = self.http.request(
                    method, self.url + path, headers=headers, timeout=self.timeout, **request
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                if last:
                    raise _unreachable(exc, f"{method} {path}", self, attempts) from exc
                self._pause(attempt, None)
                continue
            if response.ok:
                return response
            error = api_error(response)
            if last or response.status_code not in RETRY_STATUSES:
                raise error
            self._pause(attempt, error.retry_after)
        raise AssertionError("unreachable: the last try returns or raises")

    def _pause(self, attempt: int, retry_after: float | None) -> None:
        wait = self.backoff * 2**attempt if retry_after is None else retry_after
        time.sleep(min(wait, MAX_PAUSE_S))

    def close(self) -> None:
        self.http.close()


def _unreachable(
    exc: requests.RequestException, call: str, transport: Transport, attempts: int
) -> ServiceUnreachableError:
    if isinstance(exc, requests.Timeout):
        timeout = transport.timeout
        return RequestTimeoutError(f"{call}: no answer within {timeout} s ({attempts} tries)")
    return ServiceUnreachableError(
        f"{call}: cannot reach {transport.url} ({attempts} tries): {exc}"
    )


def api_error(response: requests.Response) -> ApiError:
    """The :class:`ApiError` of an error response: the API's own ``{"error": {code, message}}``,
    or, from something else on the way (a proxy), the status and the start of the body."""
    retry_after = response.headers.get("Retry-After", "")
    wait = float(retry_after) if retry_after.isdigit() else None
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code = "http_error"
        message = response.text[:200] or response.reason or "no message"
    return ApiError(response.status_code, code, message, retry_after=wait)
