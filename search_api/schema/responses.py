"""JSON Schemas of the API's answers, for the OpenAPI document.

Objects whose keys the service fixes are closed (``additionalProperties: false``), so a key added
to an answer without being described here fails the contract tests.
"""

from __future__ import annotations

from search_api.schema.duplicate_schemas import COPIES, duplicate_schemas
from search_api.schema.json_schema import Schema, closed

#: every error status the API answers: (component name, description)
ERRORS = {
    "400": ("BadRequest", "Malformed body, wrong types or out-of-range parameters"),
    "401": ("Unauthorized", "Missing or wrong bearer token"),
    "403": ("Forbidden", "The service does not do what was asked (fetch an image_url)"),
    "404": ("NotFound", "Unknown image id or index name, or the image's original file is gone"),
    "413": ("PayloadTooLarge", "Body or image larger than the upload limit"),
    "415": ("UnsupportedMediaType", "Wrong Content-Type for this endpoint"),
    "422": ("UnreadableImage", "The image cannot be decoded (not an image, truncated, too big)"),
    "429": (
        "TooManyRequests",
        "Too many wrong tokens from this address: wait Retry-After seconds",
    ),
    "503": ("Unavailable", "The index, the model or the PACS holding the image is unavailable"),
}

_SCALAR: Schema = {"type": ["string", "number", "boolean", "null"]}
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
_METADATA: Schema = {"type": "object", "additionalProperties": _SCALAR}
_TIMINGS: Schema = {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}}
#: of an empty result only: stored values that differ from a text filter value only in case
_SUGGESTIONS: Schema = {
    "type": "object",
    "description": "Only when nothing matched: by filter field, stored values that differ "
    'from a text filter value only in case ({"modality": ["CT"]} for "ct")',
    "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 1},
}
#: every field's values with their counts, most frequent first
_FACET_COUNTS: Schema = {
    "type": "object",
    "additionalProperties": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"value": _SCALAR, "count": {"type": "integer", "minimum": 0}},
            "required": ["value", "count"],
            "additionalProperties": False,
        },
    },
}
_ID_SCORE: Schema = {
    "type": "object",
    "properties": {"id": {"type": "integer", "minimum": 0}, "score": {"type": "number"}},
    "required": ["id", "score"],
    "additionalProperties": False,
}
#: of a collapsed or group-level search: the group a result stands for
_HIT_GROUP: Schema = {
    "type": "object",
    "description": "Only with collapse or a group level: the group this result stands for "
    "(with collapse, value null: an image without the field, a group of its own)",
    "properties": {
        "field": {"type": "string"},
        "value": _SCALAR,
        "size": {"type": "integer", "minimum": 1, "description": "Images of the index in it"},
        "matched": {
            "type": "integer",
            "minimum": 0,
            "description": "Its images among the matches (filters and min_score applied)",
        },
        "next": {"type": "array", "maxItems": 3, "items": _ID_SCORE},
    },
    "required": ["field", "value", "size", "matched", "next"],
    "additionalProperties": False,
}
_URLS = {"thumbnail_url": {"type": "string"}, "image_url": {"type": "string"}}
#: a result's standing against the scores unrelated queries get on the index
_STANDING: dict[str, Schema] = {
    "z": {
        "type": ["number", "null"],
        "description": "(score - mean) / sd of the index's null distribution for this kind of "
        "query; null when the index records none",
    },
    "percentile": {
        "type": ["number", "null"],
        "minimum": 0,
        "maximum": 100,
        "description": "Percent of the null distribution's scores below this score",
    },
}


def response_schemas(*, viewer: bool = False) -> dict[str, Schema]:
    """The component schemas of every answer body; ``viewer``: images carry ``viewer_url``
    (a link into the PACS viewer, null for images that did not come from a PACS)."""
    urls = {**_URLS, "viewer_url": _NULLABLE_STRING} if viewer else _URLS
    return {
        "Error": closed(
            {
                "error": closed(
                    {"code": {"type": "string"}, "message": {"type": "string", "minLength": 1}}
                )
            }
        ),
        "Hit": closed(
            {
                "id": {"type": "integer", "minimum": 0},
                "score": {"type": "number"},
                **_STANDING,
                "path": {"type": "string"},
                "caption": _NULLABLE_STRING,
                "metadata": _METADATA,
                **urls,
                "group": _HIT_GROUP,
                "matched_terms": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Only in keyword and hybrid modes: the query's words the "
                    "image's caption and text fields hold",
                },
                "copies": COPIES,
            },
            optional=("group", "matched_terms", "copies", *_STANDING),
        ),
        "Group": closed(
            {
                "field": {"type": "string"},
                "value": _SCALAR,
                "size": {"type": "integer", "minimum": 1},
                "images": {
                    "type": "array",
                    "minItems": 1,
                    "items": closed(
                        {
                            "id": {"type": "integer", "minimum": 0},
                            "instance_number": {"type": ["integer", "null"]},
                            "slice_position": {"type": ["number", "null"]},
                        }
                    ),
                },
            }
        ),
        "SearchResponse": closed(
            {
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                "total": {"type": "integer", "minimum": 0},
                "timings_ms": _TIMINGS,
                "suggestions": _SUGGESTIONS,
                "facets": {
                    **_FACET_COUNTS,
                    "description": "Only when asked for (facets: true): the facet counts "
                    "under the filters, among the images scoring at least min_score",
                },
                "below_cut_off": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Only with min_score, min_relative or min_z: the results "
                    "this page would have held without the cut-off that it removed",
                },
            },
            optional=("suggestions", "facets", "below_cut_off"),
        ),
        "ClassifyResponse": closed(
            {
                "labels": {
                    "type": "array",
                    "items": closed(
                        {
                            "label": {"type": "string"},
                            "probability": {"type": "number", "minimum": 0, "maximum": 1},
                            "score": {"type": "number"},
                        }
                    ),
                },
                "timings_ms": _TIMINGS,
            }
        ),
        "ImageRecord": closed(
            {
                "id": {"type": "integer", "minimum": 0},
                "path": {"type": "string"},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "size": {"type": "integer", "minimum": 0},
                "mtime": {"type": "number"},
                "caption": _NULLABLE_STRING,
                "metadata": _METADATA,
                **urls,
            }
        ),
        "Facets": closed({"facets": _FACET_COUNTS}),
        "Info": _info_schema(),
        "Indexes": closed(
            {
                "indexes": {
                    "type": "array",
                    "minItems": 1,
                    "items": closed(
                        {
                            "name": {"type": "string", "minLength": 1},
                            "family": {"type": "string"},
                            "model": {"type": "string"},
                            "dim": {"type": "integer", "minimum": 1},
                            "count": {"type": "integer", "minimum": 0},
                            "random_weights": {"type": "boolean"},
                        }
                    ),
                }
            }
        ),
        "Health": closed({"status": {"type": "string", "enum": ["ok"]}}),
        "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
        **_clip_retrieval_schemas(),
        **duplicate_schemas(urls),
    }


def _clip_retrieval_schemas() -> dict[str, Schema]:
    """clip_back's answers: results and metadata rows open to the images' own fields."""
    columns: Schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "Absolute URL of the original image"},
            "image_path": {"type": "string"},
            "caption": _NULLABLE_STRING,
            "thumbnail_url": {"type": "string"},
        },
        "additionalProperties": _SCALAR,
    }
    result = {
        **columns,
        "required": ["id", "similarity"],
        "properties": {
            "id": {"type": "integer", "minimum": 0},
            "similarity": {"type": "number"},
            **columns["properties"],
        },
    }
    metadata = closed({"id": {"type": "integer", "minimum": 0}, "metadata": columns})
    return {
        "ClipResults": {"type": "array", "items": result},
        "ClipIndices": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "ClipMetadata": {"type": "array", "items": metadata},
    }


def _info_schema() -> Schema:
    encoder = {
        "type": "object",
        "required": ["name", "model", "fingerprint"],
        "properties": {
            "name": {"type": "string"},
            "model": {"type": "string"},
            "fingerprint": {"type": "string"},
            "random_weights": {"type": "boolean"},
            "device": {"type": "string"},
            "precision": {"type": "string"},
            "runtime": {"type": "string", "enum": ["torch", "onnx", "openvino"]},
            "fidelity": {
                "type": ["object", "null"],
                "description": "int8: the guard's figures against fp32 PyTorch, checked at start",
                "additionalProperties": {"type": "string"},
            },
        },
    }
    return closed(
        {
            "count": {"type": "integer", "minimum": 0},
            "failed": {"type": "integer", "minimum": 0},
            "dim": {"type": "integer", "minimum": 1},
            "index_type": {"type": "string"},
            "metric": {"type": "string"},
            "encoder": encoder,
            "generation": {"type": "integer"},
            "created_at": _NULLABLE_STRING,
            "updated_at": _NULLABLE_STRING,
            "versions": {"type": "object"},
            "levels": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The levels a search may ask for: image, and series, study or "
                "group:FIELD where the index has those groups' vectors",
            },
            "version": {"type": "string"},
            "default_template": {
                "type": "string",
                "description": "The template classify uses when a request gives none",
            },
        }
    )
