"""Every image record a filter selects, read in blocks through one read transaction.

For programs that take a whole index, or a filtered part of it, elsewhere (``medsearch
export``): however many millions of rows there are, only one block of records is in memory at a
time, and the count given first and the rows read after it come from one version of the
database, even while ``medsearch index`` commits new rows beside them (SQLite's write-ahead log
keeps that version for the reader until it ends).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from ..records import ImageRecord
from .schema import ImageRow

#: the columns of an image row that make its :class:`ImageRecord`, in the record's order
_RECORD_COLUMNS = [getattr(ImageRow, f.name) for f in dataclasses.fields(ImageRecord)]


class RecordBlocks(NamedTuple):
    """How many records match, and the records themselves in id order, a block at a time."""

    total: int
    blocks: Iterator[list[ImageRecord]]


@contextmanager
def record_blocks(
    engine: Engine, conditions: Iterable[Any], block_rows: int
) -> Iterator[RecordBlocks]:
    """The records of the images meeting every SQL condition in ``conditions``, ``block_rows``
    at a time, all read within the block as one version of the database."""
    if block_rows < 1:
        raise ValueError("block_rows must be at least 1")
    where = list(conditions)
    with engine.connect() as connection:
        # A deferred transaction takes its snapshot at the first read, the count: the rows
        # read after it are the ones counted.
        connection.exec_driver_sql("BEGIN")
        try:
            total = connection.scalar(select(func.count()).select_from(ImageRow).where(*where))
            query = select(*_RECORD_COLUMNS).where(*where).order_by(ImageRow.id)
            yield RecordBlocks(int(total or 0), _blocks(connection, query, block_rows))
        finally:
            connection.rollback()


def _blocks(connection: Connection, query: Any, block_rows: int) -> Iterator[list[ImageRecord]]:
    result = connection.execution_options(yield_per=block_rows).execute(query)
    for rows in result.partitions():
        yield [_record(*row) for row in rows]


def _record(*values: Any) -> ImageRecord:
    record = ImageRecord(*values)
    if not isinstance(record.extra, dict):  # NULL in a row written before the default existed
        return dataclasses.replace(record, extra={})
    return record
