"""The metadata database of an index folder (``meta.sqlite``, SQLite through SQLAlchemy 2).

:class:`Store` opens it and reads it: counts, rows by id, the state of every indexed file, and
filters and facets (:mod:`indexer.storage.filters`). Writes go through a unit of work,
``with store.writer() as w:`` (:mod:`indexer.storage.writer`). The tables are declared in
:mod:`indexer.storage.schema`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import create_engine, event, func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from ..errors import NotFoundError
from ..records import ImageRecord, InstanceUIDs, MetadataValue
from . import keyword_index, value_codes
from .field_kinds import fill_if_new
from .filters import Facets, FieldQueries, Filters, field_expression
from .groups import GroupQueries
from .schema import (
    Base,
    FailureRow,
    FailureState,
    FieldKindRow,
    FileState,
    IdentifierRow,
    ImageRow,
)
from .sql import IdArray, id_array, in_chunks, listed_ids, raw_rows
from .writer import MetadataWriter

if TYPE_CHECKING:
    from .record_blocks import RecordBlocks


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """The metadata database of one index folder."""

    def __init__(self, db_path: Path, *, create: bool = False) -> None:
        if not create and not db_path.is_file():
            raise NotFoundError(f"no metadata database at {db_path}")
        self.path = db_path
        self.engine: Engine = create_engine(f"sqlite:///{db_path}")
        event.listen(self.engine, "connect", _sqlite_pragmas)
        if create:
            had_field_kinds = inspect(self.engine).has_table(FieldKindRow.__tablename__)
            had_keyword_index = keyword_index.has_table(self.engine)
            Base.metadata.create_all(self.engine)
            fill_if_new(self.engine, had_field_kinds)
            keyword_index.fill_if_new(self.engine, had_keyword_index)
            value_codes.create_if_new(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._fields = FieldQueries(self.engine, db_path)
        #: values, sizes and members of the groups a field makes (:mod:`indexer.storage.groups`)
        self.groups = GroupQueries(self.engine, self._fields)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def writer(self) -> Iterator[MetadataWriter]:
        """A unit of work: what the block writes through it is committed when the block ends,
        and rolled back if it raises (see :mod:`indexer.storage.writer`)."""
        with self._sessions() as session, session.begin():
            yield MetadataWriter(session)
            value_codes.mark_current(session.connection())

    # -- reading -------------------------------------------------------------------------------

    def count(self) -> int:
        with self._sessions() as s:
            return int(s.scalar(select(func.count(ImageRow.id))) or 0)

    def failure_count(self) -> int:
        with self._sessions() as s:
            return int(s.scalar(select(func.count()).select_from(FailureRow)) or 0)

    def failures(self) -> list[dict[str, Any]]:
        with self._sessions() as s:
            rows = s.scalars(select(FailureRow).order_by(FailureRow.path))
            return [{"path": r.path, "reason": r.reason, "message": r.message} for r in rows]

    def ids(self, *, from_codes: bool = False) -> IdArray:
        """Every image's id, ascending, read from the rows; ``from_codes``: from the codes of
        ``format``, a column every row fills, where they are kept (one blob per 4,096 ids
        rather than a row each, for every checkpoint; :mod:`.value_codes`)."""
        coded = self._fields.ids_with_value("format") if from_codes else None
        if coded is not None:
            return coded
        return id_array(self.engine, select(ImageRow.id).order_by(ImageRow.id))

    def file_states(self) -> dict[str, FileState]:
        query = select(ImageRow.path, ImageRow.id, ImageRow.size, ImageRow.mtime, ImageRow.sha256)
        with raw_rows(self.engine, query) as rows:
            return {row[0]: FileState._make(row[1:]) for row in rows}

    def failure_states(self) -> dict[str, FailureState]:
        query = select(FailureRow.path, FailureRow.size, FailureRow.mtime, FailureRow.reason)
        with self._sessions() as s:
            return {row[0]: FailureState._make(row[1:]) for row in s.execute(query)}

    def get(self, image_id: int) -> ImageRecord:
        with self._sessions() as s:
            row = s.get(ImageRow, image_id)
            if row is None:
                raise NotFoundError(f"no indexed image with id {image_id}")
            return row.record()

    def get_many(self, ids: Iterable[int]) -> dict[int, ImageRecord]:
        found: dict[int, ImageRecord] = {}
        with self._sessions() as s:
            for condition in in_chunks(ImageRow.id, (int(i) for i in ids)):
                for row in s.scalars(select(ImageRow).where(condition)):
                    found[row.id] = row.record()
        return found

    def records_in_blocks(
        self, filters: Filters | None, block_rows: int
    ) -> AbstractContextManager[RecordBlocks]:
        """``with store.records_in_blocks(filters, n) as found:`` ``found.total`` records match
        ``filters`` (every image without any), and ``found.blocks`` yields them in id order, at
        most ``n`` at a time, as one version of the database (:mod:`.record_blocks`).

        Raises what :meth:`ids_matching` raises for an unknown field or a value it cannot hold.
        """
        from .record_blocks import record_blocks

        conditions = self._fields.filter_clauses(filters).values() if filters else ()
        return record_blocks(self.engine, conditions, block_rows)

    def identifiers(self, image_id: int) -> InstanceUIDs | None:
        """The DICOM identifiers of an image indexed from a PACS; None for files."""
        return self.identifiers_of([image_id]).get(image_id)

    def identifiers_of(self, ids: Iterable[int]) -> dict[int, InstanceUIDs]:
        """The DICOM identifiers of those of ``ids`` indexed from a PACS, in one query however
        many ids there are (they travel as one JSON array, not one SQL parameter each)."""
        uids = (IdentifierRow.study_uid, IdentifierRow.series_uid, IdentifierRow.sop_uid)
        query = select(IdentifierRow.image_id, *uids).where(
            IdentifierRow.image_id.in_(listed_ids(ids))
        )
        with self._sessions() as s:
            try:
                rows = s.execute(query).all()
            except OperationalError:  # an index made before the table existed
                return {}
        return {image_id: InstanceUIDs(*found) for image_id, *found in rows}

    # -- filters and facets (indexer.storage.filters) ------------------------------------------

    def filterable_fields(self) -> list[str]:
        """Every field a filter may name."""
        return self._fields.filterable_fields()

    def filter_field_kinds(self) -> dict[str, frozenset[str]]:
        """Every field a filter may name, with the kinds of value it holds (text, number ...)."""
        return self._fields.field_kinds()

    def field_value_types(self) -> dict[str, frozenset[str]]:
        """Every field with the SQLite JSON types of its stored values (``text``, ``integer``,
        ``real``, ``true``, ``false``, ``null``)."""
        return self._fields.field_value_types()

    def ids_matching(self, filters: Filters) -> IdArray:
        """Ids of images whose fields equal the filter values (a list means any of them)."""
        return self._fields.ids_matching(filters)

    def case_variants(self, filters: Filters) -> dict[str, list[str]]:
        """Stored values that differ from a text filter value only in case, by field."""
        return self._fields.case_variants(filters)

    def facets(
        self, max_values: int = 50, filters: Filters | None = None, within: IdArray | None = None
    ) -> Facets:
        """For each filterable field, its most frequent values with their counts (under
        ``filters``, counted with the other fields' filters applied; ``within``: among those
        image ids only)."""
        return self._fields.facets(max_values, filters, within)

    def field_values(self, field: str) -> tuple[IdArray, list[MetadataValue]]:
        """Every image that has a value of ``field``: their ids (ascending) and the values."""
        column = field_expression(field)
        query = select(ImageRow.id, column).where(column.is_not(None)).order_by(ImageRow.id)
        with raw_rows(self.engine, query) as rows:
            pairs = list(rows)
        ids = np.fromiter((row[0] for row in pairs), dtype=np.int64, count=len(pairs))
        return ids, [row[1] for row in pairs]

    def index_extra_fields(self) -> None:
        """Give the extra fields an index of their values (done at every publication)."""
        self._fields.index_extra_fields()
