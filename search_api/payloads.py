"""JSON bodies of successful answers that more than one route gives."""

from __future__ import annotations

from typing import Any

from flask import url_for

from indexer.records import SearchResult


def search_payload(
    result: SearchResult, decode_ms: float = 0.0, *, index: str | None = None
) -> dict[str, Any]:
    """The JSON of a search result, each hit with its thumbnail and file URLs (in ``index``)."""
    payload = result.to_dict()
    for hit in payload["results"]:
        hit.update(image_urls(hit["id"], index))
    if decode_ms:
        timings = payload["timings_ms"]
        timings["decode"] = round(decode_ms, 3)
        timings["total"] = round(timings.get("total", 0.0) + decode_ms, 3)
    return payload


def image_urls(image_id: int, index: str | None = None) -> dict[str, str]:
    """Relative URLs of an image's thumbnail and original file; ``index`` names the index they
    come from (left out when the service serves one)."""
    where: dict[str, Any] = {} if index is None else {"index": index}
    return {
        "thumbnail_url": url_for("api.images.thumbnail", id=image_id, **where),
        "image_url": url_for("api.images.file", id=image_id, **where),
    }
