"""The raw embeddings, kept beside the ANN index so it can be rebuilt without embedding again.

A flat file of float16 rows: the vector of image ``id`` lives in row ``id - 1``. Rows are written
with positional writes and fsynced before the metadata rows that refer to them are committed.
Rows are only ever appended past the last published one, so the published rows never change and
``index_info.json`` can record their checksum (:mod:`indexer.storage.checksums`) and the digests
of their blocks (:mod:`indexer.storage.vector_blocks`). A served version's file carries the
:class:`~indexer.storage.block_guard.BlockGuard` that checks each block before its rows are read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..errors import IndexCorruptError
from .atomic import reporting_disk_full
from .block_guard import BlockGuard
from .checksums import PrefixDigest, mismatch_message
from .row_table import F16, RowTable

__all__ = ["F16", "Rows", "VectorFile"]


class VectorFile:
    """Float16 vectors addressed by image id."""

    def __init__(self, path: Path, dim: int, guard: BlockGuard | None = None) -> None:
        self.path = path
        self.dim = dim
        #: checks the published blocks before their rows are read (None: reads are not checked)
        self.guard = guard
        self._row_bytes = dim * F16.itemsize

    def refuse_if_damaged(self) -> None:
        """:class:`~indexer.errors.IndexDamagedError` once the guard found a damaged block."""
        if self.guard is not None:
            self.guard.raise_if_damaged()

    def check_in_background(self) -> None:
        """Let the guard check the blocks not read yet in a background thread."""
        if self.guard is not None:
            self.guard.check_in_background()

    def stop_checks(self) -> None:
        """End the guard's background check (the version is no longer served)."""
        if self.guard is not None:
            self.guard.stop()

    def rows(self) -> int:
        """Number of row slots the file holds (some may belong to deleted images)."""
        size = self.path.stat().st_size if self.path.exists() else 0
        return size // self._row_bytes

    def write(self, ids: npt.ArrayLike, vectors: npt.NDArray[np.float32]) -> None:
        """Write ``vectors`` at the rows of ``ids`` and flush them to disk."""
        id_array = np.asarray(ids, dtype=np.int64)
        data = np.ascontiguousarray(vectors, dtype=F16)
        if data.shape != (len(id_array), self.dim):
            raise ValueError(f"expected {len(id_array)}x{self.dim} vectors, got {data.shape}")
        with reporting_disk_full(self.path.name):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                # consecutive ids (the usual case) go out in one write
                if len(id_array) and np.all(np.diff(id_array) == 1):
                    _pwrite_all(fd, data.tobytes(), int(id_array[0] - 1) * self._row_bytes)
                else:
                    for image_id, row in zip(id_array, data, strict=True):
                        _pwrite_all(fd, row.tobytes(), int(image_id - 1) * self._row_bytes)
                os.fsync(fd)
            finally:
                os.close(fd)

    def digest(self, rows: int, start: PrefixDigest | None = None) -> PrefixDigest:
        """The digest of the first ``rows`` rows, going on from ``start`` when it is no longer."""
        length = rows * self._row_bytes
        fits = start is not None and start.length <= length
        digest = start.copy() if start is not None and fits else PrefixDigest()
        digest.extend_to(self.path, length)
        return digest

    def checked_digest(
        self, rows: int, recorded: str, start: PrefixDigest | None = None
    ) -> PrefixDigest:
        """:meth:`digest`, which must match the ``recorded`` checksum of those rows."""
        digest = self.digest(rows, start)
        if digest.checksum() != recorded:
            raise IndexCorruptError(
                mismatch_message(
                    self.path.name,
                    "the stored embeddings cannot be repaired: rebuild the index into a new "
                    "folder with `medsearch index CORPUS --index NEW_FOLDER`",
                )
            )
        return digest

    def read(self, ids: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """The vectors of ``ids`` as float32 [n, dim]."""
        return self.rows_of(ids)[:]

    def read_stored(self, ids: npt.ArrayLike) -> npt.NDArray[np.float16]:
        """The float16 vectors of ``ids`` as stored, read with plain reads, one per run of
        consecutive ids: unlike a mapping of the file, no page stays in this process's memory,
        so reading every row block by block takes the memory of one block."""
        id_array = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(id_array), self.dim), dtype=F16)
        if not len(id_array):
            return out
        rows = self.rows()
        if id_array.min() < 1 or id_array.max() > rows:
            raise IndexCorruptError(
                f"{self.path.name} has {rows} rows; ids up to {id_array.max()} asked for"
            )
        if self.guard is not None:
            self.guard.check_rows(id_array - 1)
        breaks = np.flatnonzero(np.diff(id_array) != 1) + 1
        starts = np.concatenate(([0], breaks))
        ends = np.concatenate((breaks, [len(id_array)]))
        buffer = out.data.cast("B")
        row = self._row_bytes
        with open(self.path, "rb", buffering=0) as handle:
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                offset = int(id_array[start] - 1) * row
                _pread_into(handle.fileno(), buffer[start * row : end * row], offset)
        return out

    def rows_of(self, ids: npt.ArrayLike) -> Rows:
        """The vectors of ``ids``, read from disk only as slices of them are asked for."""
        id_array = np.asarray(ids, dtype=np.int64)
        table = self.row_table()
        if len(id_array) and (id_array.min() < 1 or id_array.max() > table.shape[0]):
            raise IndexCorruptError(
                f"{self.path.name} has {table.shape[0]} rows; ids up to {id_array.max()} asked for"
            )
        return Rows(table, id_array)

    def row_table(self) -> RowTable:
        """Every row, read through a mapping that gives its pages back (checked by the guard)."""
        return RowTable(self.path, self.dim, self.rows(), self.guard)

    def memmap(self) -> npt.NDArray[np.float16]:
        """A read-only view of every row (mapped, not read into memory)."""
        rows = self.rows()
        if rows == 0:
            return np.zeros((0, self.dim), dtype=F16)
        return np.memmap(self.path, dtype=F16, mode="r", shape=(rows, self.dim))


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset``: a short write (the disk filled up) is continued, so
    the next attempt raises the error instead of leaving the row silently cut."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _pread_into(fd: int, view: memoryview, offset: int) -> None:
    """Fill ``view`` from the file at ``offset`` (a short read is continued)."""
    while view:
        read = os.preadv(fd, [view], offset)
        if read == 0:
            raise IndexCorruptError("the vector file ended before the rows asked for")
        view, offset = view[read:], offset + read


class Rows:
    """The vectors of some ids as a lazy float32 array: ``rows[i:j]`` or ``rows[[i, j]]`` reads
    just those rows, so a million vectors can be indexed in chunks instead of all at once."""

    def __init__(self, table: RowTable, ids: npt.NDArray[np.int64]) -> None:
        self._table = table
        self.ids = ids
        self.dim = int(table.shape[1])

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def table(self) -> RowTable:
        """Every row of the file, the vector of id ``i`` at row ``i - 1`` (mapped, not read)."""
        return self._table

    def __getitem__(self, key: slice | npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        picked = self.ids[key]
        if len(picked) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._table[picked - 1], dtype=np.float32)
