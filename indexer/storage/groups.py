"""Groups of images that share a metadata field's value (a series, a study, a case).

Any filterable field can group: its value is read from its column or the JSON ``extra`` column
(:func:`~indexer.storage.filters.field_expression`). A group's images are listed in slice order:
``slice_position``, then ``instance_number``, then id (images lacking a position come last).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, literal, select
from sqlalchemy.engine import Engine

from ..errors import FilterValueError, InvalidRequestError, NotFoundError
from ..records import GroupListing, GroupMember, MetadataValue
from .filter_values import typed_values
from .filters import FieldQueries, Filters, field_expression
from .schema import ImageRow
from .sql import listed_ids

#: the fields that place an image within its series (see :func:`GroupQueries.members`)
POSITION_FIELD = "slice_position"
NUMBER_FIELD = "instance_number"


class GroupQueries:
    """Group values, sizes and members over one metadata database."""

    def __init__(self, engine: Engine, fields: FieldQueries) -> None:
        self.engine = engine
        self.fields = fields

    def check_field(self, field: str) -> None:
        """:class:`InvalidRequestError` unless ``field`` is a field of the indexed images."""
        known = self.fields.field_kinds()
        if field not in known:
            raise InvalidRequestError(
                f"unknown group field {field!r}; fields: {', '.join(sorted(known))}"
            )

    def values_of(self, field: str, ids: Iterable[int]) -> dict[int, MetadataValue]:
        """``field``'s value of each of ``ids`` (None where an image lacks it), in one query
        however many ids there are (they travel as one JSON array)."""
        query = select(ImageRow.id, field_expression(field)).where(ImageRow.id.in_(listed_ids(ids)))
        with self.engine.connect() as connection:
            return {int(i): value for i, value in connection.execute(query)}

    def sizes(self, field: str, values: Sequence[MetadataValue]) -> dict[MetadataValue, int]:
        """How many indexed images hold each of ``values`` in ``field`` (None is not a value)."""
        column = field_expression(field)
        given = [v for v in dict.fromkeys(values) if v is not None]
        if not given:
            return {}
        query = (
            select(column, func.count())
            .where(column.in_([literal(v) for v in given]))
            .group_by(column)
        )
        with self.engine.connect() as connection:
            return {value: int(n) for value, n in connection.execute(query)}

    def count(self, field: str, filters: Filters | None = None) -> int:
        """Groups among the images ``filters`` select: distinct values of ``field``, each image
        without one counted as a group of its own (of every image: kept until the database
        changes)."""
        if not filters:
            counted: int = self.fields.cached(f"groups-{field}", lambda: self._count(field, None))
            return counted
        return self._count(field, filters)

    def _count(self, field: str, filters: Filters | None) -> int:
        column = field_expression(field)
        clauses = list(self.fields.filter_clauses(filters).values()) if filters else []
        distinct = select(func.count(func.distinct(column))).where(*clauses)
        lacking = select(func.count()).select_from(ImageRow).where(column.is_(None), *clauses)
        with self.engine.connect() as connection:
            return int(connection.scalar(distinct) or 0) + int(connection.scalar(lacking) or 0)

    def members(self, field: str, value: MetadataValue) -> GroupListing:
        """The images whose ``field`` equals ``value`` (read as the field's stored kind: text
        ``"3"`` finds the number 3), in slice order; :class:`NotFoundError` when there are none."""
        self.check_field(field)
        column = field_expression(field)
        kinds = self.fields.field_kinds()[field]
        try:
            values = typed_values(field, [value], kinds)
        except FilterValueError:  # a value no image of the field can hold
            values = []
        position = field_expression(POSITION_FIELD)
        number = field_expression(NUMBER_FIELD)
        query = (
            select(ImageRow.id, number, position, column)
            .where(column.in_([literal(v) for v in values]))
            .order_by(position.is_(None), position, number.is_(None), number, ImageRow.id)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        if not rows:
            raise NotFoundError(f"no indexed image has {field} = {value!r}")
        images = [GroupMember(int(i), _int_or_none(n), _float_or_none(p)) for i, n, p, _ in rows]
        return GroupListing(field, rows[0][3], images)


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
