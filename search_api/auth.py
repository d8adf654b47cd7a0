"""Who may call the API: the bearer token, and the browser session cookie derived from it.

With ``MEDSEARCH_API_TOKEN`` set, every ``/api`` route but health and sign-in needs
``Authorization: Bearer <token>`` or the session cookie that ``POST /api/session`` sets. The
cookie holds an HMAC of the token, never the token itself, so changing the token signs every
browser out. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac

from search_api.errors import UnauthorizedError

#: name of the cookie holding a signed-in browser's session value
SESSION_COOKIE = "medsearch_session"
#: a signed-in browser stays signed in this long (seconds)
SESSION_SECONDS = 12 * 3600


def check_token(api_token: str | None, authorization: str | None, session: str | None) -> None:
    """401 unless ``authorization`` is ``Bearer <api_token>`` or ``session`` is the session
    cookie's value (when a token is configured)."""
    if not api_token:
        return
    if session and hmac.compare_digest(session.encode(), session_value(api_token).encode()):
        return
    scheme, _, supplied = (authorization or "").strip().partition(" ")
    # WSGI hands headers over as latin-1 text: back to the bytes the client sent
    sent = supplied.strip().encode("latin-1", errors="replace")
    if scheme.lower() != "bearer" or not token_matches(api_token, sent):
        raise UnauthorizedError(
            "missing or wrong bearer token (Authorization: Bearer <token>, "
            "or sign in with POST /api/session)"
        )


def token_matches(api_token: str | None, supplied: bytes) -> bool:
    """True when ``supplied`` is the configured token (constant time)."""
    return bool(api_token) and hmac.compare_digest(supplied, (api_token or "").encode("utf-8"))


def session_value(api_token: str | None) -> str:
    """What the session cookie holds: derived from the token, never the token itself."""
    key = (api_token or "").encode("utf-8")
    return hmac.new(key, b"medsearch browser session v1", "sha256").hexdigest()
