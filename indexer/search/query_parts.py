"""Queries made of weighted parts: more like these, less like those (Rocchio-style feedback).

A query may be a list of parts, each a text, an uploaded image, an indexed image id or a raw
vector with a weight, positive (more like this) or negative (less like this). Each part becomes
a unit vector ``u_i`` as it would as a query of its own, and the query vector is their weighted
sum scaled back to unit length::

    q = (w_1 u_1 + ... + w_n u_n) / ||w_1 u_1 + ... + w_n u_n||

so a cosine against ``q`` ranks images by ``sum_i w_i cos(x, u_i)`` (up to one positive factor).
At least one weight must be positive (a query of nothing but "less like" ranks nothing the user
wants), and parts that cancel out (the sum shorter than :data:`MIN_RELATIVE_LENGTH` of the sum
of the weights' sizes) are refused rather than ranked by rounding noise. Images given by id,
whatever the sign of their weight, are left out of the results, as an ``image_id`` query's is.

A new kind of part is one entry of :data:`PART_KINDS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from ..errors import InvalidRequestError

#: the combined vector is refused when shorter than this share of the sum of |weights|
MIN_RELATIVE_LENGTH = 1e-4


class PartEmbedder(Protocol):
    """What turns each kind of part into a unit vector (a :class:`Retriever` is one)."""

    def embed_text(self, text: str) -> np.ndarray: ...

    def embed_image(self, image: Image.Image) -> np.ndarray: ...

    def check_vector(self, vector: Sequence[float] | np.ndarray) -> np.ndarray: ...

    def get(self, image_id: int) -> Any: ...

    def vectors_for(self, ids: Sequence[int]) -> np.ndarray: ...


def _indexed_image(embedder: PartEmbedder, image_id: Any) -> np.ndarray:
    embedder.get(int(image_id))  # NotFoundError for unknown ids
    return np.asarray(embedder.vectors_for([int(image_id)])[0])


#: each kind of part and how it becomes a unit vector
PART_KINDS: dict[str, Callable[[PartEmbedder, Any], np.ndarray]] = {
    "text": lambda embedder, text: embedder.embed_text(text),
    "image": lambda embedder, image: embedder.embed_image(image),
    "image_id": _indexed_image,
    "vector": lambda embedder, vector: embedder.check_vector(vector),
}
#: the kinds whose part names an indexed image, which the results then leave out
EXCLUDING_KINDS = frozenset({"image_id"})


@dataclass(frozen=True)
class QueryPart:
    """One part of a query: its kind (a key of :data:`PART_KINDS`), value and weight."""

    kind: str
    value: Any
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in PART_KINDS:
            raise InvalidRequestError(
                f"unknown query part {self.kind!r}; expected one of {sorted(PART_KINDS)}"
            )
        if not isinstance(self.weight, int | float) or not math.isfinite(self.weight):
            raise InvalidRequestError("a query part's weight must be a finite number")
        if self.weight == 0:
            raise InvalidRequestError("a query part's weight must not be 0 (leave the part out)")


def combined_vector(parts: Sequence[QueryPart], embedder: PartEmbedder) -> np.ndarray:
    """The unit query vector of weighted ``parts``: the normalised weighted sum of theirs."""
    if not parts:
        raise InvalidRequestError("parts must hold at least one query part")
    if not any(part.weight > 0 for part in parts):
        raise InvalidRequestError(
            "parts need at least one positive weight (something to find more of)"
        )
    # weights scaled to at most 1 first, so that no sum overflows (the direction is the same)
    largest = max(abs(part.weight) for part in parts)
    total = np.zeros(0, dtype=np.float64)
    for part in parts:
        unit = np.asarray(PART_KINDS[part.kind](embedder, part.value), dtype=np.float64)
        weighted = (part.weight / largest) * unit
        total = weighted if total.size == 0 else total + weighted
    length = float(np.linalg.norm(total))
    scale = sum(abs(part.weight) / largest for part in parts)
    if not length > MIN_RELATIVE_LENGTH * scale:
        raise InvalidRequestError(
            "the query parts cancel out: their weighted sum has (almost) zero length"
        )
    return (total / length).astype(np.float32)


def excluded_ids(parts: Sequence[QueryPart] | None) -> list[int]:
    """The indexed images the parts name, which are never results of their query."""
    return [int(part.value) for part in parts or () if part.kind in EXCLUDING_KINDS]


def judged_as(parts: Sequence[QueryPart]) -> str:
    """The query kind whose null distribution judges a weighted query: that of its heaviest
    positive part (a text steered away from some images stands against the texts' null)."""
    positive = [part for part in parts if part.weight > 0]
    return max(positive, key=lambda part: part.weight).kind if positive else ""
