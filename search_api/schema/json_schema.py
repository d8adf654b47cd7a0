"""The JSON Schema building blocks the answers' schemas share."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def closed(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object with only these keys, all of them required but the ``optional`` ones."""
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
        "additionalProperties": False,
    }
