"""Which extra fields the images hold, and with which types, kept as rows are written.

Filters need each field's kinds of value (:mod:`indexer.storage.filter_values`), and facets and
field indexes need the list of fields. Finding them by reading the JSON of every row costs
seconds at millions of images, after every change. The ``field_kinds`` table instead counts,
per field and JSON type, the images that hold it: the writer adds a row's fields when it inserts
the row, and takes them away when it deletes or rewrites it, in the same transaction. An index
made before the table existed has it filled by one scan the next time it is opened for writing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, inspect, select, text
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from .schema import FieldKindRow

#: every (field, JSON type) pair of the JSON ``extra`` column, read from the rows themselves
SCAN_PAIRS = "SELECT j.key, j.type, count(*) FROM images, json_each(images.extra) j GROUP BY 1, 2"

Pairs = Counter[tuple[str, str]]


def json_type(value: Any) -> str:
    """The type SQLite's ``json_each`` reports for ``value`` once stored as JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "real"
    if isinstance(value, str):
        return "text"
    return "array" if isinstance(value, (list, tuple)) else "object"


def pairs_of(extras: Iterable[Mapping[str, Any] | None]) -> Pairs:
    """How many of ``extras`` hold each field with each type."""
    counted: Pairs = Counter()
    for extra in extras:
        counted.update((field, json_type(value)) for field, value in (extra or {}).items())
    return counted


def record_pairs(session: Session, added: Pairs, removed: Pairs | None = None) -> None:
    """Add ``added`` to the counts and take ``removed`` away; a pair no image holds any more is
    dropped."""
    change = Counter(added)
    change.subtract(removed or Counter())
    rows = [
        {"field": field, "sql_type": sql_type, "images": images}
        for (field, sql_type), images in change.items()
        if images
    ]
    if not rows:
        return
    upsert = insert(FieldKindRow).values(rows)
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=["field", "sql_type"],
            set_={"images": FieldKindRow.images + upsert.excluded.images},
        )
    )
    session.execute(delete(FieldKindRow).where(FieldKindRow.images <= 0))


def read_pairs(connection: Connection) -> list[tuple[str, str]]:
    """The (field, JSON type) pairs the images hold: from the table, or by reading every row of
    an index made before it existed and not written since."""
    if inspect(connection).has_table(FieldKindRow.__tablename__):
        query = select(FieldKindRow.field, FieldKindRow.sql_type)
        return [(field, sql_type) for field, sql_type in connection.execute(query)]
    return [(field, sql_type) for field, sql_type, _ in connection.execute(text(SCAN_PAIRS))]


def fill_if_new(engine: Engine, had_table: bool) -> None:
    """Count the fields of every row once, when the table was just made for existing rows."""
    if had_table:
        return
    with engine.begin() as connection:
        counted = connection.execute(text(SCAN_PAIRS)).all()
        if counted:
            connection.execute(
                insert(FieldKindRow),
                [{"field": f, "sql_type": t, "images": n} for f, t, n in counted],
            )
