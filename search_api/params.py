"""Parsing and validation of request bodies, form fields and query strings.

Every function here turns client input into plain typed values or raises
:class:`indexer.errors.InvalidRequestError` (400), :class:`PayloadTooLargeError` (413) or
:class:`UnsupportedMediaTypeError` (415), so no malformed input reaches the retriever.
A key given as JSON ``null`` counts as not given.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Request

from indexer.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from indexer.records import MetadataValue
from search_api.errors import UnsupportedMediaTypeError

#: longest text query, in characters
MAX_TEXT_CHARS = 10_000
#: longest query vector accepted before the retriever checks the exact dimension
MAX_VECTOR_LEN = 16_384
#: deepest page a client may ask for
MAX_OFFSET = 1_000_000
#: most fields in one filter, most values in one "any of" list
MAX_FILTER_FIELDS = 64
MAX_FILTER_VALUES = 1_000
#: longest string filter value, label or template
MAX_STRING_CHARS = 10_000
#: largest id SQLite can hold
MAX_ID = 2**63 - 1

QUERY_KINDS = ("text", "image", "image_id", "vector")
SEARCH_KEYS = frozenset(QUERY_KINDS) | {"k", "offset", "filters", "min_score"}
SEARCH_FORM_KEYS = frozenset({"k", "offset", "filters", "min_score"})
CLASSIFY_KEYS = frozenset({"image", "image_id", "labels", "template"})
DEFAULT_TEMPLATE = "this is a photo of {}"

Filters = dict[str, MetadataValue | list[MetadataValue]]

_DATA_URL = re.compile(r"^data:[^,]*?(;base64)?,", re.IGNORECASE)


@dataclass(frozen=True)
class SearchParams:
    """Paging, filtering and score threshold shared by every kind of search."""

    k: int = 20
    offset: int = 0
    filters: Filters | None = None
    min_score: float | None = None


@dataclass(frozen=True)
class SearchQuery:
    """A parsed ``POST /api/search`` body: exactly one query kind is set."""

    params: SearchParams
    text: str | None = None
    image: bytes | None = None
    image_id: int | None = None
    vector: list[float] | None = None


@dataclass(frozen=True)
class ClassifyQuery:
    """A parsed ``POST /api/classify`` body: exactly one of image and image_id is set."""

    labels: list[str]
    template: str = DEFAULT_TEMPLATE
    image: bytes | None = None
    image_id: int | None = None


def invalid(message: str) -> InvalidRequestError:
    """A 400 error with ``message``."""
    return InvalidRequestError(message)


# --- bodies -----------------------------------------------------------------------------------


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body; 415 if it is not JSON, 400 if malformed or not an object."""
    if not request.is_json:
        raise UnsupportedMediaTypeError("expected a JSON body (Content-Type: application/json)")
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise invalid(f"malformed JSON body: {_short(exc)}") from None
    if not isinstance(body, dict):
        raise invalid("the JSON body must be an object")
    return body


def require_multipart(request: Request) -> None:
    """415 unless the request is ``multipart/form-data``."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaTypeError("expected a multipart/form-data upload with a 'file' part")


def reject_unknown(keys: Collection[str], allowed: Collection[str]) -> None:
    """400 naming the first key not in ``allowed`` (catches typos like ``filter``)."""
    unknown = sorted(set(keys) - set(allowed))
    if unknown:
        raise invalid(f"unknown parameter {unknown[0]!r}; expected one of {sorted(allowed)}")


def parse_search_body(body: Mapping[str, Any], *, max_k: int, max_bytes: int) -> SearchQuery:
    """Validate a ``POST /api/search`` body."""
    reject_unknown(body.keys(), SEARCH_KEYS)
    given = [kind for kind in QUERY_KINDS if body.get(kind) is not None]
    if len(given) != 1:
        raise invalid(_one_of_message(QUERY_KINDS, given))
    kind = given[0]
    params = SearchParams(
        k=parse_k(body.get("k"), max_k=max_k),
        offset=parse_offset(body.get("offset")),
        filters=parse_filters(body.get("filters")),
        min_score=parse_min_score(body.get("min_score")),
    )
    value = body[kind]
    if kind == "text":
        return SearchQuery(params, text=parse_text(value))
    if kind == "image":
        return SearchQuery(params, image=decode_base64_image(value, max_bytes=max_bytes))
    if kind == "image_id":
        return SearchQuery(params, image_id=parse_id(value, "image_id"))
    return SearchQuery(params, vector=parse_vector(value))


def parse_search_form(values: Mapping[str, str], *, max_k: int) -> SearchParams:
    """Validate k, offset, min_score and filters (a JSON string) given as form or query fields."""
    filters_raw = values.get("filters")
    filters: Any = None
    if filters_raw not in (None, ""):
        try:
            filters = json.loads(str(filters_raw))
        except (ValueError, RecursionError) as exc:
            raise invalid(f"filters must be a JSON object: {_short(exc)}") from None
        if filters is None:
            raise invalid("filters must be a JSON object")
    return SearchParams(
        k=parse_k(_form_int(values, "k"), max_k=max_k),
        offset=parse_offset(_form_int(values, "offset")),
        filters=parse_filters(filters),
        min_score=parse_min_score(_form_float(values, "min_score")),
    )


def parse_classify_body(body: Mapping[str, Any], *, max_bytes: int) -> ClassifyQuery:
    """Validate a ``POST /api/classify`` body."""
    reject_unknown(body.keys(), CLASSIFY_KEYS)
    given = [kind for kind in ("image", "image_id") if body.get(kind) is not None]
    if len(given) != 1:
        raise invalid(_one_of_message(("image", "image_id"), given))
    labels = parse_labels(body.get("labels"))
    template = body.get("template")
    if template is None:
        template = DEFAULT_TEMPLATE
    else:
        template = parse_template(template)
    if given[0] == "image":
        image = decode_base64_image(body["image"], max_bytes=max_bytes)
        return ClassifyQuery(labels, template, image=image)
    return ClassifyQuery(labels, template, image_id=parse_id(body["image_id"], "image_id"))


# --- single values ----------------------------------------------------------------------------


def parse_k(value: Any, *, max_k: int, default: int = 20) -> int:
    """``k``: an integer in 1..max_k."""
    if value is None:
        return min(default, max_k)
    if not _is_int(value) or not 1 <= value <= max_k:
        raise invalid(f"k must be an integer between 1 and {max_k}")
    return int(value)


def parse_offset(value: Any) -> int:
    """``offset``: an integer in 0..MAX_OFFSET."""
    if value is None:
        return 0
    if not _is_int(value) or not 0 <= value <= MAX_OFFSET:
        raise invalid(f"offset must be an integer between 0 and {MAX_OFFSET}")
    return int(value)


def parse_min_score(value: Any) -> float | None:
    """``min_score``: a finite number."""
    if value is None:
        return None
    if not _is_number(value):
        raise invalid("min_score must be a finite number")
    return float(value)


def parse_text(value: Any) -> str:
    """A text query: a non-blank string of at most MAX_TEXT_CHARS characters."""
    if not isinstance(value, str) or not value.strip():
        raise invalid("text must be a non-empty string")
    if len(value) > MAX_TEXT_CHARS:
        raise invalid(f"text must be at most {MAX_TEXT_CHARS} characters")
    return value


def parse_id(value: Any, name: str = "id") -> int:
    """An image id: a non-negative integer."""
    if not _is_int(value) or value < 0:
        raise invalid(f"{name} must be a non-negative integer")
    return check_id(int(value))


def check_id(image_id: int) -> int:
    """404 for ids no index can hold (they would overflow the database)."""
    if not 0 <= image_id <= MAX_ID:
        raise NotFoundError(f"no image with id {image_id}")
    return image_id


def parse_vector(value: Any) -> list[float]:
    """A query vector: a non-empty list of finite numbers."""
    if not isinstance(value, list) or not value or len(value) > MAX_VECTOR_LEN:
        raise invalid("vector must be a non-empty list of numbers")
    if not all(_is_number(x) for x in value):
        raise invalid("vector must contain only finite numbers")
    return [float(x) for x in value]


def parse_labels(value: Any) -> list[str]:
    """Candidate labels for zero-shot classification: a non-empty list of non-blank strings."""
    if not isinstance(value, list) or not value:
        raise invalid("labels must be a non-empty list of strings")
    for label in value:
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_STRING_CHARS:
            raise invalid("labels must be a non-empty list of non-empty strings")
    return list(value)


def parse_template(value: Any) -> str:
    """A label template with exactly one ``{}`` and no other format fields."""
    message = "template must be a string with one {} such as 'this is a photo of {}'"
    if not isinstance(value, str) or len(value) > MAX_STRING_CHARS or value.count("{}") != 1:
        raise invalid(message)
    try:
        value.format("label")
    except (ValueError, KeyError, IndexError, AttributeError):
        raise invalid(message + " (write { and } as {{ and }})") from None
    return value


def parse_filters(value: Any) -> Filters | None:
    """``{"field": value}`` or ``{"field": [value, ...]}`` (any of); values are JSON scalars."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid('filters must be an object such as {"modality": "CT"}')
    if len(value) > MAX_FILTER_FIELDS:
        raise invalid(f"filters may name at most {MAX_FILTER_FIELDS} fields")
    filters: Filters = {}
    for field, condition in value.items():
        if not field:
            raise invalid("filter field names must be non-empty")
        filters[field] = _parse_condition(field, condition)
    return filters or None


def parse_size(value: str | None, *, default: int, low: int, high: int) -> int:
    """An integer query argument such as ``size`` in ``low..high``."""
    if value in (None, ""):
        return default
    number = _to_int(value, "size")
    if not low <= number <= high:
        raise invalid(f"size must be an integer between {low} and {high}")
    return number


def decode_base64_image(value: Any, *, max_bytes: int) -> bytes:
    """The bytes of a base64 image, optionally a ``data:`` URL; 413 if over ``max_bytes``."""
    if not isinstance(value, str):
        raise invalid("image must be a base64 string or a data: URL")
    match = _DATA_URL.match(value)
    if match:
        if not match.group(1):
            raise invalid("image data: URL must be base64-encoded")
        value = value[match.end() :]
    text = "".join(value.split()).replace("-", "+").replace("_", "/")
    if not text:
        raise invalid("image is empty")
    if len(text) // 4 * 3 > max_bytes + 3:
        raise PayloadTooLargeError(f"image is larger than {max_bytes} bytes")
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("image is not valid base64") from None
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"image is larger than {max_bytes} bytes")
    return data


# --- helpers ----------------------------------------------------------------------------------


def _parse_condition(field: str, condition: Any) -> MetadataValue | list[MetadataValue]:
    if isinstance(condition, list):
        if not condition or len(condition) > MAX_FILTER_VALUES:
            raise invalid(f"filter {field!r}: a list needs 1 to {MAX_FILTER_VALUES} values")
        return [_parse_scalar(field, item) for item in condition]
    return _parse_scalar(field, condition)


def _parse_scalar(field: str, value: Any) -> MetadataValue:
    if value is None or isinstance(value, bool):
        return value
    if _is_int(value) and abs(value) <= MAX_ID:
        return int(value)
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= MAX_STRING_CHARS:
        return value
    raise invalid(f"filter {field!r}: values must be strings, numbers, booleans or null")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _to_int(value: str, name: str) -> int:
    text = value.strip()
    if not re.fullmatch(r"[+-]?\d{1,19}", text):
        raise invalid(f"{name} must be an integer")
    return int(text)


def _form_int(values: Mapping[str, str], name: str) -> int | None:
    value = values.get(name)
    return None if value in (None, "") else _to_int(str(value), name)


def _form_float(values: Mapping[str, str], name: str) -> float | None:
    value = values.get(name)
    if value in (None, ""):
        return None
    try:
        return float(str(value))
    except ValueError:
        raise invalid(f"{name} must be a number") from None


def _one_of_message(kinds: Collection[str], given: list[str]) -> str:
    names = ", ".join(kinds)
    if not given:
        return f"give exactly one of {names}"
    return f"give exactly one of {names}, not {' and '.join(given)}"


def _short(exc: BaseException) -> str:
    return str(exc)[:200] or type(exc).__name__
