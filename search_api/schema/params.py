"""The requests of the API, declared as field sets, and their parsing.

This is the one place that checks the shape of what clients send: types, sizes, ranges, unknown
keys, content types. Every request's fields are declared below once, with
:mod:`search_api.schema.fields`; the validators and the OpenAPI document
(:mod:`search_api.schema.openapi`) both read these declarations. What only the index knows (the
vector's dimension, that an image exists, that a filter field is known) is left to the Retriever.

Errors are :class:`indexer.errors.InvalidRequestError` (400), :class:`PayloadTooLargeError`
(413) or :class:`UnsupportedMediaTypeError` (415). A key given as JSON ``null``, or a form or
query value given empty, counts as not given (the document says so with ``allowEmptyValue``),
except an empty ``index``, which names no index and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Request

from indexer.prompts import DEFAULT_TEMPLATE
from indexer.search.levels import IMAGE_LEVEL
from search_api.errors import UnsupportedMediaTypeError
from search_api.schema.fields import (
    Cosine,
    Field,
    Flag,
    GroupValue,
    ImageId,
    IndexName,
    Integer,
    Labels,
    Level,
    Limits,
    Number,
    Schema,
    Secret,
    Share,
    Template,
    Text,
    Vector,
    invalid,
    short,
)
from search_api.schema.filter_field import Filters, MetadataFieldName, MetadataFilters
from search_api.schema.image_fields import Base64Image, Upload
from search_api.schema.mode_field import Mode
from search_api.schema.parts_field import ParsedPart, Parts

#: longest text query, in characters
MAX_TEXT_CHARS = 10_000
#: longest query vector accepted (the Retriever then requires the index's exact dimension)
MAX_VECTOR_LEN = 16_384
#: most parts in one weighted query, and the largest size of a part's weight
MAX_QUERY_PARTS = 32
MAX_PART_WEIGHT = 1_000.0
#: deepest page a client may ask for
MAX_OFFSET = 1_000_000
#: most fields in one filter, most values in one "any of" list
MAX_FILTER_FIELDS = 64
MAX_FILTER_VALUES = 1_000
#: most candidate labels in one classification (each is one text for the model)
MAX_LABELS = 100
#: longest string filter value, label or template
MAX_STRING_CHARS = 10_000
#: longest level (``group:`` and a field's name) and group value
MAX_LEVEL_CHARS = 1_000
#: results per page when a request does not say
DEFAULT_K = 20
THUMBNAIL_DEFAULT = 256
THUMBNAIL_MIN = 32
THUMBNAIL_MAX = 1024
#: longest index name (names are URL-safe: letters, digits, ".", "_", "-")
MAX_INDEX_NAME_CHARS = 64
#: the sizes thumbnails are rendered at: a requested size is rounded up to the next one, so the
#: render cache holds a few variants per image whatever sizes clients ask for
THUMBNAIL_STEPS = (64, 128, 256, 512, 1024)


@dataclass(frozen=True)
class FieldSet:
    """The fields of one request, in the order they are checked (cheap ones first).

    ``exactly_one`` names fields of which exactly one must be given; ``required`` fields must
    be given. ``closed`` sets refuse keys they do not declare (catches typos like ``filter``).
    ``nullable`` sets say in their schema that a ``null`` field counts as absent, for clients
    that send every key (null counts as absent in every set; only these document it).
    """

    fields: tuple[Field, ...]
    exactly_one: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    closed: bool = True
    nullable: bool = False
    names: frozenset[str] = field(init=False)
    #: the fields whose empty text is parsed (and refused) rather than counted as absent
    empty_parsed: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(f.name for f in self.fields))
        kept = frozenset(f.name for f in self.fields if not f.empty_is_absent)
        object.__setattr__(self, "empty_parsed", kept)

    def parse(self, values: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
        """Typed values of a JSON object's fields (defaults for those absent)."""
        return self._parse(values, limits, text=False)

    def parse_text(self, values: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
        """Typed values of query arguments or form values (``""`` counts as absent, unless the
        field says otherwise); values that are not strings (uploaded files) are parsed as they
        are."""
        given = {
            key: value for key, value in values.items() if value != "" or key in self.empty_parsed
        }
        return self._parse(given, limits, text=True)

    def _parse(self, values: Mapping[str, Any], limits: Limits, *, text: bool) -> dict[str, Any]:
        if self.closed:
            reject_unknown(values.keys(), self.names)
        given = [name for name in self.exactly_one if values.get(name) is not None]
        if self.exactly_one and len(given) != 1:
            raise invalid(one_of_message(self.exactly_one, given))
        parsed: dict[str, Any] = {}
        for declared in self.fields:
            value = values.get(declared.name)
            if value is None and declared.name not in self.required:
                parsed[declared.name] = declared.default_for(limits)
            elif text and isinstance(value, str):
                parsed[declared.name] = declared.parse_text(value, limits)
            else:
                parsed[declared.name] = declared.parse(value, limits)
        return parsed

    def schema(self, limits: Limits, *, as_text: bool = False) -> Schema:
        """The JSON Schema of the whole request object."""
        properties = {
            f.name: f.text_schema(limits) if as_text else f.schema(limits) for f in self.fields
        }
        if self.nullable:
            properties = {
                name: field if name in self.required else {"anyOf": [field, {"type": "null"}]}
                for name, field in properties.items()
            }
        schema: Schema = {"type": "object", "properties": properties}
        if self.required:
            schema["required"] = list(self.required)
        if self.exactly_one:
            schema["oneOf"] = [self._given(name) for name in self.exactly_one]
            schema["description"] = f"Exactly one of {', '.join(self.exactly_one)}."
        if self.closed:
            schema["additionalProperties"] = False
        required = [(f.name, f.requirement(limits)) for f in self.fields]
        conditions = [
            {"anyOf": [{"not": {"required": [name]}}, requirement]}
            for name, requirement in required
            if requirement is not None
        ]
        if conditions:
            schema["allOf"] = conditions
        return schema

    def _given(self, name: str) -> Schema:
        """The schema of a request that gives the field ``name``."""
        if not self.nullable:
            return {"required": [name]}
        return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}

    def parameters(self, limits: Limits) -> list[Schema]:
        """The fields as OpenAPI query parameters."""
        return [self._parameter(f, limits) for f in self.fields]

    def _parameter(self, declared: Field, limits: Limits) -> Schema:
        parameter: Schema = {"name": declared.name, "in": "query"}
        parameter["required"] = declared.name in self.required
        if declared.text_media_type is None:
            # ``name=`` with nothing after it counts as absent, unless the field refuses it
            parameter["allowEmptyValue"] = declared.empty_is_absent
            parameter["schema"] = declared.text_schema(limits)
        else:  # the text is that content: the schema describes the decoded value
            parameter["content"] = {declared.text_media_type: {"schema": declared.schema(limits)}}
        return parameter

    def form_content(self, limits: Limits) -> Schema:
        """The fields as a ``multipart/form-data`` body: the parts that are not plain text
        name their media type in the body's encoding."""
        content: Schema = {"schema": self.schema(limits, as_text=True)}
        encoding = {
            f.name: {"contentType": f.text_media_type} for f in self.fields if f.text_media_type
        }
        if encoding:
            content["encoding"] = encoding
        return {"multipart/form-data": content}


# --- the declarations -------------------------------------------------------------------------

K = Integer("k", 1, lambda limits: limits.max_k, default=DEFAULT_K, description="Results per page")
OFFSET = Integer("offset", 0, MAX_OFFSET, default=0, description="Results to skip")
MIN_SCORE = Number("min_score", description="Drop results scoring below this cosine")
MIN_RELATIVE = Share(
    "min_relative",
    description="Drop results scoring below this share of the top result's score (0 to 1; "
    "the top result always stays)",
)
MIN_Z = Number(
    "min_z",
    description="Drop results whose z (their standing against the scores unrelated queries get "
    "on this index) is below this; the page's strong matches only is 2. Refused (400) by an "
    "index that records no null distribution",
)
FILTERS = MetadataFilters("filters", MAX_FILTER_FIELDS, MAX_FILTER_VALUES, MAX_STRING_CHARS)
#: counts with a search, since under a minimum score they depend on the query
FACETS = Flag(
    "facets",
    description="Add `facets`: every field's values counted as GET /api/facets counts them "
    "under these filters, among the images scoring at least min_score for this query",
)
COLLAPSE = MetadataFieldName(
    "collapse",
    MAX_STRING_CHARS,
    description="One result per value of this metadata field (a series, a study, a case), "
    "ranked by its best image; k and offset then count groups",
)
LEVEL = Level("level", MAX_LEVEL_CHARS)
DEDUPE = Cosine(
    "dedupe",
    description="Fold a result into a higher-ranked one within this cosine (listed in its "
    "copies); exact copies are folded without it; k and offset count the results left",
)
PAGING = (K, OFFSET, FILTERS, MIN_SCORE, COLLAPSE, LEVEL, MIN_RELATIVE, MIN_Z, DEDUPE)
INDEX = IndexName("index", MAX_INDEX_NAME_CHARS)

QUERY_KINDS = ("text", "image", "image_id", "vector", "group", "parts")
MODE = Mode("mode")
#: the query kinds that a weighted query's parts may hold too
PART_KINDS = (
    Text("text", MAX_TEXT_CHARS, description="What to look for, in words"),
    Base64Image("image"),
    ImageId("image_id", description="Find images similar to this indexed image"),
    Vector("vector", MAX_VECTOR_LEN, description="A query embedding of the index's dimension"),
)
SEARCH_BODY = FieldSet(
    (
        *PAGING,
        FACETS,
        INDEX,
        MODE,
        *PART_KINDS,
        GroupValue(
            "group",
            MAX_LEVEL_CHARS,
            description="Find the groups of the level most similar to this group (its value, "
            "such as a series_key), itself first; needs a group level",
        ),
        Parts(
            "parts",
            PART_KINDS,
            MAX_QUERY_PARTS,
            MAX_PART_WEIGHT,
            description="More like some things, less like others: texts, images, image ids and "
            "vectors with weights (negative: less like it); the query is the normalised "
            "weighted sum of their unit vectors, and the images named by id are left out",
        ),
    ),
    exactly_one=QUERY_KINDS,
)
#: the form fields of an image upload (``POST /search/image``)
SEARCH_UPLOAD = FieldSet(
    (*PAGING, FACETS, INDEX, Upload("file", description="The query image")),
    required=("file",),
)
#: the query arguments of ``GET /images/<id>/similar`` (other arguments are ignored)
SEARCH_QUERY = FieldSet((*PAGING, INDEX), closed=False)
#: the field of ``GET /groups/<field>/<value>``
GROUP_FIELD = MetadataFieldName(
    "field", MAX_STRING_CHARS, description="The metadata field the group shares"
)
#: the query arguments of ``GET /facets`` (other arguments are ignored)
FACETS_QUERY = FieldSet((FILTERS, INDEX), closed=False)
#: the query argument of the routes that take nothing but the index (others are ignored)
INDEX_QUERY = FieldSet((INDEX,), closed=False)
CLASSIFY_BODY = FieldSet(
    (
        INDEX,
        Labels("labels", MAX_LABELS, MAX_STRING_CHARS, description="Candidate labels"),
        Template("template", MAX_STRING_CHARS),
        Base64Image("image"),
        ImageId("image_id", description="Classify this indexed image"),
    ),
    exactly_one=("image", "image_id"),
    required=("labels",),
)
THUMBNAIL_QUERY = FieldSet(
    (
        Integer(
            "size",
            THUMBNAIL_MIN,
            THUMBNAIL_MAX,
            default=THUMBNAIL_DEFAULT,
            description="Longest side in pixels, rounded up to the next of "
            + ", ".join(map(str, THUMBNAIL_STEPS)),
        ),
        INDEX,
    ),
    closed=False,
)
#: the query arguments of ``GET /duplicates`` (other arguments are ignored)
DUPLICATES_QUERY = FieldSet(
    (
        Cosine(
            "threshold",
            description="Cosine at or above which two images are near-duplicates (default: "
            "the index's adaptive threshold, GET /api/duplicates/threshold)",
        ),
        MetadataFieldName(
            "across",
            MAX_STRING_CHARS,
            description="Only clusters holding several values of this field (split: train/test "
            "leakage), with counts per pair of values",
        ),
        Integer("limit", 0, 1000, default=50, description="Clusters listed, largest first"),
        INDEX,
    ),
    closed=False,
)
SESSION_BODY = FieldSet(
    (Secret("token", 'send the access token as JSON: {"token": "..."}'),), required=("token",)
)


# --- parsed requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchParams:
    """Paging, filtering, score threshold, collapse and level shared by every kind of search."""

    k: int = DEFAULT_K
    offset: int = 0
    filters: Filters | None = None
    min_score: float | None = None
    #: whether the answer counts the facets (the requests that declare FACETS)
    facets: bool = False
    #: the metadata field results are collapsed on (None: one result per image)
    collapse: str | None = None
    #: what a result is: an image, or a group of a group level (series, study, group:FIELD)
    level: str = IMAGE_LEVEL
    #: cut-offs that adapt to the query and the index (:mod:`indexer.search.cutoff`)
    min_relative: float | None = None
    min_z: float | None = None
    #: the cosine within which results fold into a higher-ranked one (None: exact copies only)
    dedupe: float | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> SearchParams:
        return cls(
            values["k"],
            values["offset"],
            values["filters"],
            values["min_score"],
            values.get("facets", False),
            values["collapse"],
            values["level"],
            values["min_relative"],
            values["min_z"],
            values["dedupe"],
        )

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the Retriever's ``search`` for paging, filters, threshold and
        facet counts, collapse and level."""
        return {
            "k": self.k,
            "offset": self.offset,
            "filters": self.filters,
            "min_score": self.min_score,
            "count_facets": self.facets,
            "collapse": self.collapse,
            "level": self.level,
            "min_relative": self.min_relative,
            "min_z": self.min_z,
            "dedupe": self.dedupe,
        }


@dataclass(frozen=True)
class SearchQuery:
    """A parsed ``POST /api/search`` body: exactly one query kind is set."""

    params: SearchParams
    #: the served index to search (None: the default one)
    index: str | None = None
    text: str | None = None
    image: bytes | None = None
    image_id: int | None = None
    vector: list[float] | None = None
    #: a group's value: the groups of the level most similar to it
    group: str | None = None
    #: how a text query ranks images: dense, keyword or hybrid
    mode: str = "dense"
    #: weighted query parts (images as undecoded bytes)
    parts: list[ParsedPart] | None = None


@dataclass(frozen=True)
class ClassifyQuery:
    """A parsed ``POST /api/classify`` body: exactly one of image and image_id is set."""

    labels: list[str]
    template: str = DEFAULT_TEMPLATE
    #: the served index holding ``image_id`` and whose encoder classifies (None: the default)
    index: str | None = None
    image: bytes | None = None
    image_id: int | None = None


# --- bodies -----------------------------------------------------------------------------------


def json_body(request: Request, *, any_content_type: bool = False) -> dict[str, Any]:
    """The request's JSON object body; 415 if it is not JSON (unless ``any_content_type``: a
    body read as JSON whatever its Content-Type says), 400 if malformed or not an object."""
    if not any_content_type and not request.is_json:
        raise UnsupportedMediaTypeError("expected a JSON body (Content-Type: application/json)")
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise invalid(f"malformed JSON body: {short(exc)}") from None
    if not isinstance(body, dict):
        raise invalid("the JSON body must be an object")
    return body


def require_multipart(request: Request) -> None:
    """415 unless the request is ``multipart/form-data``."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaTypeError("expected a multipart/form-data upload with a 'file' part")


def reject_unknown(keys: Collection[str], allowed: Collection[str]) -> None:
    """400 naming the first key not in ``allowed``."""
    unknown = sorted(set(keys) - set(allowed))
    if unknown:
        raise invalid(f"unknown parameter {unknown[0]!r}; expected one of {sorted(allowed)}")


def parse_search_body(body: Mapping[str, Any], limits: Limits) -> SearchQuery:
    """Validate a ``POST /api/search`` body."""
    values = SEARCH_BODY.parse(body, limits)
    return SearchQuery(
        SearchParams.of(values),
        index=values["index"],
        text=values["text"],
        image=values["image"],
        image_id=values["image_id"],
        vector=values["vector"],
        group=values["group"],
        mode=values["mode"],
        parts=values["parts"],
    )


def parse_search_upload(request: Request, limits: Limits) -> tuple[SearchParams, bytes, str | None]:
    """Validate a ``POST /api/search/image`` upload: its paging fields, image bytes and index."""
    require_multipart(request)
    reject_unknown(request.files.keys(), {"file"})
    values = SEARCH_UPLOAD.parse_text({**request.form, **request.files}, limits)
    return SearchParams.of(values), values["file"], values["index"]


def parse_search_query(args: Mapping[str, str], limits: Limits) -> SearchParams:
    """Validate k, offset, min_score and filters (a JSON string) given as query arguments."""
    return SearchParams.of(SEARCH_QUERY.parse_text(args, limits))


def parse_group_path(field: str, limits: Limits) -> str:
    """The field of a ``GET /api/groups/<field>/<value>`` path (the index knows its fields)."""
    parsed: str = GROUP_FIELD.parse(field, limits)
    return parsed


@dataclass(frozen=True)
class DuplicatesQuery:
    """A parsed ``GET /api/duplicates`` request."""

    threshold: float | None
    across: str | None
    limit: int
    index: str | None


def parse_duplicates_query(args: Mapping[str, str], limits: Limits) -> DuplicatesQuery:
    """The threshold, field, limit and index of a ``GET /api/duplicates`` request."""
    values = DUPLICATES_QUERY.parse_text(args, limits)
    return DuplicatesQuery(values["threshold"], values["across"], values["limit"], values["index"])


def parse_facets_query(args: Mapping[str, str], limits: Limits) -> Filters | None:
    """The filters (a JSON string) of a ``GET /api/facets`` request; None when absent."""
    filters: Filters | None = FACETS_QUERY.parse_text(args, limits)["filters"]
    return filters


def parse_classify_body(body: Mapping[str, Any], limits: Limits) -> ClassifyQuery:
    """Validate a ``POST /api/classify`` body."""
    values = CLASSIFY_BODY.parse(body, limits)
    return ClassifyQuery(
        values["labels"],
        values["template"],
        index=values["index"],
        image=values["image"],
        image_id=values["image_id"],
    )


def parse_index_query(args: Mapping[str, str], limits: Limits) -> str | None:
    """The ``index`` query argument (None when absent and no default is known)."""
    index: str | None = INDEX_QUERY.parse_text(args, limits)["index"]
    return index


def parse_thumbnail_size(args: Mapping[str, str], limits: Limits) -> int:
    """The ``size`` argument of a thumbnail request, rounded up to one of THUMBNAIL_STEPS."""
    size: int = THUMBNAIL_QUERY.parse_text(args, limits)["size"]
    return next(step for step in THUMBNAIL_STEPS if step >= size)


def parse_session_body(body: Mapping[str, Any], limits: Limits) -> str:
    """The token of a ``POST /api/session`` body."""
    token: str = SESSION_BODY.parse(body, limits)["token"]
    return token


def one_of_message(kinds: Collection[str], given: list[str]) -> str:
    names = ", ".join(kinds)
    if not given:
        return f"give exactly one of {names}"
    return f"give exactly one of {names}, not {' and '.join(given)}"
