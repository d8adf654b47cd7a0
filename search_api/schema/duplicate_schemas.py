"""The answers of ``GET /api/duplicates`` and ``GET /api/duplicates/threshold``, and the
``copies`` a folded search result lists."""

from __future__ import annotations

from search_api.schema.json_schema import Schema, closed

_SCALAR: Schema = {"type": ["string", "number", "boolean", "null"]}
_IDS: Schema = {"type": "array", "items": {"type": "integer", "minimum": 0}}

#: the results folded into a search result (exact copies, near-duplicates with dedupe)
COPIES: Schema = {
    "type": "array",
    "description": "Results folded into this one: exact copies (the same sha256) always, and "
    "with dedupe the results within that cosine of it; best first",
    "items": {
        "type": "object",
        "properties": {"id": {"type": "integer", "minimum": 0}, "score": {"type": "number"}},
        "required": ["id", "score"],
        "additionalProperties": False,
    },
}


def duplicate_schemas(urls: dict[str, Schema]) -> dict[str, Schema]:
    """The component schemas of the duplicate routes; ``urls``: an image's link fields."""
    member = closed(
        {
            "id": {"type": "integer", "minimum": 0},
            "path": {"type": "string"},
            "caption": {"type": ["string", "null"]},
            "value": _SCALAR,
            **urls,
        },
        optional=("value",),
    )
    cluster = closed(
        {
            "size": {"type": "integer", "minimum": 2},
            "closest": {"type": "number"},
            "loosest": {"type": "number"},
            "ids": _IDS,
            "exact_copies": {"type": "array", "items": _IDS},
            "values": {
                "type": "array",
                "items": closed({"value": _SCALAR, "count": {"type": "integer", "minimum": 1}}),
            },
            "members": {"type": "array", "items": member},
        },
        optional=("values",),
    )
    threshold = closed(
        {
            "threshold": {"type": "number"},
            "median_neighbour_similarity": {"type": ["number", "null"]},
            "sample": {"type": "integer", "minimum": 0},
            "generation": {"type": "integer"},
            "rule": {"type": "string"},
        }
    )
    return {
        "Duplicates": closed(
            {
                "threshold": {"type": "number"},
                "threshold_rule": {"type": "string", "enum": ["given", "adaptive"]},
                "images": {"type": "integer", "minimum": 0},
                "method": {"type": "string", "enum": ["exact", "lists"]},
                "seconds": {"type": "number", "minimum": 0},
                "across": {"type": ["string", "null"]},
                "cluster_count": {"type": "integer", "minimum": 0},
                "images_in_clusters": {"type": "integer", "minimum": 0},
                "leakage": {
                    "type": "array",
                    "items": closed(
                        {
                            "values": {"type": "array", "items": _SCALAR},
                            "clusters": {"type": "integer", "minimum": 1},
                            "images": {"type": "integer", "minimum": 2},
                        }
                    ),
                },
                "clusters": {"type": "array", "items": cluster},
            }
        ),
        "DuplicateThreshold": threshold,
    }
