"""Filters answered from the value codes (:mod:`indexer.storage.value_codes`).

A field's codes come back from SQLite as a few thousand blobs and become one array indexed by
image id; a filter compares that array with the codes of its values (any of them) and keeps the
ids where every field matches. That takes milliseconds however many images match, where reading
the matching ids from SQLite takes about a second per million. Each field's array is kept until
the database changes, and then only the chunks written since are read again
(:mod:`.value_code_stamps`). A filter on a field without codes (or on an index made before them)
is answered by SQLite instead: :meth:`CodedFilters.ids_matching` returns None.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..id_sets import GrowingIds
from ..records import MetadataValue
from . import value_code_stamps as stamps
from .sql import IdArray
from .value_codes import (
    CHUNK_IDS,
    CODE,
    Codes,
    UncodableValue,
    chunks_table,
    fields_table,
    has_codes,
    keys_table,
    value_key,
)

#: ``cached(name, compute)``: compute's value, kept until the database changes
Cached = Callable[[str, Callable[[], Any]], Any]


class CodedFilters:
    """Equality filters of one metadata database read from its value codes."""

    def __init__(self, engine: Engine, cached: Cached) -> None:
        self.engine = engine
        self._cached = cached
        #: each field's codes as last read, with where the chunks stood before that read
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def ids_matching(self, typed: Mapping[str, Sequence[MetadataValue]]) -> IdArray | None:
        """Ascending ids of the images whose every field equals one of its values (already
        typed as the field's stored values), or None when a field has no codes."""
        covered: frozenset[str] = self._cached("coded-fields", self._covered_fields)
        if not typed or not set(typed) <= covered:
            return None
        try:
            keys = {
                field: {value_key(v) for v in values} - {None} for field, values in typed.items()
            }
        except UncodableValue:
            return None
        matches: np.ndarray | None = None
        for field, field_keys in keys.items():
            wanted = self._codes_of(field, field_keys)
            if not wanted:
                return np.zeros(0, dtype=np.int64)
            codes = self.field_codes(field)
            found = codes == wanted[0] if len(wanted) == 1 else np.isin(codes, wanted)
            if matches is None:
                matches = found
            else:
                length = min(len(matches), len(found))
                matches = matches[:length] & found[:length]
        assert matches is not None
        return np.flatnonzero(matches).astype(np.int64, copy=False)

    def ids_with_value(self, field: str) -> IdArray | None:
        """Ascending ids of the images that have a value of ``field``, or None when it has no
        codes (for a column no row leaves empty, ``format``, that is every image)."""
        covered: frozenset[str] = self._cached("coded-fields", self._covered_fields)
        if field not in covered:
            return None
        codes = self.field_codes(field)
        with self._lock:
            kept = self._kept.get(field)
            if kept is None or kept.codes is not codes:  # read without stamps
                return np.flatnonzero(codes).astype(np.int64, copy=False)
            if kept.ids is None:  # from now on kept up to date with the codes
                kept.ids = GrowingIds(np.flatnonzero(codes))
            return kept.ids.view()

    def field_codes(self, field: str) -> Codes:
        """The code of ``field`` of every id (index = id; 0: no value), kept until the
        database changes."""
        codes: Codes = self._cached(f"codes:{field}", lambda: self._read_codes(field))
        return codes

    def _covered_fields(self) -> frozenset[str]:
        with self.engine.connect() as connection:
            if not has_codes(connection):
                return frozenset()
            query = select(fields_table.c.field).where(fields_table.c.covered == 1)
            return frozenset(field for (field,) in connection.execute(query))

    def _codes_of(self, field: str, keys: set[str | None]) -> list[int]:
        if not keys:
            return []
        query = select(keys_table.c.code).where(
            keys_table.c.field == field, keys_table.c.key.in_(sorted(k for k in keys if k))
        )
        with self.engine.connect() as connection:
            return sorted(int(code) for (code,) in connection.execute(query))

    def _read_codes(self, field: str) -> Codes:
        """The field's codes now: from those read before, with the chunks written since read
        again (:mod:`.value_code_stamps`), or from every chunk."""
        query = select(chunks_table.c.chunk, chunks_table.c.codes).where(
            chunks_table.c.field == field
        )
        with self._lock, self.engine.connect() as connection:
            stamp = stamps.current(connection)  # before the chunks: a later write is read again
            kept = self._kept.get(field)
            if kept is None or stamp is None or kept.stamp.epoch != stamp.epoch:
                kept = None
            else:
                query = query.where(chunks_table.c.stamp > kept.stamp.stamp)
            blobs = connection.execute(query.order_by(chunks_table.c.chunk)).all()
            start = kept.codes if kept is not None else np.zeros(0, dtype=CODE)
            size = max(len(start), (int(blobs[-1][0]) + 1) * CHUNK_IDS if blobs else 0)
            codes = np.zeros(size, dtype=CODE)
            codes[: len(start)] = start
            for chunk, blob in blobs:
                codes[chunk * CHUNK_IDS : (chunk + 1) * CHUNK_IDS] = np.frombuffer(blob, CODE)
            codes.setflags(write=False)
            if stamp is not None:
                ids = kept.ids if kept is not None else None
                if ids is not None and blobs:
                    ids = _ids_updated(ids, codes, int(blobs[0][0]) * CHUNK_IDS)
                self._kept[field] = _Kept(stamp, codes, ids)
        return codes


@dataclass
class _Kept:
    """A field's codes as last read, where the chunks stood before that read, and (once asked
    for) the ids that have a value, kept up to date with the codes."""

    stamp: stamps.Stamp
    codes: Codes
    ids: GrowingIds | None = None


def _ids_updated(ids: GrowingIds, codes: Codes, start: int) -> GrowingIds:
    """``ids`` (of the images with a value) brought in line with ``codes``, which changed from
    id ``start`` on: appended to where the ids from ``start`` only gained higher ones (new
    images), else made again from the unchanged ones before ``start``."""
    held = ids.view()
    cut = int(np.searchsorted(held, start))
    tail = np.flatnonzero(codes[start:]) + start
    before = held[cut:]
    if len(tail) >= len(before) and np.array_equal(tail[: len(before)], before):
        ids.append(tail[len(before) :])
        return ids
    return GrowingIds(np.concatenate((held[:cut], tail)))
