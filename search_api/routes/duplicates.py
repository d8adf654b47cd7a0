"""``/duplicates``: clusters of near-identical images over an index (and, across a field, the
train/test leakage they make), and the index's adaptive threshold."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from search_api.schema.params import parse_duplicates_query
from search_api.schema.payloads import image_urls
from search_api.state import get_state, requested_index

bp = Blueprint("duplicates", __name__, url_prefix="/duplicates")


@bp.get("")
def duplicates() -> dict[str, Any]:
    """The largest, closest clusters first, each with its images' records and links."""
    state = get_state()
    query = parse_duplicates_query(request.args, state.limits)
    served = state.index(query.index)
    retriever = served.retriever
    report = retriever.duplicates(query.threshold, query.across)
    payload = report.to_dict(query.limit)
    shown = [i for cluster in payload["clusters"] for i in cluster["ids"]]
    records = {i: retriever.get(i) for i in shown}
    index = state.url_name(served)
    for cluster in payload["clusters"]:
        cluster["members"] = [_member(records[i], query.across, index) for i in cluster["ids"]]
    return payload


@bp.get("/threshold")
def threshold() -> dict[str, Any]:
    """The index's adaptive threshold and how it was measured."""
    return requested_index().retriever.duplicate_threshold().to_dict()


def _member(record: Any, across: str | None, index: str | None) -> dict[str, Any]:
    member: dict[str, Any] = {"id": record.id, "path": record.path, "caption": record.caption}
    if across is not None:
        member["value"] = record.metadata().get(across)
    member.update(image_urls(record.id, index))
    return member
