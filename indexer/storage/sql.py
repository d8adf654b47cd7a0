"""Bulk SQL over the metadata database: ``IN (...)`` conditions within SQLite's limit on bound
values, and rows read straight from the driver's cursor (no row object per row: there can be
millions)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Integer, func, literal_column, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import ColumnElement, Executable, Select

#: values bound in one ``IN (...)``, well under the variables SQLite allows in one statement
IN_CHUNK = 500

IdArray = npt.NDArray[np.int64]
#: the rows of a DB-API cursor (``sqlite3.Cursor`` iterates over tuples)
Rows = Iterable[tuple[Any, ...]]

_Value = TypeVar("_Value")


def in_chunks(
    column: InstrumentedAttribute[_Value], values: Iterable[_Value]
) -> Iterator[ColumnElement[bool]]:
    """``column IN (...)`` conditions that together cover ``values``, one statement's worth each."""
    listed: Sequence[_Value] = list(values)
    for start in range(0, len(listed), IN_CHUNK):
        yield column.in_(listed[start : start + IN_CHUNK])


@contextmanager
def raw_rows(engine: Engine, query: Executable) -> Iterator[Rows]:
    """The rows of ``query`` straight from the driver's cursor, as tuples."""
    with engine.connect() as connection:
        yield cast(Rows, connection.execute(query).cursor)


def id_array(engine: Engine, query: Select[Any]) -> IdArray:
    """The single integer column ``query`` selects, as an array."""
    with raw_rows(engine, query) as rows:
        return np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64)


def listed_ids(ids: Iterable[int]) -> Any:
    """A subquery of ``ids``, bound as one JSON array however many there are: for
    ``column.in_(listed_ids(ids))`` where one parameter per id would pass SQLite's limit."""
    values = json.dumps([int(i) for i in ids])
    return select(literal_column("value", Integer)).select_from(func.json_each(values))
