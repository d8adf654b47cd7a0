"""The application factory.

:func:`create_app` opens the indexes once (:mod:`search_api.indexes`), mounts the JSON API at
``/api``, then the first-party search page, imported by name so that this package never imports
it statically (one that cannot be loaded is an error), then the blueprints other packages
advertise under the ``medsearch.blueprints`` entry-point group.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from io import BytesIO
from typing import IO

from flask import Flask, Request, request

from indexer.front_ends import load_front_end
from indexer.settings import Settings
from search_api.errors import register_error_handlers
from search_api.indexes import IndexSet, name_index_dirs, open_indexes
from search_api.metrics import METRICS_PATH, install_metrics
from search_api.routes.api import create_api_blueprint
from search_api.security.auth import SESSION_COOKIE
from search_api.security.headers import allowed_origins, install_headers
from search_api.service import SearchService
from search_api.state import STATE_KEY, ApiState, client_address, get_state

log = logging.getLogger(__name__)

API_PREFIX = "/api"
#: API routes open without a token: liveness, and where a browser signs in with one
HEALTH_PATH = API_PREFIX + "/health"
SESSION_PATH = API_PREFIX + "/session"
#: "module:factory" of the first-party blueprints (the search page)
FRONT_END_BLUEPRINTS = ("web:create_blueprint",)
#: entry-point group through which other packages add blueprints
BLUEPRINT_GROUP = "medsearch.blueprints"


class InMemoryUploadRequest(Request):
    """A request whose uploaded files stay in memory (bounded by MAX_CONTENT_LENGTH).

    werkzeug spools uploads over 500 KB to a temporary file; uploaded images must never
    touch the disk.
    """

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return BytesIO()


def create_app(
    settings: Settings | None = None,
    *,
    retriever: SearchService | None = None,
    indexes: IndexSet | None = None,
) -> Flask:
    """A Flask app serving ``indexes``, or else the one index at ``settings.index_dir``.

    ``settings`` defaults to :meth:`Settings.from_env`, for a WSGI server that calls
    ``create_app()`` itself. ``indexes`` are named, already opened
    indexes (:func:`search_api.indexes.open_indexes` opens folders). ``retriever`` lets a caller
    share one already opened :class:`~indexer.search.retriever.Retriever` (or any
    :class:`SearchService`) for ``settings.index_dir``. Otherwise that index is opened here,
    which raises :class:`indexer.errors.MedSearchError` if the index or its model is
    unavailable. The app's state, indexes included, is ``app.extensions["medsearch"]``
    (:class:`~search_api.state.ApiState`).
    """
    settings = settings or Settings.from_env()
    if indexes is None:
        indexes = _single_index(settings, retriever)
    app = Flask(__name__, static_folder=None)  # JSON only; plug-ins bring their own assets
    app.request_class = InMemoryUploadRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[STATE_KEY] = ApiState(settings, indexes)
    register_error_handlers(app)
    install_headers(app, api_prefix=API_PREFIX, cors_origins=allowed_origins(settings.cors_origins))
    install_metrics(app, indexes)
    app.before_request(_before_api_request)
    app.register_blueprint(create_api_blueprint(), url_prefix=API_PREFIX)
    register_front_end_blueprints(app)
    register_plugin_blueprints(app)
    return app


def _single_index(settings: Settings, retriever: SearchService | None) -> IndexSet:
    """The index at ``settings.index_dir``, named by its folder, over ``retriever`` if given."""
    [(name, folder)] = name_index_dirs([str(settings.index_dir)])
    if retriever is None:
        return open_indexes(settings, [(name, folder)])
    return IndexSet.of([(name, settings, retriever)])


def _before_api_request() -> None:
    """On /api routes (known or not) and the metrics: check the bearer token, then maybe
    reload the indexes.

    A CORS preflight (OPTIONS) carries no credentials by design and only learns the allowed
    methods and headers, so it is not checked.
    """
    path = request.path
    if path != METRICS_PATH and path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
        return
    if path in (HEALTH_PATH, SESSION_PATH) or request.method == "OPTIONS":
        return
    state = get_state()
    state.auth.check(
        request.headers.get("Authorization"),
        request.cookies.get(SESSION_COOKIE),
        client_address(),
    )
    state.maybe_refresh()


def register_front_end_blueprints(app: Flask) -> None:
    """Register the first-party blueprints; FrontEndMissingError if one cannot be loaded."""
    for target in FRONT_END_BLUEPRINTS:
        app.register_blueprint(load_front_end(target)())


def register_plugin_blueprints(app: Flask) -> None:
    """Register the blueprint returned by each ``medsearch.blueprints`` entry point.

    A plug-in that fails to load is logged and skipped: the API stays up without it.
    """
    for entry_point in entry_points(group=BLUEPRINT_GROUP):
        try:
            blueprint = entry_point.load()()
            if blueprint.name in app.blueprints:
                continue
            app.register_blueprint(blueprint)
        except Exception:
            log.exception("cannot mount the %r blueprint (%s)", entry_point.name, entry_point.value)
