"""Per-application state shared by the API views: settings, the served indexes, the limits, auth.

It is the application's one extension, ``app.extensions["medsearch"]``.
"""

from __future__ import annotations

from flask import current_app, request

from indexer.settings import Settings
from search_api.indexes import IndexSet, ServedIndex
from search_api.schema.fields import Limits
from search_api.schema.params import parse_index_query
from search_api.security.auth import Authenticator
from search_api.service import SearchService

#: ``app.extensions`` key of the :class:`ApiState`
STATE_KEY = "medsearch"


class ApiState:
    """What the API views need, built once per application."""

    def __init__(self, settings: Settings, indexes: IndexSet) -> None:
        self.settings = settings
        self.indexes = indexes
        self.limits = Limits.of(settings, indexes.names)
        self.auth = Authenticator(settings)

    def served_limits(self) -> Limits:
        """The limits with what the served indexes hold now (their dimensions and filterable
        fields follow a newly published version), for the document."""
        indexes = list(self.indexes)
        kinds: dict[str, set[str]] = {}
        for index in indexes:
            for name, held in index.retriever.filter_field_kinds().items():
                kinds.setdefault(name, set()).update(held)
        return Limits.of(
            self.settings,
            self.indexes.names,
            vector_dims=tuple(index.retriever.info().dim for index in indexes),
            filter_fields=tuple(kinds),
            filter_kinds=tuple((name, tuple(sorted(held))) for name, held in kinds.items()),
            levels=tuple(
                dict.fromkeys(level for index in indexes for level in index.retriever.info().levels)
            ),
        )

    @property
    def retriever(self) -> SearchService:
        """The search service of the default (first) index."""
        return self.indexes.default.retriever

    def index(self, name: str | None) -> ServedIndex:
        """The served index called ``name`` (the default for None); 404 if there is none."""
        return self.indexes.get(name)

    def url_name(self, index: ServedIndex) -> str | None:
        """The ``index`` argument image URLs carry: the name when several indexes are served."""
        return index.name if self.indexes.several else None

    def maybe_refresh(self) -> None:
        """Let each index pick up its new version (:meth:`ServedIndex.maybe_refresh`)."""
        self.indexes.maybe_refresh()


def get_state() -> ApiState:
    """The :class:`ApiState` of the current application."""
    state: ApiState = current_app.extensions[STATE_KEY]
    return state


def requested_index() -> ServedIndex:
    """The index the request's ``index`` query argument names (the default one without it)."""
    state = get_state()
    return state.index(parse_index_query(request.args, state.limits))


def client_address() -> str:
    """The address the current request came from (the proxy's, behind a reverse proxy)."""
    return request.remote_addr or "unknown"
