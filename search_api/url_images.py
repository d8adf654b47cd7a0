"""Fetching a query image from a URL, for clip-retrieval's ``image_url``, within limits.

A service that fetches the URLs its clients name can be made to reach addresses only it can
reach (server-side request forgery), so it does so only where ``MEDSEARCH_FETCH_IMAGE_URLS`` is
set; otherwise the request is refused with 403. When allowed, only ``http`` and ``https`` are
spoken (redirects too), no proxy from the environment is used, the whole fetch must finish
within :data:`FETCH_TIMEOUT_S` seconds and the body may not exceed the upload limit. The bytes
stay in memory and are decoded like an upload.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from http.client import HTTPMessage, HTTPResponse
from typing import IO

from indexer.errors import MedSearchError, PayloadTooLargeError

#: seconds a fetch may take, connection, redirects and body together
FETCH_TIMEOUT_S = 10.0
#: bytes read from the connection at a time
CHUNK_BYTES = 64 * 1024


class ImageUrlRefusedError(MedSearchError):
    """The service does not fetch URLs (``MEDSEARCH_FETCH_IMAGE_URLS`` is off)."""

    status = 403
    code = "image_url_refused"


class ImageUrlUnavailableError(MedSearchError):
    """The image at the URL could not be fetched (unreachable, an HTTP error, too slow)."""

    status = 422
    code = "image_url_unavailable"


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not newurl.lower().startswith(("http://", "https://")):
            raise ImageUrlUnavailableError(f"image_url redirects to a non-HTTP URL ({code})")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.OpenerDirector()
for _handler in (
    urllib.request.ProxyHandler({}),
    urllib.request.HTTPHandler(),
    urllib.request.HTTPSHandler(),
    urllib.request.HTTPDefaultErrorHandler(),
    urllib.request.HTTPErrorProcessor(),
    _HttpOnlyRedirects(),
):
    _OPENER.add_handler(_handler)


def fetch_image(url: str, *, allowed: bool, max_bytes: int) -> bytes:
    """The body at ``url``; 403 unless ``allowed``, 413 past ``max_bytes``, 422 if it cannot
    be fetched in time."""
    if not allowed:
        raise ImageUrlRefusedError(
            "this service does not fetch image_url (set MEDSEARCH_FETCH_IMAGE_URLS=1 to allow "
            "it); send the image itself, base64-encoded, as image"
        )
    deadline = time.monotonic() + FETCH_TIMEOUT_S
    request = urllib.request.Request(url, headers={"Accept": "image/*"})
    try:
        with _OPENER.open(request, timeout=FETCH_TIMEOUT_S) as response:
            return _read_within(response, max_bytes, deadline)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise ImageUrlUnavailableError(f"image_url answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageUrlUnavailableError(f"cannot fetch image_url: {reason}") from None


def _read_within(response: HTTPResponse, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLargeError(f"the image at image_url is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLargeError(f"the image at image_url is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise ImageUrlUnavailableError(
                f"image_url took longer than {FETCH_TIMEOUT_S:g} s to fetch"
            )
        chunks.append(chunk)
    return b"".join(chunks)
