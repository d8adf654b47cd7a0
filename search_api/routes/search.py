"""Search and zero-shot classification routes: ``/search``, ``/search/image``, ``/classify``."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, request
from PIL import Image

from indexer.imaging.decode import decode_image_bytes
from indexer.search.query_parts import QueryPart
from search_api.indexes import ServedIndex
from search_api.schema.fields import invalid
from search_api.schema.params import (
    json_body,
    parse_classify_body,
    parse_search_body,
    parse_search_upload,
)
from search_api.schema.parts_field import ParsedPart
from search_api.schema.payloads import search_payload
from search_api.state import get_state

bp = Blueprint("search", __name__)


@bp.post("/search")
def search() -> dict[str, Any]:
    """Search by text, base64 image, indexed image id, raw vector or weighted parts."""
    state = get_state()
    query = parse_search_body(json_body(request), state.limits)
    served = state.index(query.index)
    image, decode_ms = decode_upload(query.image, served)
    parts, parts_ms = query_parts(query.parts, served)
    result = served.retriever.search(
        text=query.text,
        image=image,
        vector=query.vector,
        image_id=query.image_id,
        group=query.group,
        mode=query.mode,
        parts=parts,
        **query.params.as_kwargs(),
    )
    decode_ms += parts_ms
    return search_payload(result, decode_ms, index=state.url_name(served))


@bp.post("/search/image")
def search_image() -> dict[str, Any]:
    """Search with an uploaded image file (multipart ``file``) and the usual form fields."""
    state = get_state()
    params, data, index = parse_search_upload(request, state.limits)
    served = state.index(index)
    image, decode_ms = decode_upload(data, served)
    result = served.retriever.search(image=image, **params.as_kwargs())
    return search_payload(result, decode_ms, index=state.url_name(served))


@bp.post("/classify")
def classify() -> dict[str, Any]:
    """Zero-shot probabilities of candidate labels for a base64 image or an indexed image."""
    state = get_state()
    query = parse_classify_body(json_body(request), state.limits)
    served = state.index(query.index)
    image, decode_ms = decode_upload(query.image, served)
    started = time.perf_counter()
    labels = served.retriever.classify(
        query.labels, image=image, image_id=query.image_id, template=query.template
    )
    classify_ms = (time.perf_counter() - started) * 1000
    timings = {"decode": decode_ms, "classify": classify_ms, "total": decode_ms + classify_ms}
    return {
        "labels": [label.to_dict() for label in labels],
        "timings_ms": {key: round(value, 3) for key, value in timings.items()},
    }


def query_parts(
    parsed: list[ParsedPart] | None, index: ServedIndex
) -> tuple[list[QueryPart] | None, float]:
    """The parts of a weighted query for the Retriever, their images decoded; milliseconds
    spent decoding."""
    if parsed is None:
        return None, 0.0
    parts, decode_ms = [], 0.0
    for part in parsed:
        value = part.value
        if part.kind == "image":
            value, spent = decode_upload(value, index)
            decode_ms += spent
        parts.append(QueryPart(part.kind, value, part.weight))
    return parts, decode_ms


def decode_upload(data: bytes | None, index: ServedIndex) -> tuple[Image.Image | None, float]:
    """Decode uploaded image bytes in memory for ``index``'s encoder; the image (None if no
    bytes) and milliseconds."""
    if data is None:
        return None, 0.0
    if not data:
        raise invalid("the uploaded image is empty")
    started = time.perf_counter()
    decoded = decode_image_bytes(
        data, max_pixels=get_state().settings.max_image_pixels, draft_size=index.draft_size
    )
    return decoded.image, (time.perf_counter() - started) * 1000
