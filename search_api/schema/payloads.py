"""JSON bodies of successful answers that more than one route gives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import url_for

from indexer.records import SearchResult
from search_api.state import get_state


def search_payload(
    result: SearchResult, decode_ms: float = 0.0, *, index: str | None = None
) -> dict[str, Any]:
    """The JSON of a search result, each hit with its thumbnail and file URLs (in ``index``)."""
    payload = result.to_dict()
    links = viewer_links([hit["id"] for hit in payload["results"]], index)
    for hit in payload["results"]:
        hit.update(image_urls(hit["id"], index, links))
    if decode_ms:
        timings = payload["timings_ms"]
        timings["decode"] = round(decode_ms, 3)
        timings["total"] = round(timings.get("total", 0.0) + decode_ms, 3)
    return payload


def viewer_links(image_ids: list[int], index: str | None = None) -> Mapping[int, str] | None:
    """With MEDSEARCH_VIEWER_URL set, the viewer links of images of ``index`` (read together);
    None without it, when images carry no ``viewer_url``."""
    state = get_state()
    if not state.settings.viewer_url:
        return None
    return state.index(index).retriever.viewer_links(image_ids)


def image_urls(
    image_id: int, index: str | None = None, links: Mapping[int, str] | None = None
) -> dict[str, str | None]:
    """Relative URLs of an image's thumbnail and original file; ``index`` names the index they
    come from (left out when the service serves one). Given ``links`` (see :func:`viewer_links`),
    also its link into the viewer of its source (None for images without one)."""
    where: dict[str, Any] = {} if index is None else {"index": index}
    urls: dict[str, str | None] = {
        "thumbnail_url": url_for("api.images.thumbnail", id=image_id, **where),
        "image_url": url_for("api.images.file", id=image_id, **where),
    }
    if links is not None:
        urls["viewer_url"] = links.get(image_id)
    return urls
