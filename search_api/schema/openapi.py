"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``.

Request bodies and parameters are rendered from the field sets that :mod:`search_api.schema.params`
validates with, so their limits cannot drift from what the service enforces. The document is
built per application: ``k``'s maximum, the upload size and the bearer-token requirement follow
the running configuration. Response bodies are described in :mod:`search_api.schema.responses`.
Every status an operation can answer is listed; there is no catch-all ``default``.
"""

from __future__ import annotations

from typing import Any

from indexer.settings import Settings
from search_api.schema.clip_params import KNN_BODY, METADATA_BODY
from search_api.schema.fields import NOT_BLANK, ImageId, Limits
from search_api.schema.params import (
    CLASSIFY_BODY,
    DUPLICATES_QUERY,
    FACETS_QUERY,
    GROUP_FIELD,
    INDEX_QUERY,
    SEARCH_BODY,
    SEARCH_QUERY,
    SEARCH_UPLOAD,
    SESSION_BODY,
    THUMBNAIL_QUERY,
)
from search_api.schema.responses import ERRORS, response_schemas
from search_api.security.auth import SESSION_COOKIE

Schema = dict[str, Any]


def build_openapi(
    settings: Settings, *, version: str, limits: Limits | None = None
) -> dict[str, Any]:
    """The OpenAPI document for a service running with ``settings``; ``limits`` add what is
    known of the served indexes (the ``index`` arguments then list their names, a query
    vector's length follows their dimensions, a filter names their fields)."""
    limits = limits or Limits.of(settings)
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
        "paths": _Paths(limits, token=bool(settings.api_token)).all(),
        "components": {
            "schemas": {
                **response_schemas(viewer=bool(settings.viewer_url)),
                "SearchRequest": SEARCH_BODY.schema(limits),
                "ClassifyRequest": CLASSIFY_BODY.schema(limits),
                "SessionRequest": SESSION_BODY.schema(limits),
                "KnnRequest": KNN_BODY.schema(limits),
                "MetadataRequest": METADATA_BODY.schema(limits),
            },
            "responses": {
                name: _json_response(description, "Error") for name, description in ERRORS.values()
            }
            | {ERRORS["429"][0]: _retry_after_response()},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
    }
    if settings.api_token:
        doc["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
    return doc


class _Paths:
    """The operations, with the statuses each can answer (401 and 429 only with a token set)."""

    def __init__(self, limits: Limits, *, token: bool) -> None:
        self.limits = limits
        self.token = token

    def all(self) -> dict[str, Any]:
        image_id = {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": ImageId("id", description="Indexed image id").schema(self.limits),
        }
        search_query = SEARCH_QUERY.parameters(self.limits)
        index = INDEX_QUERY.parameters(self.limits)
        return {
            "/api/search": {
                "post": self.op(
                    "Search by text, base64 image, indexed image id or vector",
                    "SearchResponse",
                    body=_json_content("SearchRequest"),
                    errors=("400", "404", "413", "415", "422", "503"),
                )
            },
            "/api/search/image": {
                "post": self.op(
                    "Search with an uploaded image file",
                    "SearchResponse",
                    body=SEARCH_UPLOAD.form_content(self.limits),
                    errors=("400", "404", "413", "415", "422", "503"),
                )
            },
            "/api/classify": {
                "post": self.op(
                    "Zero-shot classification of an image over candidate labels",
                    "ClassifyResponse",
                    body=_json_content("ClassifyRequest"),
                    errors=("400", "404", "413", "415", "422", "503"),
                )
            },
            "/api/images/{id}": {
                "get": self.op(
                    "Everything stored about an image",
                    "ImageRecord",
                    parameters=[image_id, *index],
                    errors=("400", "404", "503"),
                )
            },
            "/api/images/{id}/similar": {
                "get": _with_long_query(
                    self.op(
                        "Images most similar to an indexed image (itself excluded)",
                        "SearchResponse",
                        parameters=[image_id, *search_query],
                        errors=("400", "404", "503"),
                    )
                )
            },
            "/api/images/{id}/thumbnail": {
                "get": self.image_op(
                    "JPEG thumbnail (cached; ETag and Cache-Control set)",
                    "image/jpeg",
                    [image_id, *THUMBNAIL_QUERY.parameters(self.limits)],
                    errors=("400", "404", "422", "503"),
                )
            },
            "/api/images/{id}/file": {
                "get": self.image_op(
                    "The original file (DICOM rendered to PNG)",
                    "image/*",
                    [image_id, *index],
                    errors=("400", "404", "422", "503"),
                )
            },
            "/api/groups/{field}/{value}": {
                "get": self.op(
                    "The images sharing a metadata field's value (a series, a study), in slice "
                    "order: slice_position, then instance_number, then id",
                    "Group",
                    parameters=[*self.group_path(), *index],
                    errors=("400", "404", "503"),
                )
            },
            "/api/duplicates": {
                "get": self.op(
                    "Clusters of near-identical images over the index, largest and closest "
                    "first (exact copies always clustered); with across, only those spanning "
                    "several values of that field, with counts per pair of values",
                    "Duplicates",
                    parameters=DUPLICATES_QUERY.parameters(self.limits),
                    errors=("400", "404", "503"),
                )
            },
            "/api/duplicates/threshold": {
                "get": self.index_op(
                    "The index's adaptive near-duplicate threshold and its rule",
                    "DuplicateThreshold",
                )
            },
            "/api/facets": {
                "get": _with_long_query(
                    self.op(
                        "Metadata values with counts; under filters, each field counted with "
                        "the other fields' filters applied (counts under a minimum score "
                        "depend on the query: ask a search for them with facets: true)",
                        "Facets",
                        parameters=FACETS_QUERY.parameters(self.limits),
                        errors=("400", "404", "503"),
                    )
                )
            },
            "/api/info": {"get": self.index_op("Index and encoder description", "Info")},
            "/api/indexes": {
                "get": self.op("The served indexes, the default first", "Indexes", errors=("503",))
            },
            "/api/health": {"get": {**self.op("Liveness", "Health", open_=True), "security": []}},
            "/api/session": self.session_ops(),
            "/api/openapi.json": {"get": self.op("This document", "OpenApiDocument")},
            **self.clip_retrieval_ops(),
        }

    def clip_retrieval_ops(self) -> dict[str, Any]:
        """clip-retrieval's back-end routes; their bodies are JSON whatever the Content-Type."""
        return {
            "/api/knn-service": {
                "post": self.op(
                    "clip-retrieval's knn-service: the images nearest a text, a base64 image, "
                    "an image URL or an embedding",
                    "ClipResults",
                    body=_json_content("KnnRequest"),
                    errors=("400", "403", "404", "413", "422", "503"),
                )
            },
            "/api/indices-list": {
                "get": self.op(
                    "clip-retrieval's indices-list: the served index names", "ClipIndices"
                )
            },
            "/api/metadata": {
                "post": self.op(
                    "clip-retrieval's metadata: the metadata of images by id (ids not held "
                    "are left out)",
                    "ClipMetadata",
                    body=_json_content("MetadataRequest"),
                    errors=("400", "404", "413", "503"),
                )
            },
        }

    def op(
        self,
        summary: str,
        schema: str,
        *,
        parameters: list[Schema] | None = None,
        body: dict[str, Any] | None = None,
        errors: tuple[str, ...] = (),
        open_: bool = False,
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {"summary": summary}
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            operation["requestBody"] = {"required": True, "content": body}
        operation["responses"] = {
            "200": _json_response(summary, schema),
            **self.error_refs(*errors, open_=open_),
        }
        return operation

    def group_path(self) -> list[Schema]:
        """The path parameters of a group: its field and its value (text; a field of numbers
        reads it as a number)."""
        value: Schema = {"type": "string", "minLength": 1, "pattern": NOT_BLANK}
        return [
            {
                "name": "field",
                "in": "path",
                "required": True,
                "schema": GROUP_FIELD.schema(self.limits),
            },
            {"name": "value", "in": "path", "required": True, "schema": value},
        ]

    def index_op(self, summary: str, schema: str) -> dict[str, Any]:
        """An operation about one index, named by its only argument ``index``."""
        index = INDEX_QUERY.parameters(self.limits)
        return self.op(summary, schema, parameters=index, errors=("400", "404", "503"))

    def image_op(
        self, summary: str, mimetype: str, parameters: list[Schema], errors: tuple[str, ...]
    ) -> dict[str, Any]:
        return {
            "summary": summary,
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": summary,
                    "content": {mimetype: {"schema": {"type": "string", "format": "binary"}}},
                },
                "304": {"description": "Not modified (If-None-Match matched the ETag)"},
                **self.error_refs(*errors),
            },
        }

    def session_ops(self) -> dict[str, Any]:
        signed_in: Schema = {
            "type": "object",
            "required": ["signed_in", "token_required"],
            "additionalProperties": False,
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
                "requestBody": {"required": True, "content": _json_content("SessionRequest")},
                "responses": {
                    "200": {
                        "description": f"Signed in (Set-Cookie: {SESSION_COOKIE})",
                        "content": {"application/json": {"schema": signed_in}},
                    },
                    # a wrong token is refused even though the operation needs none
                    **self.error_refs("400", "413", "415", *(("401", "429") if self.token else ())),
                },
            },
            "delete": {
                "summary": "Sign this browser out (clears the session cookie)",
                "security": [],
                "responses": {"204": {"description": "Signed out"}},
            },
        }

    def error_refs(self, *statuses: str, open_: bool = False) -> dict[str, Any]:
        wanted = set(statuses)
        if self.token and not open_:
            wanted |= {"401", "429"}  # a wrong token; too many wrong ones
        return {
            status: {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
            for status in sorted(wanted)
        }


# --- small builders ---------------------------------------------------------------------------


def _json_content(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": _json_content(schema)}


def _with_long_query(operation: dict[str, Any]) -> dict[str, Any]:
    """An operation whose query (its filters) may make the request line longer than the HTTP
    server reads: the server, not the API, refuses it with a plain-text 431."""
    operation["responses"]["431"] = {
        "description": "Request line and headers too large (a filter too long for a URL: "
        "send it in a POST body instead)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    return operation


def _retry_after_response() -> dict[str, Any]:
    name, description = ERRORS["429"]
    return {
        **_json_response(description, "Error"),
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before sending a token again",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }
