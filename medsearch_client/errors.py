"""What the client raises: the API's own errors, and failures to reach the service at all."""

from __future__ import annotations


class MedSearchClientError(Exception):
    """Base class of every error the client raises on purpose."""


class ApiError(MedSearchClientError):
    """The service answered with an error: its HTTP ``status``, its stable ``code``
    (``invalid_request``, ``not_found``, ``unauthorized`` ...) and its ``message``."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        #: seconds the service asked the client to wait (429 and some 503), if it said
        self.retry_after = retry_after


class ServiceUnreachableError(MedSearchClientError):
    """No answer from the service after every retry (refused connection, DNS, TLS ...)."""


class RequestTimeoutError(ServiceUnreachableError):
    """The service did not answer within the client's timeout, after every retry."""
