"""Headers every response carries, and cross-origin access when the settings allow it.

Every response, errors and images included, says ``X-Content-Type-Options: nosniff`` (a browser
never guesses a type, so an image or JSON answer cannot run as a script), ``Referrer-Policy:
no-referrer`` (no URL, and so no query, leaves in a Referer header) and a Content-Security-Policy
with ``frame-ancestors 'none'`` (no other site can frame the page or an answer). A response that
brings its own policy, like the search page's, keeps it, with ``frame-ancestors 'none'`` added if
it lacks one; every other response gets ``default-src 'none'``: it loads nothing.

Cross-origin requests (CORS) are refused by browsers unless ``cors_origins`` names the origin:
then ``/api`` answers carry ``Access-Control-Allow-Origin`` for it. Cookies are never allowed
across origins (the session cookie is SameSite=Strict): another site's page must send the bearer
token itself.
"""

from __future__ import annotations

from flask import Flask, Response, request

#: the policy of responses that do not set their own
DEFAULT_POLICY = "default-src 'none'; frame-ancestors 'none'"
_FRAME_ANCESTORS = "frame-ancestors 'none'"
#: how long a browser may reuse a preflight answer (seconds)
_PREFLIGHT_MAX_AGE = 600


def allowed_origins(setting: str | None) -> frozenset[str]:
    """The origins of the ``cors_origins`` setting (comma-separated; none when unset)."""
    return frozenset(o.strip().rstrip("/") for o in (setting or "").split(",") if o.strip())


def install_headers(app: Flask, *, api_prefix: str, cors_origins: frozenset[str]) -> None:
    """Add the security headers to every response of ``app``, and CORS ones for ``/api``."""

    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        policy = headers.get("Content-Security-Policy")
        if not policy:
            headers["Content-Security-Policy"] = DEFAULT_POLICY
        elif "frame-ancestors" not in policy:
            headers["Content-Security-Policy"] = f"{policy}; {_FRAME_ANCESTORS}"
        origin = request.headers.get("Origin")
        if origin and origin in cors_origins and _is_api(request.path, api_prefix):
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE"
            headers["Access-Control-Max-Age"] = str(_PREFLIGHT_MAX_AGE)
        if cors_origins:
            headers.add("Vary", "Origin")
        return response

    app.after_request(add_headers)


def _is_api(path: str, api_prefix: str) -> bool:
    return path == api_prefix or path.startswith(api_prefix + "/")
