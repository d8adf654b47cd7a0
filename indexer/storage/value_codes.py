"""Each field's value of every image as a small code, kept as rows are written.

A filter such as ``arm=a`` must find its images at once, even the first time after a new version
is published. Reading the ids from SQLite (through the value index) costs about a second per
million matches; these tables instead hold, per field, a 16-bit code of each image's value,
stored in blobs of :data:`CHUNK_IDS` consecutive ids (code 0: the image has no value). A
filter reads its fields' blobs in one query each and compares codes with numpy
(:mod:`indexer.storage.coded_filters`).

The writer sets an image's codes when it inserts the row, and clears or resets them when it
deletes or rewrites it, in the same transaction; triggers stamp each blob written, so that a
reader reads again only the blobs written since its last read (:mod:`.value_code_stamps`).
Values are keyed as SQLite compares them (:func:`value_key`): numbers by their value (``13``
equals ``13.0``, ``true`` equals ``1``), text as text. A field with more than :data:`MAX_CODES`
distinct values, or holding a list or an object, is given up (its codes are dropped; filters on
it read SQLite, where its value index finds a few ids quickly). An index made before these
tables existed gets them, filled by one pass over its rows, in one transaction the first time it
is opened for writing; until then filters read SQLite.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from . import value_code_stamps as stamps
from .schema import COLUMN_FIELDS, SIZE_FIELDS, ImageRow
from .sql import IN_CHUNK

#: consecutive ids whose codes one blob holds
CHUNK_IDS = 4096
#: most distinct values a field may have and keep its codes (codes are 16-bit, 0 is no value)
MAX_CODES = 65535
CODE = np.dtype("<u2")
#: rows read at a time when an older index is given its codes
FILL_BLOCK = 50_000

Codes = npt.NDArray[np.uint16]
#: an image's id and its fields (columns and extra fields alike)
FieldRow = tuple[int, Mapping[str, Any]]

metadata = MetaData()
#: each field seen, whether it has codes (``covered``) and the next code to give out
fields_table = Table(
    "value_code_fields",
    metadata,
    Column("field", String, primary_key=True),
    Column("covered", Integer, nullable=False),
    Column("next_code", Integer, nullable=False),
)
#: the code of each value of a covered field
keys_table = Table(
    "value_code_keys",
    metadata,
    Column("field", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("code", Integer, nullable=False),
)
#: the codes of :data:`CHUNK_IDS` consecutive ids of one field (id ``chunk * CHUNK_IDS + i``)
chunks_table = Table(
    stamps.CHUNKS,
    metadata,
    Column("field", String, primary_key=True),
    Column("chunk", Integer, primary_key=True),
    Column("codes", LargeBinary, nullable=False),
    # set by triggers: which chunks a reader must read again (:mod:`.value_code_stamps`)
    Column("stamp", Integer, nullable=False, server_default="0"),
    Index("ix_value_code_chunks_chunk", "chunk"),
    Index(stamps.STAMP_INDEX, "field", "stamp"),
)


#: image rows written (a trigger counts every insert, delete and change of a field, whoever
#: writes) and the count the codes were last brought in line with: codes are read only while
#: the two are equal, so that rows written by an older MedSearch never go unseen
state_table = Table(
    stamps.STATE,
    metadata,
    Column("id", Integer, primary_key=True),
    Column("writes", Integer, nullable=False),
    Column("coded", Integer, nullable=False),
    Column("stamp", Integer, nullable=False, server_default="0"),
    Column("epoch", Integer, nullable=False, server_default="0"),
)
_FIELD_COLUMNS = ", ".join(COLUMN_FIELDS + SIZE_FIELDS + ("extra",))
_TRIGGERS = {
    "value_code_writes_insert": "AFTER INSERT ON images",
    "value_code_writes_delete": "AFTER DELETE ON images",
    "value_code_writes_update": f"AFTER UPDATE OF {_FIELD_COLUMNS} ON images",
}


class UncodableValue(ValueError):
    """A value that has no code (a list or an object)."""


def value_key(value: Any) -> str | None:
    """The key of a stored or filter value, equal for values SQLite finds equal; None for no
    value (``null``, NaN), which no filter matches."""
    if value is None:
        return None
    if isinstance(value, (bool, int)):
        return f"n:{int(value)}"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return f"n:{int(value)}" if value.is_integer() else f"n:{value!r}"
    if isinstance(value, str):
        return f"s:{value}"
    raise UncodableValue(f"no code for {type(value).__name__} values")


def row_fields(row: Any) -> dict[str, Any]:
    """The filterable fields of an image row (an :class:`ImageRow` or a mapping of its columns):
    the columns and the extra fields, as filters see them."""
    get = row.get if isinstance(row, Mapping) else lambda name: getattr(row, name)
    columns = COLUMN_FIELDS + SIZE_FIELDS
    extra = get("extra") or {}
    fields = {k: v for k, v in extra.items() if k not in columns}
    fields.update({name: get(name) for name in columns})
    return fields


def has_codes(connection: Connection) -> bool:
    """Whether the database keeps value codes in line with its rows (an index made before
    them does not yet, nor one written by an older MedSearch since)."""
    if not inspect(connection).has_table(state_table.name):
        return False
    counts = connection.execute(select(state_table.c.writes, state_table.c.coded)).first()
    return counts is not None and counts.writes == counts.coded


def mark_current(connection: Connection) -> None:
    """Record that the codes are in line with every row written so far (at the end of each
    unit of work of the writer, which keeps them)."""
    connection.execute(update(state_table).values(coded=state_table.c.writes))


def create_if_new(engine: Engine) -> None:
    """Make the tables and give every existing row its codes, in one transaction, so that the
    tables exist only complete; codes left behind by rows another writer wrote are made
    again."""
    with engine.begin() as connection:
        if has_codes(connection):
            stamps.add_if_missing(connection)
            return
        for trigger in _TRIGGERS:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        metadata.drop_all(connection)
        metadata.create_all(connection)
        connection.execute(
            insert(state_table).values(id=1, writes=0, coded=0, epoch=stamps.new_epoch())
        )
        stamps.create_triggers(connection)
        for trigger, when in _TRIGGERS.items():
            connection.exec_driver_sql(
                f"CREATE TRIGGER {trigger} {when} "
                f"BEGIN UPDATE {state_table.name} SET writes = writes + 1; END"
            )
        _fill(connection)


def _fill(connection: Connection) -> None:
    """Give every existing row its codes."""
    last = 0
    while True:
        query = select(ImageRow).where(ImageRow.id > last).order_by(ImageRow.id).limit(FILL_BLOCK)
        rows = [(row.id, row_fields(row)) for row in Session(connection).scalars(query)]
        if not rows:
            return
        add_rows(connection, rows)
        last = rows[-1][0]


def add_rows(connection: Connection, rows: Sequence[FieldRow]) -> None:
    """Set the codes of newly written rows (ids with no codes yet).

    A handful of statements whatever the number of rows and fields: the fields' states, the
    codes of their values, the blobs the ids fall in, each read and written in one go.
    """
    by_field: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    for image_id, fields in rows:
        for field, value in fields.items():
            by_field[field].append((image_id, value))
    if not by_field:
        return
    states = _states(connection, list(by_field))
    keyed: dict[str, list[tuple[int, str | None]]] = {}
    for field, values in by_field.items():
        if field in states and not states[field][0]:
            continue  # given up before
        try:
            keyed[field] = [(image_id, value_key(value)) for image_id, value in values]
        except UncodableValue:
            _give_up(connection, field, known=field in states)
    codes = _codes_of(connection, keyed)
    new_keys, new_states, written = [], [], {}
    for field, pairs in keyed.items():
        next_code = states[field][1] if field in states else 1
        added = sorted({key for _, key in pairs if key is not None} - codes[field].keys())
        if next_code + len(added) - 1 > MAX_CODES:
            _give_up(connection, field, known=field in states)
            continue
        if added or field not in states:
            codes[field].update({key: next_code + i for i, key in enumerate(added)})
            new_keys += [{"field": field, "key": k, "code": codes[field][k]} for k in added]
            new_states.append({"field": field, "covered": 1, "next_code": next_code + len(added)})
        field_codes = codes[field]
        written[field] = (
            np.fromiter((image_id for image_id, _ in pairs), dtype=np.int64, count=len(pairs)),
            np.fromiter(
                (0 if key is None else field_codes[key] for _, key in pairs),
                dtype=CODE,
                count=len(pairs),
            ),
        )
    if new_keys:
        connection.execute(insert(keys_table), new_keys)
    if new_states:
        upsert = insert(fields_table)
        connection.execute(
            upsert.on_conflict_do_update(
                index_elements=["field"], set_={"next_code": upsert.excluded.next_code}
            ),
            new_states,
        )
    _change_codes(connection, written)


def remove_ids(connection: Connection, ids: Iterable[int]) -> None:
    """Clear every code of ``ids`` (deleted rows, or rows about to be written again)."""
    wanted = np.unique(np.asarray(list(ids), dtype=np.int64))
    if not len(wanted):
        return
    chunks = np.unique(wanted // CHUNK_IDS).tolist()
    fields: set[str] = set()
    for start in range(0, len(chunks), IN_CHUNK):
        query = select(chunks_table.c.field).where(
            chunks_table.c.chunk.in_(chunks[start : start + IN_CHUNK])
        )
        fields.update(field for (field,) in connection.execute(query))
    zeros = np.zeros(len(wanted), dtype=CODE)
    _change_codes(connection, {field: (wanted, zeros) for field in fields})


def replace_rows(connection: Connection, rows: Sequence[FieldRow]) -> None:
    """Reset the codes of rewritten rows to their fields now."""
    remove_ids(connection, [image_id for image_id, _ in rows])
    add_rows(connection, rows)


def _states(connection: Connection, fields: list[str]) -> dict[str, tuple[bool, int]]:
    """Whether each known field of ``fields`` keeps codes, and its next code."""
    found: dict[str, tuple[bool, int]] = {}
    for start in range(0, len(fields), IN_CHUNK):
        query = select(fields_table).where(
            fields_table.c.field.in_(fields[start : start + IN_CHUNK])
        )
        found.update(
            {
                field: (bool(covered), int(next_code))
                for field, covered, next_code in connection.execute(query)
            }
        )
    return found


def _codes_of(
    connection: Connection, keyed: Mapping[str, Sequence[tuple[int, str | None]]]
) -> dict[str, dict[str, int]]:
    """The codes already given to the keys of each field, by field."""
    codes: dict[str, dict[str, int]] = {field: {} for field in keyed}
    pairs = sorted({(f, key) for f, keys in keyed.items() for _, key in keys if key is not None})
    for start in range(0, len(pairs), IN_CHUNK):
        part = pairs[start : start + IN_CHUNK]
        # fields and keys each within the part's: the few pairs of another field's key are
        # dropped below
        query = select(keys_table).where(
            keys_table.c.field.in_({f for f, _ in part}), keys_table.c.key.in_({k for _, k in part})
        )
        for field, key, code in connection.execute(query):
            codes[field][key] = int(code)
    return codes


def _give_up(connection: Connection, field: str, *, known: bool) -> None:
    """Drop the codes of a field that cannot keep them; filters on it read SQLite from now on."""
    connection.execute(delete(keys_table).where(keys_table.c.field == field))
    connection.execute(delete(chunks_table).where(chunks_table.c.field == field))
    if known:
        connection.execute(
            update(fields_table).where(fields_table.c.field == field).values(covered=0)
        )
    else:
        connection.execute(insert(fields_table).values(field=field, covered=0, next_code=1))


def _change_codes(
    connection: Connection,
    changes: Mapping[str, tuple[npt.NDArray[np.int64], Codes]],
) -> None:
    """Set each field's codes at its ids: the blobs they fall in read in one query, changed,
    and written back in one statement (a blob left with no value is dropped)."""
    wanted = {
        (field, int(c)) for field, (ids, _) in changes.items() for c in np.unique(ids // CHUNK_IDS)
    }
    if not wanted:
        return
    blobs: dict[tuple[str, int], Codes] = {}
    listed = sorted(wanted)
    for start in range(0, len(listed), IN_CHUNK):
        part = listed[start : start + IN_CHUNK]
        query = select(chunks_table.c.field, chunks_table.c.chunk, chunks_table.c.codes).where(
            chunks_table.c.field.in_({f for f, _ in part}),
            chunks_table.c.chunk.in_({c for _, c in part}),
        )
        for field, chunk, blob in connection.execute(query):
            if (field, chunk) in wanted:
                blobs[(field, chunk)] = _decoded(blob)
    for field, (ids, codes) in changes.items():
        chunk_of = ids // CHUNK_IDS
        for chunk in np.unique(chunk_of).tolist():
            inside = chunk_of == chunk
            current = blobs.setdefault((field, chunk), np.zeros(CHUNK_IDS, dtype=CODE))
            current[ids[inside] % CHUNK_IDS] = codes[inside]
    kept = [
        {"field": f, "chunk": c, "codes": b.tobytes()} for (f, c), b in blobs.items() if b.any()
    ]
    if kept:
        upsert = insert(chunks_table)
        connection.execute(
            upsert.on_conflict_do_update(
                index_elements=["field", "chunk"], set_={"codes": upsert.excluded.codes}
            ),
            kept,
        )
    for (field, chunk), codes in blobs.items():
        if not codes.any():
            connection.execute(
                delete(chunks_table).where(
                    chunks_table.c.field == field, chunks_table.c.chunk == chunk
                )
            )


def _decoded(blob: bytes) -> Codes:
    """A blob's codes as a writable array."""
    return np.frombuffer(blob, dtype=CODE).copy()
