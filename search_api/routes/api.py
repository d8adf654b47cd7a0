"""The ``api`` blueprint: search, images and service routes, mounted at ``/api``."""

from __future__ import annotations

from flask import Blueprint

from search_api.errors import register_error_handlers
from search_api.routes import (
    images as routes_images,
)
from search_api.routes import (
    meta as routes_meta,
)
from search_api.routes import (
    search as routes_search,
)
from search_api.routes import (
    session as routes_session,
)


def create_api_blueprint() -> Blueprint:
    """A fresh ``api`` blueprint nesting the route groups (endpoints ``api.<group>.<view>``)."""
    api = Blueprint("api", __name__)
    # also on the blueprint, so an app-wide handler a plug-in adds cannot reshape API errors
    register_error_handlers(api)
    api.register_blueprint(routes_search.bp)
    api.register_blueprint(routes_images.bp)
    api.register_blueprint(routes_meta.bp)
    api.register_blueprint(routes_session.bp)
    return api
