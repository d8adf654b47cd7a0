"""Write stamps of the value-code chunks, so that a reader reads again only the chunks that changed.

A reader keeps each field's codes as one array (:mod:`indexer.storage.coded_filters`). Reading
every chunk of a field again after each write would cost more and more as the index grows (20 MB
at ten million images, at every checkpoint of a run), so every chunk carries a stamp: triggers
give it the next value of a counter whenever it is inserted or its codes change, whoever writes
it. A reader notes the counter before it reads, and next time reads only the chunks stamped
above it.

A deleted chunk leaves no row to stamp, and tables made again restart their stamps: both give
the counter's row a new ``epoch`` (one more, or a random one), and a reader that finds another
epoch than the one it noted reads every chunk again.
"""

from __future__ import annotations

import secrets
from typing import NamedTuple

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

#: the tables of :mod:`indexer.storage.value_codes` the stamps live in
CHUNKS = "value_code_chunks"
STATE = "value_code_state"
STAMP_INDEX = "ix_value_code_chunks_stamp"

_SET_STAMP = (
    f"UPDATE {STATE} SET stamp = stamp + 1; "
    f"UPDATE {CHUNKS} SET stamp = (SELECT stamp FROM {STATE}) "
    "WHERE field = NEW.field AND chunk = NEW.chunk;"
)
TRIGGERS = {
    "value_code_chunk_inserted": f"AFTER INSERT ON {CHUNKS} BEGIN {_SET_STAMP} END",
    "value_code_chunk_changed": f"AFTER UPDATE OF codes ON {CHUNKS} BEGIN {_SET_STAMP} END",
    "value_code_chunk_deleted": (
        f"AFTER DELETE ON {CHUNKS} BEGIN UPDATE {STATE} SET epoch = epoch + 1; END"
    ),
}


class Stamp(NamedTuple):
    """Where the chunks stood: their epoch, and the highest stamp given in it."""

    epoch: int
    stamp: int


def new_epoch() -> int:
    """The epoch of tables made (or given stamps) now, unlike any a reader may have noted."""
    return secrets.randbits(62)


def create_triggers(connection: Connection) -> None:
    for trigger, when in TRIGGERS.items():
        connection.exec_driver_sql(f"CREATE TRIGGER {trigger} {when}")


def add_if_missing(connection: Connection) -> None:
    """Give the tables of an index that kept codes before the stamps their stamps: every chunk
    stamped 0, in a new epoch (no statement reads a row of the chunks)."""
    columns = {column["name"] for column in inspect(connection).get_columns(CHUNKS)}
    if "stamp" in columns:
        return
    connection.exec_driver_sql(f"ALTER TABLE {CHUNKS} ADD COLUMN stamp INTEGER NOT NULL DEFAULT 0")
    for column in ("stamp", "epoch"):
        connection.exec_driver_sql(
            f"ALTER TABLE {STATE} ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
        )
    connection.exec_driver_sql(f"UPDATE {STATE} SET epoch = {new_epoch()}")
    connection.exec_driver_sql(f"CREATE INDEX {STAMP_INDEX} ON {CHUNKS} (field, stamp)")
    create_triggers(connection)


def current(connection: Connection) -> Stamp | None:
    """The chunks' epoch and highest stamp now; None where they carry no stamps yet (an index
    not opened for writing since an older MedSearch)."""
    columns = {column["name"] for column in inspect(connection).get_columns(STATE)}
    if "epoch" not in columns:
        return None
    row = connection.exec_driver_sql(f"SELECT epoch, stamp FROM {STATE}").first()
    return Stamp(int(row[0]), int(row[1])) if row is not None else None
