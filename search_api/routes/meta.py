"""Service routes: ``/health``, ``/info``, ``/indexes``, ``/facets`` and ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

import indexer
from indexer.prompts import DEFAULT_TEMPLATE
from indexer.records import facets_json
from search_api.schema.openapi import build_openapi
from search_api.schema.params import parse_facets_query
from search_api.state import get_state, requested_index

bp = Blueprint("meta", __name__)


@bp.get("/health")
def health() -> dict[str, Any]:
    """Liveness: the process is up (no token needed)."""
    return {"status": "ok"}


@bp.get("/info")
def info() -> dict[str, Any]:
    """Index size, encoder, generation, the MedSearch version and the default label template."""
    return {
        **requested_index().retriever.info().to_json(),
        "version": indexer.__version__,
        "default_template": DEFAULT_TEMPLATE,
    }


@bp.get("/indexes")
def indexes() -> dict[str, Any]:
    """The served indexes, the default first: name, encoder family, model, dim, count."""
    return {"indexes": [index.describe() for index in get_state().indexes]}


@bp.get("/facets")
def facets() -> dict[str, Any]:
    """Values of every metadata field with their counts, most frequent first; under ``filters``
    each field is counted with the other fields' filters applied."""
    filters = parse_facets_query(request.args, get_state().limits)
    return {"facets": facets_json(requested_index().retriever.facets(filters))}


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    """The OpenAPI description of this API."""
    state = get_state()
    return build_openapi(state.settings, version=indexer.__version__, limits=state.served_limits())
