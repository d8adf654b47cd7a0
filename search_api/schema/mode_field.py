"""The ``mode`` of a text search: dense, keyword or hybrid (:mod:`indexer.search.keywords`).

Keyword and hybrid searches take a ``text`` query at the image level; a keyword search has no
cosine, so no ``min_score``. The field's :meth:`~Mode.requirement` says so in the document, so
that a request the document allows is never refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexer.search.levels import IMAGE_LEVEL
from indexer.search.modes import DENSE, HYBRID, KEYWORD, MODES

from .fields import Field, Limits, Schema, invalid


@dataclass(frozen=True)
class Mode(Field):
    """How a text query ranks images."""

    name: str
    default: str = DENSE
    description: str = (
        "How a text query ranks images: dense (by the cosine of embeddings), keyword (BM25 over "
        "the words of captions and text fields; each result lists its matched_terms) or hybrid "
        "(both rankings fused by reciprocal rank fusion, k = 60). keyword and hybrid need text "
        "at the image level; neither takes min_relative or min_z, and keyword no min_score"
    )

    def schema(self, limits: Limits) -> Schema:
        return self.documented({"type": "string", "enum": list(MODES)}, limits)

    def parse(self, value: Any, limits: Limits) -> str:
        if value not in MODES:
            raise invalid(f"{self.name} must be one of {', '.join(MODES)}")
        return str(value)

    def requirement(self, limits: Limits) -> Schema | None:
        def by_text(mode: str, **more: Schema) -> Schema:
            properties = {
                self.name: {"const": mode},
                "text": {"type": "string"},
                "level": {"enum": [IMAGE_LEVEL, None]},
                **more,
            }
            return {"required": ["text"], "properties": properties}

        return {
            "anyOf": [
                {"properties": {self.name: {"enum": [DENSE, None]}}},
                by_text(HYBRID, min_relative={"type": "null"}, min_z={"type": "null"}),
                by_text(
                    KEYWORD,
                    min_score={"type": "null"},
                    min_relative={"type": "null"},
                    min_z={"type": "null"},
                ),
            ]
        }
