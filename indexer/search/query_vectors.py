"""The unit vector a query becomes: a text, an image, a raw vector, an indexed image or parts.

Recent text and image queries are cached: texts by their words, images by the model input they
become, which also catches the same picture sent again in another file format.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from ..encoders import Encoder
from ..errors import InvalidRequestError
from ..query_cache import QueryCache
from ..records import ImageRecord
from ..storage.metadata_db import Store
from .query_parts import QueryPart, combined_vector

_TEXT_CACHE_SIZE = 1024
_IMAGE_CACHE_SIZE = 256


class QueryEmbedder:
    """Embeds queries with an index's encoder; stored vectors come from ``vectors_for``."""

    def __init__(
        self,
        encoder: Encoder,
        store: Store,
        vectors_for: Callable[[Sequence[int]], np.ndarray],
    ) -> None:
        self.encoder = encoder
        self.store = store
        self.vectors_for = vectors_for
        self._text_cache: QueryCache[np.ndarray] = QueryCache(_TEXT_CACHE_SIZE)
        self._image_cache: QueryCache[np.ndarray] = QueryCache(_IMAGE_CACHE_SIZE)

    def embed(
        self,
        *,
        text: str | None,
        image: Image.Image | None,
        vector: Sequence[float] | np.ndarray | None,
        image_id: int | None,
        parts: Sequence[QueryPart] | None = None,
    ) -> np.ndarray:
        """The unit vector of exactly one query kind."""
        given = [
            n
            for n, v in (
                ("text", text),
                ("image", image),
                ("image_id", image_id),
                ("vector", vector),
                ("parts", parts),
            )
            if v is not None
        ]
        if len(given) != 1:
            raise InvalidRequestError(
                "give exactly one of text, image, image_id, vector, parts"
                + (f", not {' and '.join(given)}" if given else "")
            )
        if text is not None:
            return self.embed_text(text)
        if image is not None:
            return self.embed_image(image)
        if vector is not None:
            return self.check_vector(vector)
        if parts is not None:
            return combined_vector(parts, self)
        assert image_id is not None  # exactly one of the five is set
        self.store.get(image_id)  # NotFoundError for unknown ids
        return self.vectors_for([image_id])[0]

    def get(self, image_id: int) -> ImageRecord:
        return self.store.get(image_id)

    def embed_text(self, text: str) -> np.ndarray:
        """The unit vector of a text query (recent queries are cached)."""
        if not text.strip():
            raise InvalidRequestError("text must be a non-empty string")
        key = " ".join(text.split())
        return self._text_cache.get_or_compute(key, lambda: self.encoder.encode_texts([key])[0])

    def embed_image(self, image: Image.Image) -> np.ndarray:
        """The unit vector of an image query (cached by the model input the image becomes)."""
        prepared = self.encoder.prepare(image)
        key = hashlib.blake2b(prepared.tobytes(), digest_size=16).digest()
        return self._image_cache.get_or_compute(
            key, lambda: self.encoder.encode_prepared([prepared])[0]
        )

    def check_vector(self, vector: Sequence[float] | np.ndarray) -> np.ndarray:
        """The query vector scaled to unit length; it must fit this index's encoder."""
        array = np.asarray(vector, dtype=np.float64)
        dim = self.encoder.dim
        if array.shape != (dim,):
            raise InvalidRequestError(
                f"vector must have {dim} numbers (the index's dimension), got shape {array.shape}"
            )
        largest = float(np.max(np.abs(array)))
        if not np.isfinite(largest) or largest == 0.0:
            raise InvalidRequestError("vector must be finite and not all zeros")
        scaled = array / largest  # first, so that squaring cannot overflow
        return (scaled / np.linalg.norm(scaled)).astype(np.float32)
