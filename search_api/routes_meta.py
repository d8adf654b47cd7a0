"""Service routes: ``/health``, ``/info``, ``/facets`` and ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

import indexer
from indexer.prompts import DEFAULT_TEMPLATE
from search_api.openapi import build_openapi
from search_api.state import get_state

bp = Blueprint("meta", __name__)


@bp.get("/health")
def health() -> dict[str, Any]:
    """Liveness: the process is up (no token needed)."""
    return {"status": "ok"}


@bp.get("/info")
def info() -> dict[str, Any]:
    """Index size, encoder, generation, the MedSearch version and the default label template."""
    return {
        **get_state().retriever.info(),
        "version": indexer.__version__,
        "default_template": DEFAULT_TEMPLATE,
    }


@bp.get("/facets")
def facets() -> dict[str, Any]:
    """Values of every metadata field with their counts, most frequent first."""
    facets = get_state().retriever.facets()
    return {
        "facets": {
            field: [{"value": value, "count": count} for value, count in values]
            for field, values in facets.items()
        }
    }


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    """The OpenAPI description of this API."""
    return build_openapi(get_state().settings, version=indexer.__version__)
