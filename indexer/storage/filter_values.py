"""Filter values matched by the type of the values their field holds.

A filter value may come as text (the command line), as a JSON value (the API) or as a facet
value sent back (the page); it is compared with the field's stored values by their type, so
``bits_stored=13`` finds the images whose ``bits_stored`` is the number 13 wherever it was
written. Text that reads as a number, ``true`` or ``false`` is taken as one where the field
holds such values; a value that cannot match any type the field holds is a
:class:`~indexer.errors.FilterValueError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import FilterValueError, InvalidRequestError
from ..records import MetadataValue

#: the kinds of value a field may hold
TEXT, NUMBER, BOOLEAN = "text", "number", "boolean"
#: SQLite ``json_each`` type (or ``typeof``) of a stored value -> its kind (others: not filterable)
KIND_OF_SQL_TYPE = {
    "text": TEXT,
    "integer": NUMBER,
    "real": NUMBER,
    "true": BOOLEAN,
    "false": BOOLEAN,
}
_KIND_NAMES = {TEXT: "text", NUMBER: "numbers", BOOLEAN: "true or false"}
#: text taken as a number or a boolean where its field holds those (JSON Schema patterns too,
#: so that the API's document says exactly which text a field of numbers accepts)
NUMBER_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
BOOLEAN_PATTERN = r"^(true|false)$"
_INT64 = range(-(2**63), 2**63)
_INT64_DIGITS = 20


def filter_values(field: str, wanted: object) -> list[MetadataValue]:
    """The values of one filter condition: a scalar, or a non-empty list of scalars (any of)."""
    values = list(wanted) if isinstance(wanted, (list, tuple)) else [wanted]
    if not values or any(isinstance(v, (dict, list, tuple)) for v in values):
        raise InvalidRequestError(f"filter {field!r} needs a value or a list of values")
    return values  # type: ignore[return-value]


def typed_values(
    field: str, values: Iterable[MetadataValue], kinds: frozenset[str]
) -> list[MetadataValue]:
    """``values`` as the field's stored values are typed (text ``"13"`` -> ``13`` for a field
    of numbers); a field with no stored value takes any value (and matches nothing).

    Raises :class:`FilterValueError` for a value that cannot match any kind the field holds.
    """
    typed: list[MetadataValue] = []
    for value in values:
        matching = _as_kinds(value, kinds) if kinds and value is not None else [value]
        if not matching:
            held = " and ".join(_KIND_NAMES[k] for k in sorted(kinds))
            raise FilterValueError(
                f"filter {field!r}: {value!r} cannot match its values, which are {held}"
            )
        typed += matching
    return typed


def _as_kinds(value: MetadataValue, kinds: frozenset[str]) -> list[MetadataValue]:
    """``value`` read as each kind in ``kinds`` it can be read as."""
    if isinstance(value, bool):
        return [value] if BOOLEAN in kinds else []
    if isinstance(value, (int, float)):
        return [value] if NUMBER in kinds else []
    assert isinstance(value, str)
    readings: list[MetadataValue] = []
    if TEXT in kinds:
        readings.append(value)
    if NUMBER in kinds and re.search(NUMBER_PATTERN, value):
        readings.append(_number(value))
    if BOOLEAN in kinds and re.search(BOOLEAN_PATTERN, value):
        readings.append(value.startswith("t"))
    return readings


def _number(text: str) -> int | float:
    """The number ``text`` spells (``13``, ``5.0``, ``1e3``); beyond 64-bit integers, the
    nearest float (an infinity matches nothing)."""
    # a longer one is beyond 64 bits, or zeros in front (int() refuses thousands of digits)
    if len(text) <= _INT64_DIGITS and not any(c in text for c in ".eE"):
        number = int(text)
        if number in _INT64:
            return number
    return float(text)
