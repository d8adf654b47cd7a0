"""The ``parts`` field of a search: a weighted list of texts, images, image ids and vectors.

Each part is an object holding exactly one query kind, validated by the same field that
validates that kind as a whole query (:mod:`search_api.schema.params`), and an optional weight:
a finite, non-zero number in ``-max_weight..max_weight``, 1 when absent; a negative weight
means "less like this". How the parts become one query vector is
:mod:`indexer.search.query_parts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search_api.schema.fields import Field, Limits, Schema, invalid, is_number

#: the key of a part's weight
WEIGHT = "weight"


@dataclass(frozen=True)
class ParsedPart:
    """One validated part: its kind, the value its field parsed (image bytes, not yet decoded)
    and its weight."""

    kind: str
    value: Any
    weight: float


@dataclass(frozen=True)
class Parts(Field):
    """1 to ``max_count`` parts, each ``{KIND: value, "weight": number}``."""

    name: str
    #: the field of each kind a part may hold, named by the kind
    kinds: tuple[Field, ...]
    max_count: int
    max_weight: float
    description: str = ""

    def _weight_schema(self) -> Schema:
        return {
            "type": "number",
            "minimum": -self.max_weight,
            "maximum": self.max_weight,
            "not": {"const": 0},
            "default": 1,
            "description": "Positive: more like this part; negative: less like it",
        }

    def schema(self, limits: Limits) -> Schema:
        properties = {kind.name: kind.schema(limits) for kind in self.kinds}
        item: Schema = {
            "type": "object",
            "properties": {**properties, WEIGHT: self._weight_schema()},
            "oneOf": [{"required": [kind.name]} for kind in self.kinds],
            "additionalProperties": False,
        }
        # at least one part finds more of something: a weight absent (1) or positive
        positive = {"properties": {WEIGHT: {"exclusiveMinimum": 0}}}
        schema = {
            "type": "array",
            "items": item,
            "minItems": 1,
            "maxItems": self.max_count,
            "contains": positive,
        }
        return self.documented(schema, limits)

    def parse(self, value: Any, limits: Limits) -> list[ParsedPart]:
        if not isinstance(value, list) or not value:
            raise invalid(f"{self.name} must be a non-empty list of query parts")
        if len(value) > self.max_count:
            raise invalid(f"{self.name} may hold at most {self.max_count} query parts")
        return [self._part(item, limits) for item in value]

    def _part(self, item: Any, limits: Limits) -> ParsedPart:
        names = [kind.name for kind in self.kinds]
        if not isinstance(item, dict):
            raise invalid(f"each of {self.name} must be an object with one of {', '.join(names)}")
        unknown = sorted(set(item) - {*names, WEIGHT})
        if unknown:
            raise invalid(f"unknown key {unknown[0]!r} in a query part; expected one of {names}")
        given = [kind for kind in self.kinds if kind.name in item]
        if len(given) != 1:
            raise invalid(f"each of {self.name} must hold exactly one of {', '.join(names)}")
        kind = given[0]
        return ParsedPart(kind.name, kind.parse(item[kind.name], limits), self._weight(item))

    def _weight(self, item: dict[str, Any]) -> float:
        weight = item.get(WEIGHT, 1.0)
        if not is_number(weight) or weight == 0 or abs(weight) > self.max_weight:
            raise invalid(
                f"a query part's weight must be a non-zero number between "
                f"{-self.max_weight:g} and {self.max_weight:g}"
            )
        return float(weight)
