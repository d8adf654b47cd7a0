"""Per-application state shared by the API views: settings, search service, render cache, auth.

It is the application's one extension, ``app.extensions["medsearch"]``.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import current_app, request

from indexer.errors import MedSearchError
from indexer.settings import Settings
from search_api.auth import Authenticator
from search_api.fields import Limits
from search_api.service import SearchService
from search_api.thumbnails import RenderCache

log = logging.getLogger(__name__)

#: ``app.extensions`` key of the :class:`ApiState`
STATE_KEY = "medsearch"


class ApiState:
    """What the API views need, built once per application."""

    def __init__(self, settings: Settings, retriever: SearchService) -> None:
        self.settings = settings
        self.retriever = retriever
        self.limits = Limits.of(settings)
        self.auth = Authenticator(settings)
        self.renders = RenderCache(
            settings.thumbnail_dir or settings.index_dir / "thumbnails",
            max_bytes=settings.thumbnail_cache_mb * 2**20,
        )
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


def get_state() -> ApiState:
    """The :class:`ApiState` of the current application."""
    state: ApiState = current_app.extensions[STATE_KEY]
    return state


def client_address() -> str:
    """The address the current request came from (the proxy's, behind a reverse proxy)."""
    return request.remote_addr or "unknown"
