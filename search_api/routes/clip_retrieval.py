"""clip-retrieval compatible routes: ``/knn-service``, ``/indices-list`` and ``/metadata``.

They take and answer what clip-retrieval's back end (``clip_back``) does, so its ``ClipClient``
and its front end can query a MedSearch service: point them at ``http://HOST:PORT/api`` (the
front end's back-end URL) or ``http://HOST:PORT/api/knn-service`` (``ClipClient``'s ``url``).
The request shapes are in :mod:`search_api.schema.clip_params`, the answers in
:mod:`search_api.clip_compat`. They are API routes like the others: the same token, limits and
error bodies.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from indexer.errors import NotFoundError
from search_api.clip_compat import image_metadata, near_duplicates
from search_api.routes.search import decode_upload
from search_api.schema.clip_params import parse_knn_body, parse_metadata_body
from search_api.schema.fields import MAX_ID
from search_api.schema.params import json_body
from search_api.state import get_state
from search_api.url_images import fetch_image

bp = Blueprint("clip_retrieval", __name__)


@bp.post("/knn-service")
def knn_service() -> Response:
    """Nearest images to a text, a base64 image, an image URL or an embedding."""
    state = get_state()
    # ClipClient sends its JSON without a Content-Type, as clip_back accepts it
    query = parse_knn_body(json_body(request, any_content_type=True), state.limits)
    served = state.index(query.index)
    data = query.image
    if query.image_url is not None:
        data = fetch_image(
            query.image_url,
            allowed=state.settings.fetch_image_urls,
            max_bytes=state.settings.max_upload_bytes,
        )
    image, _ = decode_upload(data, served)
    result = served.retriever.search(
        text=query.text, image=image, vector=query.vector, k=query.num_result_ids
    )
    hits = result.hits
    if query.deduplicate and hits:
        vectors = served.retriever.vectors_for([hit.id for hit in hits])
        dropped = near_duplicates(vectors)
        hits = [hit for position, hit in enumerate(hits) if position not in dropped]
    index = state.url_name(served)
    rows: list[dict[str, Any]] = []
    for rank, hit in enumerate(hits):
        row = {}
        if rank < query.num_images:
            row = image_metadata(hit.id, hit.path, hit.caption, hit.metadata, index)
        rows.append({**row, "id": hit.id, "similarity": hit.score})
    return jsonify(rows)


@bp.get("/indices-list")
def indices_list() -> Response:
    """The names of the served indexes, the default first (clip-retrieval's ``indice_name``)."""
    return jsonify(list(get_state().indexes.names))


@bp.post("/metadata")
def metadata() -> Response:
    """The metadata of images by id; ids the index does not hold are left out."""
    state = get_state()
    ids, name = parse_metadata_body(json_body(request, any_content_type=True), state.limits)
    served = state.index(name)
    index = state.url_name(served)
    answer = []
    for image_id in ids:
        if image_id > MAX_ID:
            continue
        try:
            image = served.retriever.get(image_id)
        except NotFoundError:
            continue
        columns = image_metadata(image.id, image.path, image.caption, image.metadata(), index)
        answer.append({"id": image.id, "metadata": columns})
    return jsonify(answer)
