"""Per-application state shared by the API views: settings, the retriever, the render cache.

The retriever itself is also published as ``app.extensions["medsearch"]`` so other blueprints
(the web page) can use it; this module keeps what only the API needs beside it.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from typing import TYPE_CHECKING

from flask import current_app

from indexer.errors import MedSearchError
from indexer.settings import Settings
from search_api.errors import UnauthorizedError
from search_api.thumbnails import RenderCache

if TYPE_CHECKING:
    from indexer.retriever import Retriever

log = logging.getLogger(__name__)

#: ``app.extensions`` key of the shared :class:`~indexer.retriever.Retriever`
RETRIEVER_KEY = "medsearch"
#: ``app.extensions`` key of the :class:`ApiState`
STATE_KEY = "medsearch_api"


class ApiState:
    """What the API views need, built once per application."""

    def __init__(self, settings: Settings, retriever: Retriever) -> None:
        self.settings = settings
        self.retriever = retriever
        self.renders = RenderCache(settings.thumbnail_dir or settings.index_dir / "thumbnails")
        self._refresh_lock = threading.Lock()
        self._next_refresh = time.monotonic() + settings.reload_interval

    @property
    def draft_size(self) -> int:
        """Uploads are decoded like indexed files (same draft reduction)."""
        return self.retriever.encoder.draft_size

    def maybe_refresh(self) -> None:
        """Ask the retriever to pick up a newly published index, at most every reload_interval.

        Only one request thread checks at a time; the others go on with the current index.
        A failed reload is logged and the previous index keeps being served.
        """
        now = time.monotonic()
        if now < self._next_refresh or not self._refresh_lock.acquire(blocking=False):
            return
        try:
            self._next_refresh = now + self.settings.reload_interval
            if self.retriever.refresh():
                log.info("loaded a newly published index from %s", self.settings.index_dir)
        except MedSearchError as exc:
            log.warning("keeping the current index, the new one cannot be loaded: %s", exc)
        except Exception:  # a reload problem must not fail the request that noticed it
            log.exception("keeping the current index, reloading %s failed", self.settings.index_dir)
        finally:
            self._refresh_lock.release()

    def check_token(self, authorization: str | None, session: str | None = None) -> None:
        """401 unless ``authorization`` is ``Bearer <api_token>`` or ``session`` is the session
        cookie's value (when a token is configured)."""
        if not self.settings.api_token:
            return
        if session and hmac.compare_digest(session.encode(), self.session_value().encode()):
            return
        scheme, _, supplied = (authorization or "").strip().partition(" ")
        # WSGI hands headers over as latin-1 text: back to the bytes the client sent
        sent = supplied.strip().encode("latin-1", errors="replace")
        if scheme.lower() != "bearer" or not self.token_matches(sent):
            raise UnauthorizedError(
                "missing or wrong bearer token (Authorization: Bearer <token>, "
                "or sign in with POST /api/session)"
            )

    def token_matches(self, supplied: bytes) -> bool:
        """True when ``supplied`` is the configured token (constant time)."""
        expected = self.settings.api_token
        return bool(expected) and hmac.compare_digest(supplied, (expected or "").encode("utf-8"))

    def session_value(self) -> str:
        """What the session cookie holds: derived from the token, so the cookie never carries
        the token itself; changing the token signs every browser out."""
        key = (self.settings.api_token or "").encode("utf-8")
        return hmac.new(key, b"medsearch browser session v1", "sha256").hexdigest()


def get_state() -> ApiState:
    """The :class:`ApiState` of the current application."""
    state: ApiState = current_app.extensions[STATE_KEY]
    return state
