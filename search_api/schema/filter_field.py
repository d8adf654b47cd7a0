"""The ``filters`` request field: exact matches on metadata fields, sent as a JSON object
(or as a JSON string in a query argument or form value)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from indexer.records import MetadataValue
from indexer.storage.filter_values import (
    BOOLEAN,
    BOOLEAN_PATTERN,
    NUMBER,
    NUMBER_PATTERN,
    TEXT,
)
from search_api.schema.fields import (
    MAX_ID,
    Field,
    Limits,
    Name,
    Schema,
    invalid,
    is_number,
    short,
)

Filters = dict[str, MetadataValue | list[MetadataValue]]


@dataclass(frozen=True)
class MetadataFilters(Field):
    """``{"field": value}`` or ``{"field": [value, ...]}`` (any of); values are JSON scalars."""

    name: str
    max_fields: int
    max_values: int
    max_chars: int
    description: str = 'Exact match per field; a list means any of: {"modality": "CT"}'
    #: a query argument or form part holds the object as JSON text
    text_media_type: ClassVar[str | None] = "application/json"

    def scalar_schema(self) -> Schema:
        return {
            "type": ["string", "number", "boolean", "null"],
            "maxLength": self.max_chars,
            "minimum": -MAX_ID,
            "maximum": MAX_ID,
        }

    def schema(self, limits: Limits) -> Schema:
        schema = {
            "type": "object",
            "maxProperties": self.max_fields,
            "propertyNames": self.field_names(limits),
            "additionalProperties": self.condition_schema(self.scalar_schema()),
        }
        if limits.filter_kinds:
            schema["properties"] = {
                field: self.condition_schema(self.typed_scalar_schema(frozenset(kinds)))
                for field, kinds in limits.filter_kinds
                if kinds
            }
        return self.documented(schema, limits)

    def condition_schema(self, scalar: Schema) -> Schema:
        """A value or a list of values (any of)."""
        values = {"type": "array", "items": scalar, "minItems": 1, "maxItems": self.max_values}
        return {"anyOf": [scalar, values]}

    def typed_scalar_schema(self, kinds: frozenset[str]) -> Schema:
        """The values a field holding ``kinds`` of value can equal: the index refuses others
        (text that spells a number matches a field of numbers)."""
        text = {"type": "string", "maxLength": self.max_chars}
        choices: list[Schema] = [{"type": "null"}]
        if TEXT in kinds:
            choices.append(text)
        if NUMBER in kinds:
            choices += [
                {"type": "number", "minimum": -MAX_ID, "maximum": MAX_ID},
                {**text, "pattern": NUMBER_PATTERN},
            ]
        if BOOLEAN in kinds:
            choices += [{"type": "boolean"}, {**text, "pattern": BOOLEAN_PATTERN}]
        return {"anyOf": choices}

    def field_names(self, limits: Limits) -> Schema:
        """The names a filter may use: the served indexes' filterable fields where known (the
        index refuses others)."""
        if limits.filter_fields:
            return {"enum": list(limits.filter_fields)}
        return {"minLength": 1}

    def parse_text(self, text: str, limits: Limits) -> Filters | None:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise invalid(f"{self.name} must be a JSON object: {short(exc)}") from None
        if value is None:
            raise invalid(f"{self.name} must be a JSON object")
        return self.parse(value, limits)

    def parse(self, value: Any, limits: Limits) -> Filters | None:
        if not isinstance(value, dict):
            raise invalid(f'{self.name} must be an object such as {{"modality": "CT"}}')
        if len(value) > self.max_fields:
            raise invalid(f"{self.name} may name at most {self.max_fields} fields")
        filters: Filters = {}
        for field, condition in value.items():
            if not field:
                raise invalid("filter field names must be non-empty")
            filters[field] = self._condition(field, condition)
        return filters or None

    def _condition(self, field: str, condition: Any) -> MetadataValue | list[MetadataValue]:
        if isinstance(condition, list):
            if not condition or len(condition) > self.max_values:
                raise invalid(f"filter {field!r}: a list needs 1 to {self.max_values} values")
            return [self._scalar(field, item) for item in condition]
        return self._scalar(field, condition)

    def _scalar(self, field: str, value: Any) -> MetadataValue:
        if value is None or isinstance(value, bool):
            return value
        if is_number(value) and abs(value) <= MAX_ID:
            return value
        if isinstance(value, str) and len(value) <= self.max_chars:
            return value
        raise invalid(
            f"filter {field!r}: values must be strings of at most {self.max_chars} characters, "
            f"numbers between {-MAX_ID} and {MAX_ID}, booleans or null"
        )


@dataclass(frozen=True)
class MetadataFieldName(Name):
    """The name of one metadata field: one of the served indexes' fields where known (the index
    refuses others)."""

    description: str = ""
    names: ClassVar[str] = "the name of a metadata field"

    def known(self, limits: Limits) -> tuple[str, ...]:
        return limits.filter_fields
