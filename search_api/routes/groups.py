"""``/groups/<field>/<value>``: the images that share a metadata field's value, in slice order
(a series by ``slice_position``, then ``instance_number``, then id)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from search_api.schema.params import parse_group_path
from search_api.state import get_state, requested_index

bp = Blueprint("groups", __name__, url_prefix="/groups")


@bp.get("/<field>/<path:value>")
def group(field: str, value: str) -> dict[str, Any]:
    """A group's images in slice order; 404 when no image holds ``value``."""
    name = parse_group_path(field, get_state().limits)
    return requested_index().retriever.group(name, value).to_dict()
