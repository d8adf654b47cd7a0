"""Search and zero-shot classification routes: ``/search``, ``/search/image``, ``/classify``."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, request, url_for
from PIL import Image

from indexer.imaging import decode_image_bytes
from indexer.records import SearchResult
from search_api.params import (
    SEARCH_FORM_KEYS,
    SearchParams,
    invalid,
    json_body,
    parse_classify_body,
    parse_search_body,
    parse_search_form,
    reject_unknown,
    require_multipart,
)
from search_api.state import get_state

bp = Blueprint("search", __name__)


@bp.post("/search")
def search() -> dict[str, Any]:
    """Search by text, base64 image, indexed image id or raw vector."""
    state = get_state()
    settings = state.settings
    query = parse_search_body(
        json_body(request), max_k=settings.max_k, max_bytes=settings.max_upload_bytes
    )
    image, decode_ms = decode_upload(query.image)
    result = state.retriever.search(
        text=query.text,
        image=image,
        vector=query.vector,
        image_id=query.image_id,
        **search_kwargs(query.params),
    )
    return search_payload(result, decode_ms)


@bp.post("/search/image")
def search_image() -> dict[str, Any]:
    """Search with an uploaded image file (multipart ``file``) and the usual form fields."""
    state = get_state()
    require_multipart(request)
    reject_unknown(request.form.keys(), SEARCH_FORM_KEYS | {"file"})
    reject_unknown(request.files.keys(), {"file"})
    upload = request.files.get("file")
    if upload is None:
        raise invalid("a multipart 'file' part with the image is required")
    params = parse_search_form(request.form, max_k=state.settings.max_k)
    image, decode_ms = decode_upload(upload.read())
    result = state.retriever.search(image=image, **search_kwargs(params))
    return search_payload(result, decode_ms)


@bp.post("/classify")
def classify() -> dict[str, Any]:
    """Zero-shot probabilities of candidate labels for a base64 image or an indexed image."""
    state = get_state()
    query = parse_classify_body(json_body(request), max_bytes=state.settings.max_upload_bytes)
    image, decode_ms = decode_upload(query.image)
    started = time.perf_counter()
    labels = state.retriever.classify(
        query.labels, image=image, image_id=query.image_id, template=query.template
    )
    classify_ms = (time.perf_counter() - started) * 1000
    timings = {"decode": decode_ms, "classify": classify_ms, "total": decode_ms + classify_ms}
    return {
        "labels": [label.to_dict() for label in labels],
        "timings_ms": {key: round(value, 3) for key, value in timings.items()},
    }


def decode_upload(data: bytes | None) -> tuple[Image.Image | None, float]:
    """Decode uploaded image bytes in memory; the image (None if no bytes) and milliseconds."""
    if data is None:
        return None, 0.0
    if not data:
        raise invalid("the uploaded image is empty")
    started = time.perf_counter()
    state = get_state()
    decoded = decode_image_bytes(
        data, max_pixels=state.settings.max_image_pixels, draft_size=state.draft_size
    )
    return decoded.image, (time.perf_counter() - started) * 1000


def search_kwargs(params: SearchParams) -> dict[str, Any]:
    """Keyword arguments of :meth:`Retriever.search` for paging, filters and threshold."""
    return {
        "k": params.k,
        "offset": params.offset,
        "filters": params.filters,
        "min_score": params.min_score,
    }


def search_payload(result: SearchResult, decode_ms: float = 0.0) -> dict[str, Any]:
    """The JSON of a search result, each hit with its thumbnail and file URLs."""
    payload = result.to_dict()
    for hit in payload["results"]:
        hit.update(image_urls(hit["id"]))
    if decode_ms:
        timings = payload["timings_ms"]
        timings["decode"] = round(decode_ms, 3)
        timings["total"] = round(timings.get("total", 0.0) + decode_ms, 3)
    return payload


def image_urls(image_id: int) -> dict[str, str]:
    """Relative URLs of an image's thumbnail and original file."""
    return {
        "thumbnail_url": url_for("api.images.thumbnail", id=image_id),
        "image_url": url_for("api.images.file", id=image_id),
    }
