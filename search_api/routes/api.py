"""The ``api`` blueprint: search, images and service routes, mounted at ``/api``."""

from __future__ import annotations

from flask import Blueprint

from search_api.errors import register_error_handlers
from search_api.routes import clip_retrieval, duplicates, groups, images, meta, search, session


def create_api_blueprint() -> Blueprint:
    """A fresh ``api`` blueprint nesting the route groups (endpoints ``api.<group>.<view>``)."""
    api = Blueprint("api", __name__)
    # also on the blueprint, so an app-wide handler a plug-in adds cannot reshape API errors
    register_error_handlers(api)
    api.register_blueprint(search.bp)
    api.register_blueprint(images.bp)
    api.register_blueprint(groups.bp)
    api.register_blueprint(duplicates.bp)
    api.register_blueprint(meta.bp)
    api.register_blueprint(session.bp)
    api.register_blueprint(clip_retrieval.bp)
    return api
