"""One JSON error shape for every failure the service reports.

Every error response body is ``{"error": {"code": str, "message": str}}``. Library errors
(:class:`indexer.errors.MedSearchError`) carry their own ``status`` and ``code``; werkzeug's
HTTP exceptions (404 unknown route, 405, 413 ...) are translated; anything else becomes a
logged 500 without details for the client.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from indexer.errors import InvalidRequestError, MedSearchError, PayloadTooLargeError

log = logging.getLogger(__name__)


class UnauthorizedError(MedSearchError):
    """The bearer token is missing or wrong."""

    status = 401
    code = "unauthorized"


class TooManyRequestsError(MedSearchError):
    """Too many wrong tokens from one client address: it must wait ``retry_after`` seconds."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnsupportedMediaTypeError(MedSearchError):
    """The request body has the wrong content type for the endpoint."""

    status = 415
    code = "unsupported_media_type"


#: codes shared with the library's errors of the same status (werkzeug's names differ)
_CODES_BY_STATUS = {
    InvalidRequestError.status: InvalidRequestError.code,
    PayloadTooLargeError.status: PayloadTooLargeError.code,
    500: "internal_error",
}


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    """The one error body, with ``status``."""
    return jsonify({"error": {"code": code, "message": message}}), status


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def handle_library_error(exc: MedSearchError) -> tuple[Response, int]:
    """Library and request-parsing errors: their own status and code."""
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    response, status = error_response(exc.status, exc.code, exc.message)
    if isinstance(exc, UnauthorizedError):
        response.headers["WWW-Authenticate"] = 'Bearer realm="medsearch"'
    if isinstance(exc, TooManyRequestsError):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response, status


def handle_http_error(exc: HTTPException) -> Response:
    """werkzeug's HTTP errors (unknown route, wrong method, body too large ...)."""
    status = exc.code or 500
    code = _CODES_BY_STATUS.get(status) or _snake_case(type(exc).__name__)
    message = exc.description or exc.name
    response, _ = error_response(status, code, message)
    response.status_code = status
    # keep headers werkzeug sets on purpose, e.g. ``Allow`` on 405
    for key, value in exc.get_response().headers.items():
        if key.lower() not in ("content-type", "content-length"):
            response.headers[key] = value
    return response


def handle_unexpected_error(exc: Exception) -> tuple[Response, int]:
    """Anything else: log it with the stack trace, tell the client nothing more."""
    log.exception("unhandled error while serving a request", exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


def register_error_handlers(target: Flask | Blueprint) -> None:
    """Route every error of an app (or of a blueprint's views) through the one JSON shape."""
    target.register_error_handler(MedSearchError, handle_library_error)
    target.register_error_handler(HTTPException, handle_http_error)
    target.register_error_handler(Exception, handle_unexpected_error)
