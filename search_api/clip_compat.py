"""clip-retrieval's answers made from MedSearch's: near-duplicate removal and result rows.

``clip_back`` answers a JSON list of results, each ``{id, similarity}`` plus the metadata
columns of the image (``url``, ``image_path``, ``caption`` ...), and ``/metadata`` a list of
``{id, metadata}``. Here ``url`` is the absolute URL of the image's original through this API,
``image_path`` its path in the corpus, and the image's metadata fields follow (never under the
names above). With ``deduplicate``, results whose vectors are near copies of a better-ranked
result are dropped as ``clip_back`` drops them: the results are joined where their cosine
exceeds :data:`DUPLICATE_COSINE`, and each connected group keeps its best-ranked member.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import url_for

from indexer.records import MetadataValue

#: cosine above which two results count as copies of one image (clip_back's threshold)
DUPLICATE_COSINE = 0.94


def near_duplicates(vectors: np.ndarray, threshold: float = DUPLICATE_COSINE) -> set[int]:
    """Positions of the rows of ``vectors`` (best-ranked first) that are dropped: every member
    of a group connected by cosines above ``threshold`` but its first."""
    count = len(vectors)
    if count < 2:
        return set()
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similar = (unit @ unit.T) > threshold
    parent = list(range(count))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for first, second in zip(*np.nonzero(np.triu(similar, k=1)), strict=True):
        low, high = sorted((root(int(first)), root(int(second))))
        parent[high] = low  # the better-ranked root represents the group
    return {position for position in range(count) if root(position) != position}


def image_metadata(
    image_id: int,
    path: str,
    caption: str | None,
    metadata: dict[str, MetadataValue],
    index: str | None,
) -> dict[str, Any]:
    """The metadata columns of one image as clip-retrieval names them, then its own fields."""
    where: dict[str, Any] = {} if index is None else {"index": index}
    columns: dict[str, Any] = {
        "url": url_for("api.images.file", id=image_id, _external=True, **where),
        "image_path": path,
        "caption": caption,
        "thumbnail_url": url_for("api.images.thumbnail", id=image_id, _external=True, **where),
    }
    return {**{k: v for k, v in metadata.items() if k not in columns}, **columns}
