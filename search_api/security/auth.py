"""Who may call the API: the bearer token, and browser sessions opened with it.

With ``MEDSEARCH_API_TOKEN`` set, every ``/api`` route but health and sign-in needs
``Authorization: Bearer <token>`` or the session cookie that ``POST /api/session`` sets. The
cookie holds a random session id (:mod:`search_api.security.sessions`), never the token nor anything
derived from it; the service keeps the id until it expires or the browser signs out. Changing the
token means restarting the service, which forgets every session: everyone is signed out.

Tokens are compared in constant time. Wrong tokens (a wrong bearer token, a wrong sign-in) are
counted per client address; past ``auth_failures`` within ``auth_failure_window`` seconds that
address gets 429 with ``Retry-After`` for its token checks, while browsers already signed in from
it go on working. Each wrong token is logged with the client's address, never with what it
sent: the token appears in no log line and no error message.
"""

from __future__ import annotations

import hmac
import logging

from indexer.settings import Settings
from search_api.errors import TooManyRequestsError, UnauthorizedError
from search_api.security.sessions import FailureLimiter, SessionStore

log = logging.getLogger(__name__)

#: name of the cookie holding a signed-in browser's session id
SESSION_COOKIE = "medsearch_session"


class Authenticator:
    """The token checks of one application, with its sessions and its count of wrong tokens."""

    def __init__(self, settings: Settings) -> None:
        self.api_token = settings.api_token
        self.sessions = SessionStore(settings.session_ttl)
        self.failures = FailureLimiter(settings.auth_failures, settings.auth_failure_window)

    @property
    def session_seconds(self) -> int:
        """How long a session (and its cookie) lasts."""
        return int(self.sessions.ttl_s)

    def check(self, authorization: str | None, session_id: str | None, client: str) -> None:
        """401 unless a token is not required, the session is valid or the bearer token right.

        429 while ``client`` has sent too many wrong tokens (a valid session still passes).
        """
        if not self.api_token or self.sessions.is_valid(session_id):
            return
        scheme, _, supplied = (authorization or "").strip().partition(" ")
        # WSGI hands headers over as latin-1 text: back to the bytes the client sent
        sent = supplied.strip().encode("latin-1", errors="replace")
        if scheme.lower() == "bearer" and sent:
            self._check_token(sent, client)
            return
        raise UnauthorizedError(
            "missing or wrong bearer token (Authorization: Bearer <token>, "
            "or sign in with POST /api/session)"
        )

    def sign_in(self, token: str, client: str) -> str:
        """A new session id for the right token; 401 for a wrong one, 429 after too many."""
        self._check_token(token.encode("utf-8"), client, message="wrong access token")
        return self.sessions.create()

    def _check_token(
        self, supplied: bytes, client: str, message: str = "wrong bearer token"
    ) -> None:
        wait = self.failures.retry_after(client)
        if wait is not None:
            log.warning("refused a token check from %s: too many wrong tokens", client)
            raise TooManyRequestsError(
                f"too many wrong tokens from this address: try again in {wait} s", wait
            )
        if not token_matches(self.api_token, supplied):
            self.failures.failed(client)
            log.warning("wrong API token from %s", client)
            raise UnauthorizedError(message)


def token_matches(api_token: str | None, supplied: bytes) -> bool:
    """True when ``supplied`` is the configured token (constant time)."""
    return bool(api_token) and hmac.compare_digest(supplied, (api_token or "").encode("utf-8"))
