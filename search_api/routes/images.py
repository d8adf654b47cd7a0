"""Routes about one indexed image: record, similar images, thumbnail, original file.

Files are only ever looked up by indexed id through the retriever, never by a client path.
Ids are per index: every route takes the ``index`` query argument (the first index by default).
"""

from __future__ import annotations

import mimetypes
from io import BytesIO
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request, send_file

from indexer.records import ImageRecord
from search_api.schema.fields import check_id
from search_api.schema.params import parse_search_query, parse_thumbnail_size
from search_api.schema.payloads import image_urls, search_payload, viewer_links
from search_api.state import get_state, requested_index
from search_api.thumbnails import render_png, render_thumbnail, withheld_placeholder

bp = Blueprint("images", __name__, url_prefix="/images")

#: seconds browsers may reuse an image without asking again (then they revalidate the ETag)
CACHE_SECONDS = 3600
#: files up to this size are sent from memory, bigger ones streamed from disk
IN_MEMORY_BYTES = 16 * 1024 * 1024

MIMETYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "webp": "image/webp",
    "gif": "image/gif",
}


@bp.get("/<int:id>")
def record(id: int) -> dict[str, Any]:
    """Everything stored about an image, with its URLs."""
    state = get_state()
    served = requested_index()
    image = served.retriever.get(check_id(id))
    index = state.url_name(served)
    return {**image.to_dict(), **image_urls(image.id, index, viewer_links([image.id], index))}


@bp.get("/<int:id>/similar")
def similar(id: int) -> dict[str, Any]:
    """Images most similar to an indexed image, the image itself left out."""
    state = get_state()
    served = requested_index()
    params = parse_search_query(request.args, state.limits)
    image_id = check_id(id)
    result = served.retriever.search(
        image_id=image_id, exclude_ids={image_id}, **params.as_kwargs()
    )
    return search_payload(result, index=state.url_name(served))


@bp.get("/<int:id>/thumbnail")
def thumbnail(id: int) -> Response:
    """A JPEG thumbnail at most ``size`` pixels on a side, cached on disk by content hash."""
    state = get_state()
    served = requested_index()
    size = parse_thumbnail_size(request.args, state.limits)
    image = served.retriever.get(check_id(id))
    if is_withheld(image):
        placeholder = withheld_placeholder(size, "JPEG")
        return send_image(placeholder, "image/jpeg", etag=f"withheld-{size}")
    max_pixels = state.settings.max_image_pixels
    cached = served.renders.get(
        served.renders.path_for(image.sha256, str(size), ".jpg"),
        lambda: render_thumbnail(served.retriever.original(id), size, max_pixels=max_pixels),
    )
    return send_image(cached, "image/jpeg", etag=f"{image.sha256}-{size}")


@bp.get("/<int:id>/file", endpoint="file")
def original(id: int) -> Response:
    """The original file; DICOM is rendered to PNG since browsers cannot show it."""
    state = get_state()
    served = requested_index()
    image = served.retriever.get(check_id(id))
    if image.format == "dicom":
        if is_withheld(image):
            return send_image(withheld_placeholder(512, "PNG"), "image/png", etag="withheld-png")
        max_pixels = state.settings.max_image_pixels
        cached = served.renders.get(
            served.renders.path_for(image.sha256, "full", ".png"),
            lambda: render_png(served.retriever.original(id), max_pixels=max_pixels),
        )
        return send_image(cached, "image/png", etag=f"{image.sha256}-png")
    mimetype = MIMETYPES.get(image.format) or mimetypes.guess_type(image.path)[0]
    return send_image(served.retriever.original(id), mimetype or "application/octet-stream")


def is_withheld(image: ImageRecord) -> bool:
    """Whether MEDSEARCH_HIDE_BURNED_IN withholds this image (burned-in patient data)."""
    return get_state().settings.hide_burned_in and image.extra.get("burned_in_annotation") == "yes"


def send_image(content: Path | bytes, mimetype: str, *, etag: str | None = None) -> Response:
    """Send a file or bytes with an ETag (304 on a match) and private caching headers.

    Files up to :data:`IN_MEMORY_BYTES` are read and sent from memory, so no open file handle
    outlives the response however the client handles it; bigger ones are streamed from disk.
    """
    last_modified = None
    if isinstance(content, Path):
        stat = content.stat()
        last_modified = stat.st_mtime
        etag = etag or f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
        if stat.st_size <= IN_MEMORY_BYTES:
            content = content.read_bytes()
    source = BytesIO(content) if isinstance(content, bytes) else content
    response = send_file(
        source,
        mimetype=mimetype,
        etag=etag if etag is not None else True,
        last_modified=last_modified,
        conditional=True,
    )
    response.headers["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
    response.headers.pop("Expires", None)
    return response
