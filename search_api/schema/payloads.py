"""JSON bodies of successful answers that more than one route gives."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import url_for

from indexer.records import SearchResult
from indexer.sources.folder import InstanceUIDs
from search_api.state import get_state


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


def image_urls(image_id: int, index: str | None = None) -> dict[str, str | None]:
    """Relative URLs of an image's thumbnail and original file; ``index`` names the index they
    come from (left out when the service serves one). With MEDSEARCH_VIEWER_URL set, also its
    link into the PACS viewer (None for images that did not come from a PACS)."""
    where: dict[str, Any] = {} if index is None else {"index": index}
    urls: dict[str, str | None] = {
        "thumbnail_url": url_for("api.images.thumbnail", id=image_id, **where),
        "image_url": url_for("api.images.file", id=image_id, **where),
    }
    state = get_state()
    template = state.settings.viewer_url
    if template:
        located = state.index(index).retriever.dicomweb_instance(image_id)
        urls["viewer_url"] = None if located is None else viewer_link(template, located[1])
    return urls


def viewer_link(template: str, uids: InstanceUIDs) -> str:
    """``template`` with its ``{study_uid}`` and ``{series_uid}`` placeholders filled in."""
    return template.replace("{study_uid}", quote(uids.study_uid, safe="")).replace(
        "{series_uid}", quote(uids.series_uid, safe="")
    )
