"""Request fields declared once: each one validates a value and describes itself as JSON Schema.

This module holds the base class, the settings-driven :class:`Limits` and the plain fields;
:mod:`search_api.schema.image_fields` and :mod:`search_api.schema.filter_field` add the image and
filter fields. :mod:`search_api.schema.params` groups these fields into the requests of the API and
validates with them; :mod:`search_api.schema.openapi` renders the same objects into the OpenAPI
document. A limit is therefore written in one place, and the document cannot promise what the
validator refuses.

A field's :meth:`~Field.parse` takes a JSON value that is not ``None`` (a JSON ``null`` counts
as absent, which :class:`~search_api.schema.params.FieldSet` handles) and returns the typed value or
raises :class:`~indexer.errors.InvalidRequestError` (400) with a message naming the rule.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from indexer.errors import InvalidRequestError, NotFoundError
from indexer.prompts import DEFAULT_TEMPLATE, TEMPLATE_PATTERN, check_template
from indexer.search.levels import GROUP_LEVEL_PREFIX, IMAGE_LEVEL, LEVEL_FIELDS
from indexer.settings import Settings

Schema = dict[str, Any]

#: largest id SQLite can hold; larger integers in a filter would overflow the database too
MAX_ID = 2**63 - 1
#: what counts as whitespace: every character that Python, JSON Schema (ECMAScript) or Unicode
#: call so, listed, because their ``\s`` differ
_BLANKS = (
    " \t\n\r\f\v\x1c\x1d\x1e\x1f\x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
#: JSON Schema of a string with something other than whitespace in it (the characters
#: themselves, not escapes, so that every regular expression engine reads them alike)
NOT_BLANK = f"[^{_BLANKS}]"
_NOT_BLANK = re.compile(NOT_BLANK)


@dataclass(frozen=True)
class Limits:
    """The request limits that follow the service's settings (``MEDSEARCH_*``)."""

    max_k: int
    max_upload_bytes: int
    #: names of the served indexes, the first one the default (empty: not known here)
    index_names: tuple[str, ...] = ()
    #: the vector dimensions of the served indexes (empty: not known here)
    vector_dims: tuple[int, ...] = ()
    #: the metadata fields a filter may name in some served index (empty: not known here)
    filter_fields: tuple[str, ...] = ()
    #: the kinds of value (text, number, boolean) each of those fields holds in the served
    #: indexes (empty: not known here)
    filter_kinds: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: the levels some served index answers (empty: not known here)
    levels: tuple[str, ...] = ()

    @property
    def group_levels(self) -> tuple[str, ...]:
        """The levels of :attr:`levels` that search groups."""
        return tuple(level for level in self.levels if level != IMAGE_LEVEL)

    @classmethod
    def of(
        cls,
        settings: Settings,
        index_names: tuple[str, ...] = (),
        *,
        vector_dims: tuple[int, ...] = (),
        filter_fields: tuple[str, ...] = (),
        filter_kinds: tuple[tuple[str, tuple[str, ...]], ...] = (),
        levels: tuple[str, ...] = (),
    ) -> Limits:
        return cls(
            max_k=settings.max_k,
            max_upload_bytes=settings.max_upload_bytes,
            index_names=index_names,
            vector_dims=vector_dims,
            filter_fields=filter_fields,
            filter_kinds=filter_kinds,
            levels=levels,
        )


def invalid(message: str) -> InvalidRequestError:
    """A 400 error with ``message``."""
    return InvalidRequestError(message)


class Field(ABC):
    """One named request field: its JSON Schema and its validator, from the same attributes."""

    name: str
    description: str = ""
    #: the value when the field is absent (or null)
    default: Any = None
    #: whether an empty query or form value counts as absent (else it is parsed, and refused)
    empty_is_absent: ClassVar[bool] = True
    #: the media type of the field's text (a query argument or form part) when it is not plain
    #: text: the document then declares the text as that content (``application/json``)
    text_media_type: ClassVar[str | None] = None

    @abstractmethod
    def schema(self, limits: Limits) -> Schema:
        """The field's JSON Schema as a JSON value."""

    @abstractmethod
    def parse(self, value: Any, limits: Limits) -> Any:
        """The typed value of a JSON value (``None`` only for a required field, to refuse it)."""

    def text_schema(self, limits: Limits) -> Schema:
        """The JSON Schema of the field sent as text (a query argument or form value)."""
        return self.schema(limits)

    def parse_text(self, text: str, limits: Limits) -> Any:
        """The typed value of the field sent as text."""
        return self.parse(text, limits)

    def default_for(self, limits: Limits) -> Any:
        return self.default

    def requirement(self, limits: Limits) -> Schema | None:
        """What the rest of a request must hold when this field is given (None: nothing)."""
        return None

    def documented(self, schema: Schema, limits: Limits) -> Schema:
        """``schema`` with the description and default added."""
        if self.description:
            schema["description"] = self.description
        default = self.default_for(limits)
        if default is not None:
            schema["default"] = default
        return schema


@dataclass(frozen=True)
class Integer(Field):
    """An integer in ``minimum..maximum``; the maximum may follow the settings."""

    name: str
    minimum: int
    maximum: int | Callable[[Limits], int]
    default: int | None = None
    description: str = ""

    def bounds(self, limits: Limits) -> tuple[int, int]:
        high = self.maximum(limits) if callable(self.maximum) else self.maximum
        return self.minimum, high

    def default_for(self, limits: Limits) -> int | None:
        return None if self.default is None else min(self.default, self.bounds(limits)[1])

    def schema(self, limits: Limits) -> Schema:
        low, high = self.bounds(limits)
        return self.documented({"type": "integer", "minimum": low, "maximum": high}, limits)

    def parse(self, value: Any, limits: Limits) -> int:
        low, high = self.bounds(limits)
        if not is_int(value) or not low <= value <= high:
            raise invalid(f"{self.name} must be an integer between {low} and {high}")
        return int(value)

    def parse_text(self, text: str, limits: Limits) -> int:
        stripped = text.strip()
        if not re.fullmatch(r"[+-]?\d{1,19}", stripped):
            raise invalid(f"{self.name} must be an integer")
        return self.parse(int(stripped), limits)


@dataclass(frozen=True)
class Number(Field):
    """A finite number."""

    name: str
    description: str = ""

    def schema(self, limits: Limits) -> Schema:
        return self.documented({"type": "number"}, limits)

    def parse(self, value: Any, limits: Limits) -> float:
        if not is_number(value):
            raise invalid(f"{self.name} must be a finite number")
        return float(value)

    def parse_text(self, text: str, limits: Limits) -> float:
        try:
            number = float(text)
        except ValueError:
            raise invalid(f"{self.name} must be a number") from None
        return self.parse(number, limits)


@dataclass(frozen=True)
class Share(Number):
    """A number from 0 to 1."""

    def schema(self, limits: Limits) -> Schema:
        return self.documented({"type": "number", "minimum": 0, "maximum": 1}, limits)

    def parse(self, value: Any, limits: Limits) -> float:
        if not is_number(value) or not 0 <= value <= 1:
            raise invalid(f"{self.name} must be a number from 0 to 1")
        return float(value)


@dataclass(frozen=True)
class Cosine(Number):
    """A cosine similarity: a number from -1 to 1."""

    def schema(self, limits: Limits) -> Schema:
        return self.documented({"type": "number", "minimum": -1, "maximum": 1}, limits)

    def parse(self, value: Any, limits: Limits) -> float:
        if not is_number(value) or not -1 <= value <= 1:
            raise invalid(f"{self.name} must be a cosine between -1 and 1")
        return float(value)


@dataclass(frozen=True)
class Flag(Field):
    """A yes or no: a JSON boolean, or as text ``true``/``false`` (``1``/``0``)."""

    name: str
    description: str = ""
    default: bool = False

    #: what each accepted text means
    TEXTS: ClassVar[dict[str, bool]] = {"true": True, "false": False, "1": True, "0": False}

    def schema(self, limits: Limits) -> Schema:
        return self.documented({"type": "boolean"}, limits)

    def text_schema(self, limits: Limits) -> Schema:
        return self.documented({"type": "string", "enum": list(self.TEXTS)}, limits)

    def parse(self, value: Any, limits: Limits) -> bool:
        if not isinstance(value, bool):
            raise invalid(f"{self.name} must be true or false")
        return value

    def parse_text(self, text: str, limits: Limits) -> bool:
        if text.strip().lower() not in self.TEXTS:
            raise invalid(f"{self.name} must be true or false")
        return self.TEXTS[text.strip().lower()]


@dataclass(frozen=True)
class ImageId(Field):
    """An image id: a non-negative integer; one no database can hold is simply not found."""

    name: str
    description: str = "Indexed image id"

    def schema(self, limits: Limits) -> Schema:
        return self.documented({"type": "integer", "minimum": 0}, limits)

    def parse(self, value: Any, limits: Limits) -> int:
        if not is_int(value) or value < 0:
            raise invalid(f"{self.name} must be a non-negative integer")
        return check_id(int(value))


@dataclass(frozen=True)
class Text(Field):
    """A string with something other than whitespace, of at most ``max_chars`` characters."""

    name: str
    max_chars: int
    description: str = ""

    def schema(self, limits: Limits) -> Schema:
        schema = {"type": "string", "minLength": 1, "maxLength": self.max_chars}
        return self.documented({**schema, "pattern": NOT_BLANK}, limits)

    def parse(self, value: Any, limits: Limits) -> str:
        if not isinstance(value, str) or not _NOT_BLANK.search(value):
            raise invalid(f"{self.name} must be a non-empty string")
        if len(value) > self.max_chars:
            raise invalid(f"{self.name} must be at most {self.max_chars} characters")
        return value


@dataclass(frozen=True)
class Secret(Field):
    """A non-empty string, with one message for every way of getting it wrong."""

    name: str
    message: str
    description: str = ""

    def schema(self, limits: Limits) -> Schema:
        return self.documented({"type": "string", "minLength": 1}, limits)

    def parse(self, value: Any, limits: Limits) -> str:
        if not isinstance(value, str) or not value:
            raise invalid(self.message)
        return value


@dataclass(frozen=True)
class Labels(Field):
    """Candidate labels: 1 to ``max_count`` strings, each as a :class:`Text` field."""

    name: str
    max_count: int
    max_chars: int
    description: str = ""

    @property
    def item(self) -> Text:
        return Text("each label", self.max_chars)

    def schema(self, limits: Limits) -> Schema:
        item = self.item.schema(limits)
        schema = {"type": "array", "items": item, "minItems": 1, "maxItems": self.max_count}
        return self.documented(schema, limits)

    def parse(self, value: Any, limits: Limits) -> list[str]:
        if not isinstance(value, list) or not value:
            raise invalid(f"{self.name} must be a non-empty list of strings")
        if len(value) > self.max_count:
            raise invalid(f"{self.name} may hold at most {self.max_count} labels")
        return [self.item.parse(label, limits) for label in value]


@dataclass(frozen=True)
class Template(Field):
    """A label template: the rule of :mod:`indexer.prompts`, at most ``max_chars`` long."""

    name: str
    max_chars: int
    default: str = DEFAULT_TEMPLATE
    description: str = 'The label replaces "{}"; every other brace is plain text'

    def schema(self, limits: Limits) -> Schema:
        schema = {"type": "string", "maxLength": self.max_chars, "pattern": TEMPLATE_PATTERN}
        return self.documented(schema, limits)

    def parse(self, value: Any, limits: Limits) -> str:
        if not isinstance(value, str):
            raise invalid(f"{self.name} must be a string such as {DEFAULT_TEMPLATE!r}")
        if len(value) > self.max_chars:
            raise invalid(f"{self.name} must be at most {self.max_chars} characters")
        return check_template(value)


@dataclass(frozen=True)
class Vector(Field):
    """A query vector: 1 to ``max_len`` finite numbers, not all zeros.

    The index then requires its own dimension; the document says so where the served indexes'
    dimensions are known (one index, or several of one dimension: exactly that length).
    """

    name: str
    max_len: int
    description: str = ""

    def schema(self, limits: Limits) -> Schema:
        dims = limits.vector_dims
        shortest, longest = (min(dims), max(dims)) if dims else (1, self.max_len)
        schema = {"type": "array", "items": {"type": "number"}, "minItems": shortest}
        not_all_zeros = {"contains": {"not": {"const": 0}}}
        return self.documented({**schema, "maxItems": longest, **not_all_zeros}, limits)

    def parse(self, value: Any, limits: Limits) -> list[float]:
        if not isinstance(value, list) or not value or len(value) > self.max_len:
            raise invalid(f"{self.name} must be a list of 1 to {self.max_len} numbers")
        if not all(is_number(x) for x in value):
            raise invalid(f"{self.name} must contain only finite numbers")
        return [float(x) for x in value]


@dataclass(frozen=True)
class Name(Field):
    """A non-empty name of at most ``max_chars`` characters; the document lists the names the
    served indexes know (:meth:`known`) where they are known."""

    name: str
    max_chars: int
    #: what the name names, for the message refusing it
    names: ClassVar[str] = "a name"

    def known(self, limits: Limits) -> tuple[str, ...]:
        return ()

    def schema(self, limits: Limits) -> Schema:
        schema: Schema = {"type": "string", "minLength": 1, "maxLength": self.max_chars}
        if self.known(limits):
            schema["enum"] = list(self.known(limits))
        return self.documented(schema, limits)

    def parse(self, value: Any, limits: Limits) -> str:
        if not isinstance(value, str) or not value or len(value) > self.max_chars:
            raise invalid(f"{self.name} must be {self.names}")
        return value


@dataclass(frozen=True)
class Level(Field):
    """What the results are: images, or groups of them (``series``, ``study``, ``group:FIELD``,
    :mod:`indexer.search.levels`); whether the index has that level's vectors is left to it."""

    name: str
    max_chars: int
    default: str = IMAGE_LEVEL
    description: str = (
        "What a result is: an image, or a series, study or group of a group field "
        "(group:FIELD), scored by the group's mean vector"
    )

    @property
    def pattern(self) -> str:
        named = "|".join([IMAGE_LEVEL, *LEVEL_FIELDS])
        return f"^({named}|{GROUP_LEVEL_PREFIX}.+)$"

    def schema(self, limits: Limits) -> Schema:
        if limits.levels:  # the served indexes' levels
            return self.documented({"type": "string", "enum": list(limits.levels)}, limits)
        schema = {"type": "string", "maxLength": self.max_chars, "pattern": self.pattern}
        return self.documented(schema, limits)

    def parse(self, value: Any, limits: Limits) -> str:
        if (
            not isinstance(value, str)
            or len(value) > self.max_chars
            or not re.fullmatch(self.pattern[1:-1], value)
        ):
            raise invalid(f"{self.name} must be image, series, study or group:FIELD")
        return value


@dataclass(frozen=True)
class GroupValue(Text):
    """A group's value (a series_key ...): the query of "similar series", which needs a group
    ``level``; where no served index has group vectors, the document admits none."""

    def schema(self, limits: Limits) -> Schema:
        if limits.levels and not limits.group_levels:
            return self.documented({"not": {}}, limits)
        return super().schema(limits)

    def requirement(self, limits: Limits) -> Schema | None:
        levels = limits.group_levels
        level: Schema = {"enum": list(levels)} if levels else {"not": {"const": IMAGE_LEVEL}}
        return {"required": ["level"], "properties": {"level": level}}


@dataclass(frozen=True)
class IndexName(Name):
    """The name of a served index; the document lists the names, a name not served is a 404.
    An empty name (``index=``) is refused: it names no index, and leaving the argument out
    is how a client asks for the default."""

    description: str = "Which served index to use (GET /api/indexes); the first one by default"
    empty_is_absent: ClassVar[bool] = False
    names: ClassVar[str] = "the name of a served index"

    def known(self, limits: Limits) -> tuple[str, ...]:
        return limits.index_names

    def default_for(self, limits: Limits) -> str | None:
        return limits.index_names[0] if limits.index_names else None


# --- value checks shared by the fields ---------------------------------------------------------


def check_id(image_id: int) -> int:
    """404 for ids no index can hold (they would overflow the database)."""
    if not 0 <= image_id <= MAX_ID:
        raise NotFoundError(f"no indexed image with id {image_id}")
    return image_id


def is_int(value: Any) -> bool:
    """An integral JSON number: ``5`` or, as JSON Schema counts it, ``5.0`` (not a bool)."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite JSON number: not a bool, and not an integer too large for a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def short(exc: BaseException) -> str:
    return str(exc)[:200] or type(exc).__name__
