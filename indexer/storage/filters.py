"""Filters and facets over the fields of the indexed images, and the caches that keep them cheap.

A field is a column (``modality``, ``format``, ``width``, ``height``) or a key of the JSON
``extra`` column. The first :data:`MAX_INDEXED_FIELDS` extra fields get an index of their values
at every publication, so that filters and facets on them do not parse the JSON of every row.
Scans of every row are cached until the database file changes. Equality filters are read from
each field's value codes where it has them (:mod:`.coded_filters`), else from SQLite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, literal, literal_column, select, text
from sqlalchemy.engine import Connection, Engine

from ..errors import InvalidRequestError
from ..query_cache import QueryCache
from ..records import Facets, MetadataValue
from .coded_filters import CodedFilters
from .field_kinds import read_pairs
from .filter_values import KIND_OF_SQL_TYPE, filter_values, typed_values
from .schema import COLUMN_FIELDS, SIZE_FIELDS, ImageRow
from .sql import IdArray, id_array, listed_ids

#: ids the results of recent filters may hold in memory together (8 bytes each)
FILTER_CACHE_IDS = 20_000_000
#: extra fields given an index of their values (the first ones in name order), so that filters
#: and facets on them do not parse the JSON of every row
MAX_INDEXED_FIELDS = 32
#: filters whose facet counts are kept until the database changes (a page asks again on Back)
FILTERED_FACETS_CACHED = 16

Filters = Mapping[str, MetadataValue | Sequence[MetadataValue]]


class FieldQueries:
    """Filters, facets and field indexes of one metadata database."""

    def __init__(self, engine: Engine, db_path: Path) -> None:
        self.engine = engine
        self.path = db_path
        self._cache: dict[str, tuple[tuple[int, ...], Any]] = {}
        #: ids matching recent filters, by the change stamp they were read at and the filter
        self._filter_cache: QueryCache[IdArray] = QueryCache(FILTER_CACHE_IDS, weigh=len)
        #: facets counted under recent filters
        self._facet_cache: QueryCache[Facets] = QueryCache(FILTERED_FACETS_CACHED)
        #: equality filters read from the value codes kept as rows are written
        self._coded = CodedFilters(engine, self.cached)

    def filterable_fields(self) -> list[str]:
        """Every field a filter may name; recomputed only after the database file changed."""
        return list(self.field_kinds())

    def filter_clauses(self, filters: Filters) -> dict[str, Any]:
        """The SQL condition of each filter, its values typed as the field's stored values
        (:mod:`.filter_values`): the one place where filters are read, whoever sent them.

        Raises :class:`InvalidRequestError` for an unknown field or a malformed condition, and
        :class:`~indexer.errors.FilterValueError` for a value its field's values cannot equal.
        """
        # each value is bound as its own type: a field may hold text in some rows and
        # numbers in others
        return {
            field: field_expression(field).in_([literal(v) for v in values])
            for field, values in self.typed_filters(filters).items()
        }

    def typed_filters(self, filters: Filters) -> dict[str, list[MetadataValue]]:
        """Each filter's values typed as its field's stored values (:mod:`.filter_values`).

        Raises what :meth:`filter_clauses` raises.
        """
        kinds = self.field_kinds()
        typed = {}
        for field, wanted in filters.items():
            if field not in kinds:
                raise InvalidRequestError(
                    f"unknown filter field {field!r}; filterable: {', '.join(sorted(kinds))}"
                )
            typed[field] = typed_values(field, filter_values(field, wanted), kinds[field])
        return typed

    def case_variants(self, filters: Filters) -> dict[str, list[str]]:
        """For each text filter value that no image holds, the stored values of its field that
        differ from it only in case (``{"modality": ["CT"]}`` for ``modality=ct``)."""
        variants: dict[str, list[str]] = {}
        with self.engine.connect() as connection:
            for field, wanted in filters.items():
                column = field_expression(field)
                for value in filter_values(field, wanted):
                    if not isinstance(value, str):
                        continue
                    rows = connection.execute(
                        select(column)
                        .where(func.lower(column) == func.lower(literal(value)))
                        .distinct()
                        .limit(5)
                    )
                    found = [v for (v,) in rows if isinstance(v, str)]
                    if value not in found:
                        variants.setdefault(field, []).extend(found)
        return {field: values for field, values in variants.items() if values}

    def field_kinds(self) -> dict[str, frozenset[str]]:
        """Each filterable field and the kinds of value it holds (:mod:`.filter_values`);
        recomputed only after the database file changed."""
        kinds: dict[str, frozenset[str]] = self.cached("fields", self._scan_fields)
        return kinds

    def field_value_types(self) -> dict[str, frozenset[str]]:
        """Each field and the SQLite JSON types of its stored values (``text``, ``integer``,
        ``real``, ``true``, ``false``, ``null``), for writers that need one column type per
        field; recomputed only after the database file changed."""
        types: dict[str, frozenset[str]] = self.cached("value_types", self._read_value_types)
        return types

    def _read_value_types(self) -> dict[str, frozenset[str]]:
        with self.engine.connect() as connection:
            pairs = read_pairs(connection)
        types: dict[str, set[str]] = {field: {"text"} for field in COLUMN_FIELDS}
        types.update({field: {"integer"} for field in SIZE_FIELDS})
        for key, sql_type in pairs:
            types.setdefault(key, set()).add(sql_type)
        return {field: frozenset(types[field]) for field in sorted(types)}

    def ids_matching(self, filters: Filters) -> IdArray:
        """Ids of images whose fields equal the filter values (a list means any of them).

        The ids of the most recent filters are kept until the database changes: a search page
        runs many queries under one filter, and reading millions of ids costs more than a search.
        """
        # read at this state of the database: results of an older state are never returned,
        # and age out of the cache
        key = (self._change_stamp(), _filters_key(filters))
        return self._filter_cache.get_or_compute(key, lambda: self._read_ids_matching(filters))

    def _read_ids_matching(self, filters: Filters) -> IdArray:
        coded = self._coded.ids_matching(self.typed_filters(filters))
        return coded if coded is not None else self.ids_matching_in_sql(filters)

    def ids_with_value(self, field: str) -> IdArray | None:
        """Ids of the images with a value of ``field``, from its codes; None without them."""
        return self._coded.ids_with_value(field)

    def ids_matching_in_sql(self, filters: Filters) -> IdArray:
        """The ids :meth:`ids_matching` finds, read from the rows through SQLite (the way of
        fields without value codes), not cached."""
        clauses = self.filter_clauses(filters).values()
        return id_array(self.engine, select(ImageRow.id).where(*clauses).order_by(ImageRow.id))

    def facets(
        self,
        max_values: int = 50,
        filters: Filters | None = None,
        within: IdArray | None = None,
    ) -> Facets:
        """For each filterable field, its most frequent values with their counts.

        Under ``filters``, each field is counted among the images that match the filters on the
        other fields (its own filter left out, so that its other values stay selectable).
        ``within`` (sorted ids) counts only those images, such as the ones a query scores above
        a cut-off.
        """
        everything: Facets = self.cached(
            f"facets-{max_values}", lambda: self._count_facets(max_values)
        )
        if not filters and within is None:
            return everything
        clauses = self.filter_clauses(filters or {})  # unknown fields, bad values fail first
        among = [] if within is None else [_id_among(within)]
        key = (self._change_stamp(), max_values, _filters_key(filters or {}), _ids_key(within))
        return self._facet_cache.get_or_compute(
            key, lambda: self._count_filtered_facets(max_values, clauses, among, everything)
        )

    def index_extra_fields(self) -> None:
        """Give each extra field (up to :data:`MAX_INDEXED_FIELDS`) an index of its values.

        Filters and facets on a field then read its index instead of the JSON of every row.
        Fields indexed before are left as they are.
        """
        extra = [f for f in self.filterable_fields() if f not in COLUMN_FIELDS + SIZE_FIELDS]
        with self.engine.begin() as connection:
            for field in extra[:MAX_INDEXED_FIELDS]:
                name = "ix_extra_" + hashlib.sha256(field.encode()).hexdigest()[:16]
                path = _json_path_literal(field)
                connection.execute(
                    text(
                        f"CREATE INDEX IF NOT EXISTS {name} ON images (json_extract(extra, {path}))"
                    )
                )

    def cached(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, reused until the database changes (scans of every row are slow)."""
        key = self._change_stamp()
        cached = self._cache.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        value = compute()
        self._cache[name] = (key, value)
        return value

    def _change_stamp(self) -> tuple[int, ...]:
        # committed writes touch the database file or its write-ahead log
        stamps = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                stat = path.stat()
                stamps += [stat.st_mtime_ns, stat.st_size]
            except FileNotFoundError:
                stamps += [0, 0]
        return tuple(stamps)

    def _scan_fields(self) -> dict[str, frozenset[str]]:
        return {
            field: frozenset(KIND_OF_SQL_TYPE[t] for t in types if t in KIND_OF_SQL_TYPE)
            for field, types in self.field_value_types().items()
        }

    def _count_facets(self, max_values: int) -> Facets:
        with self.engine.connect() as connection:
            return {
                field: _count_values(connection, field, max_values)
                for field in self.filterable_fields()
                if field not in SIZE_FIELDS
            }

    def _count_filtered_facets(
        self, max_values: int, clauses: dict[str, Any], among: list[Any], everything: Facets
    ) -> Facets:
        result: Facets = {}
        with self.engine.connect() as connection:
            for field, unfiltered in everything.items():
                others = [clause for f, clause in clauses.items() if f != field] + among
                # a field filtered alone keeps the counts of every image
                result[field] = (
                    _count_values(connection, field, max_values, others) if others else unfiltered
                )
        return result


def _count_values(
    connection: Connection, field: str, max_values: int, where: Sequence[Any] = ()
) -> list[tuple[MetadataValue, int]]:
    """The most frequent values of a field with their counts, among the images the conditions
    ``where`` select (every image when there are none)."""
    column = field_expression(field)
    query = select(column, func.count()).where(column.is_not(None), *where)
    rows = connection.execute(
        query.group_by(column).order_by(func.count().desc(), column).limit(max_values)
    )
    return [(value, int(n)) for value, n in rows]


def _id_among(ids: IdArray) -> Any:
    """``images.id`` among ``ids``, however many there are (:func:`.sql.listed_ids`)."""
    return ImageRow.id.in_(listed_ids(ids.tolist()))


def _ids_key(ids: IdArray | None) -> bytes | None:
    """A short cache key of an id array."""
    if ids is None:
        return None
    return hashlib.blake2b(np.ascontiguousarray(ids, dtype=np.int64).tobytes()).digest()


def _filters_key(filters: Filters) -> str:
    """A cache key of filters that does not depend on their order."""
    return repr(sorted((f, repr(v)) for f, v in filters.items()))


def field_expression(field: str) -> Any:
    """The SQL expression of a field: its column, or its value in the JSON ``extra`` column
    (spelled as its field index spells it, so that SQLite uses the index)."""
    if field in COLUMN_FIELDS or field in SIZE_FIELDS:
        return getattr(ImageRow, field)
    return func.json_extract(ImageRow.extra, literal_column(_json_path_literal(field)))


def _json_path_literal(field: str) -> str:
    """The SQL string literal of the JSON path of an extra field.

    Written into the SQL rather than bound as a parameter: SQLite uses an index on an expression
    only where a query spells out the same expression.
    """
    path = f'$."{field}"'.replace("'", "''")
    return f"'{path}'"
