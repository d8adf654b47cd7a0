"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``.

Built per application so that limits (``max_k``, upload size) and the bearer-token requirement
match the running configuration.
"""

from __future__ import annotations

from typing import Any

from indexer.settings import Settings
from search_api.params import MAX_OFFSET, MAX_TEXT_CHARS
from search_api.routes_session import SESSION_COOKIE

Schema = dict[str, Any]

_ERRORS = {
    "400": ("BadRequest", "Malformed body, wrong types or out-of-range parameters"),
    "401": ("Unauthorized", "Missing or wrong bearer token (when the service has one)"),
    "404": ("NotFound", "Unknown image id"),
    "413": ("PayloadTooLarge", "Body or image larger than the upload limit"),
    "415": ("UnsupportedMediaType", "Wrong Content-Type for this endpoint"),
    "422": ("UnreadableImage", "The image cannot be decoded (not an image, truncated, too big)"),
    "503": ("Unavailable", "The index or the model is unavailable"),
    "default": ("Error", "Any other error (405 wrong method, 500 ...), in the same shape"),
}


def build_openapi(settings: Settings, *, version: str) -> dict[str, Any]:
    """The OpenAPI document for a service running with ``settings``."""
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "MedSearch API",
            "version": version,
            "description": (
                "Medical image retrieval by meaning. Every error has the body "
                '{"error": {"code": ..., "message": ...}}. A key given as null counts as absent.'
            ),
        },
        "paths": _paths(settings),
        "components": {
            "schemas": _schemas(settings),
            "responses": {
                name: _json_response(description, "Error") for name, description in _ERRORS.values()
            },
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
    }
    if settings.api_token:
        doc["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
    return doc


# --- paths ------------------------------------------------------------------------------------


def _paths(settings: Settings) -> dict[str, Any]:
    image_id = _path_param("id", "Indexed image id")
    return {
        "/api/search": {"post": _search_op()},
        "/api/search/image": {"post": _search_image_op(settings)},
        "/api/classify": {"post": _classify_op()},
        "/api/images/{id}": {
            "get": _op("Everything stored about an image", "ImageRecord", [image_id], "404")
        },
        "/api/images/{id}/similar": {
            "get": _op(
                "Images most similar to an indexed image (itself excluded)",
                "SearchResponse",
                [image_id, *_search_query_params(settings)],
                "400",
                "404",
            )
        },
        "/api/images/{id}/thumbnail": {"get": _thumbnail_op(image_id)},
        "/api/images/{id}/file": {"get": _file_op(image_id)},
        "/api/facets": {"get": _op("Metadata values with counts", "Facets", [])},
        "/api/info": {"get": _op("Index and encoder description", "Info", [])},
        "/api/health": {"get": {**_op("Liveness", "Health", []), "security": []}},
        "/api/session": _session_ops(),
        "/api/openapi.json": {"get": _op("This document", "OpenApiDocument", [])},
    }


def _session_ops() -> dict[str, Any]:
    token: Schema = {
        "type": "object",
        "required": ["token"],
        "additionalProperties": False,
        "properties": {"token": {"type": "string", "minLength": 1}},
    }
    signed_in: Schema = {
        "type": "object",
        "properties": {
            "signed_in": {"type": "boolean"},
            "token_required": {"type": "boolean"},
        },
    }
    return {
        "post": {
            "summary": "Sign a browser in: sets an HttpOnly session cookie the API accepts "
            "like the bearer token (for pages, whose <img> requests cannot send the header)",
            "security": [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": token}}},
            "responses": {
                "200": {
                    "description": "Signed in (Set-Cookie: medsearch_session)",
                    "content": {"application/json": {"schema": signed_in}},
                },
                **_error_refs("400", "401", "415"),
            },
        },
        "delete": {
            "summary": "Sign this browser out (clears the session cookie)",
            "security": [],
            "responses": {"204": {"description": "Signed out"}},
        },
    }


def _op(summary: str, schema: str, parameters: list[Schema], *errors: str) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json_response(summary, schema)}
    responses.update(_error_refs(*errors, "401", "503"))
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _search_op() -> dict[str, Any]:
    return {
        "summary": "Search by text, base64 image, indexed image id or vector",
        "requestBody": {"required": True, "content": _json_content("SearchRequest")},
        "responses": {
            "200": _json_response("Hits, best first", "SearchResponse"),
            **_error_refs("400", "401", "404", "413", "415", "422", "503"),
        },
    }


def _search_image_op(settings: Settings) -> dict[str, Any]:
    form: Schema = {
        "type": "object",
        "required": ["file"],
        "additionalProperties": False,
        "properties": {
            "file": {"type": "string", "contentMediaType": "application/octet-stream"},
            "k": _k_schema(settings),
            "offset": _offset_schema(),
            "min_score": {"type": "number"},
            "filters": {"type": "string", "description": "Filters as a JSON object string"},
        },
    }
    return {
        "summary": "Search with an uploaded image file",
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": form}}},
        "responses": {
            "200": _json_response("Hits, best first", "SearchResponse"),
            **_error_refs("400", "401", "413", "415", "422", "503"),
        },
    }


def _classify_op() -> dict[str, Any]:
    return {
        "summary": "Zero-shot classification of an image over candidate labels",
        "requestBody": {"required": True, "content": _json_content("ClassifyRequest")},
        "responses": {
            "200": _json_response("Label probabilities, best first", "ClassifyResponse"),
            **_error_refs("400", "401", "404", "413", "415", "422", "503"),
        },
    }


def _thumbnail_op(image_id: Schema) -> dict[str, Any]:
    size = {
        "name": "size",
        "in": "query",
        "required": False,
        "description": "Longest side in pixels",
        "schema": {"type": "integer", "minimum": 32, "maximum": 1024, "default": 256},
    }
    return {
        "summary": "JPEG thumbnail (cached; ETag and Cache-Control set)",
        "parameters": [image_id, size],
        "responses": {
            "200": _binary_response("The thumbnail", "image/jpeg"),
            "304": {"description": "Not modified (If-None-Match matched the ETag)"},
            **_error_refs("400", "401", "404", "422", "503"),
        },
    }


def _file_op(image_id: Schema) -> dict[str, Any]:
    return {
        "summary": "The original file (DICOM rendered to PNG)",
        "parameters": [image_id],
        "responses": {
            "200": _binary_response("The image", "image/*"),
            "304": {"description": "Not modified"},
            **_error_refs("401", "404", "422", "503"),
        },
    }


def _search_query_params(settings: Settings) -> list[Schema]:
    return [
        _query_param("k", _k_schema(settings)),
        _query_param("offset", _offset_schema()),
        _query_param("min_score", {"type": "number"}),
        _query_param("filters", {"type": "string", "description": "JSON object"}),
    ]


# --- schemas ----------------------------------------------------------------------------------


def _schemas(settings: Settings) -> dict[str, Schema]:
    scalar: Schema = {"type": ["string", "number", "integer", "boolean", "null"]}
    metadata: Schema = {"type": "object", "additionalProperties": scalar}
    nullable_string: Schema = {"type": ["string", "null"]}
    return {
        "Error": _object(
            {
                "error": _object(
                    {"code": {"type": "string"}, "message": {"type": "string"}},
                    required=["code", "message"],
                )
            },
            required=["error"],
        ),
        "SearchRequest": _search_request(settings, scalar),
        "Hit": _object(
            {
                "id": {"type": "integer"},
                "score": {"type": "number"},
                "path": {"type": "string"},
                "caption": nullable_string,
                "metadata": metadata,
                "thumbnail_url": {"type": "string"},
                "image_url": {"type": "string"},
            },
            required=["id", "score", "path", "caption", "metadata", "thumbnail_url", "image_url"],
        ),
        "SearchResponse": _object(
            {
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                "total": {"type": "integer"},
                "timings_ms": _timings(),
            },
            required=["results", "total", "timings_ms"],
        ),
        "ClassifyRequest": _classify_request(),
        "ClassifyResponse": _object(
            {
                "labels": {
                    "type": "array",
                    "items": _object(
                        {
                            "label": {"type": "string"},
                            "probability": {"type": "number"},
                            "score": {"type": "number"},
                        },
                        required=["label", "probability", "score"],
                    ),
                },
                "timings_ms": _timings(),
            },
            required=["labels", "timings_ms"],
        ),
        "ImageRecord": _object(
            {
                "id": {"type": "integer"},
                "path": {"type": "string"},
                "sha256": {"type": "string"},
                "size": {"type": "integer"},
                "mtime": {"type": "number"},
                "caption": nullable_string,
                "metadata": metadata,
                "thumbnail_url": {"type": "string"},
                "image_url": {"type": "string"},
            },
            required=["id", "path", "sha256", "metadata", "thumbnail_url", "image_url"],
        ),
        "Facets": _object(
            {
                "facets": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "array",
                        "items": _object(
                            {"value": scalar, "count": {"type": "integer"}},
                            required=["value", "count"],
                        ),
                    },
                }
            },
            required=["facets"],
        ),
        "Info": _info_schema(),
        "Health": _object({"status": {"type": "string", "enum": ["ok"]}}, required=["status"]),
        "OpenApiDocument": {"type": "object"},
    }


def _search_request(settings: Settings, scalar: Schema) -> Schema:
    condition = {"oneOf": [scalar, {"type": "array", "items": scalar, "minItems": 1}]}
    schema = _object(
        {
            "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS},
            "image": {"type": "string", "description": "Base64 image, or a data: URL"},
            "image_id": {"type": "integer", "minimum": 0},
            "vector": {"type": "array", "items": {"type": "number"}, "minItems": 1},
            "k": _k_schema(settings),
            "offset": _offset_schema(),
            "filters": {
                "type": "object",
                "description": 'Exact match per field; a list means any of: {"modality": "CT"}',
                "additionalProperties": condition,
            },
            "min_score": {"type": "number"},
        },
    )
    schema["description"] = "Exactly one of text, image, image_id, vector."
    schema["additionalProperties"] = False
    return schema


def _classify_request() -> Schema:
    schema = _object(
        {
            "image": {"type": "string", "description": "Base64 image, or a data: URL"},
            "image_id": {"type": "integer", "minimum": 0},
            "labels": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "template": {"type": "string", "default": "this is a photo of {}"},
        },
        required=["labels"],
    )
    schema["description"] = "Exactly one of image, image_id."
    schema["additionalProperties"] = False
    return schema


def _info_schema() -> Schema:
    encoder = _object(
        {
            "name": {"type": "string"},
            "fingerprint": {"type": "string"},
            "model": {"type": "string"},
            "random_weights": {"type": "boolean"},
        }
    )
    return _object(
        {
            "count": {"type": "integer"},
            "failed": {"type": "integer"},
            "dim": {"type": "integer"},
            "index_type": {"type": "string"},
            "metric": {"type": "string"},
            "encoder": encoder,
            "generation": {"type": "integer"},
            "updated_at": {"type": "string"},
            "versions": {"type": "object"},
            "version": {"type": "string"},
        },
        required=["count", "dim", "encoder", "version"],
    )


# --- small builders ---------------------------------------------------------------------------


def _object(properties: dict[str, Schema], *, required: list[str] | None = None) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _timings() -> Schema:
    return {"type": "object", "additionalProperties": {"type": "number"}}


def _k_schema(settings: Settings) -> Schema:
    return {"type": "integer", "minimum": 1, "maximum": settings.max_k, "default": 20}


def _offset_schema() -> Schema:
    return {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}


def _path_param(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "integer", "minimum": 0},
    }


def _query_param(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _json_content(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": _json_content(schema)}


def _binary_response(description: str, mimetype: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {mimetype: {"schema": {"type": "string", "contentMediaType": mimetype}}},
    }


def _error_refs(*statuses: str) -> dict[str, Any]:
    return {
        status: {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}
        for status in [*sorted(set(statuses)), "default"]
    }
