"""Rows of ``vectors.f16`` read without leaving the file resident in the process.

Every page of a mapped file that a read touches stays in the process's resident set, and the
kernel maps the whole page-cache folio around it (up to :data:`FOLIO_BYTES`): re-ranking a few
thousand random rows per query would leave most of the file resident after a while. A
:class:`RowTable` therefore reads scattered rows (a re-rank's candidates: about a folio mapped
per row) with one ``pread`` each into the result, which maps nothing, and dense ones (slices,
rows close together) through a memory map in chunks, counting the folios each chunk may have
mapped; once that passes half of its budget (:data:`MAPPED_BUDGET_BYTES`) it drops the mapping's
pages from the process with ``madvise(MADV_DONTNEED)``. The pages stay in the kernel's page
cache either way; a re-rank's rows read by ``pread`` cost a fraction of the faults the mapping
took for them (docs/benchmarks.md, "Ten million vectors, measured").

Rows are checked against the published block digests by the version's
:class:`~indexer.storage.block_guard.BlockGuard`, when it has one, before they are read.
"""

from __future__ import annotations

import mmap
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .block_guard import BlockGuard

F16 = np.dtype("<f2")
#: resident bytes of the mapping it keeps under
MAPPED_BUDGET_BYTES = 256 << 20
#: the most one fault maps: a page-cache folio as large as a page-table leaf of 4 KiB pages
FOLIO_BYTES = 2 << 20
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
#: mapped bytes per row above which rows are read one ``pread`` each rather than mapped
SCATTERED_BYTES_PER_ROW = 64 << 10


class RowTable:
    """The float16 rows of a vector file by 0-based row number: ``table[rows]`` or
    ``table[i:j]`` copies those rows out of the mapping."""

    def __init__(
        self,
        path: Path,
        dim: int,
        rows: int,
        guard: BlockGuard | None = None,
        budget: int = MAPPED_BUDGET_BYTES,
    ) -> None:
        self.shape = (rows, dim)
        self.dtype = F16
        self._row_bytes = dim * F16.itemsize
        self._guard = guard
        #: bytes a chunk of rows may map before the mapping's pages are given back
        self._chunk_bytes = max(budget // 2, FOLIO_BYTES)
        self._lock = threading.Lock()
        self._mapped = 0
        self._map: mmap.mmap | None = None
        self._array: npt.NDArray[np.float16] = np.zeros((0, dim), dtype=F16)
        self._fd: int | None = None
        if rows:
            with open(path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), rows * self._row_bytes, prot=mmap.PROT_READ)
                self._fd = os.dup(handle.fileno())
            self._array = np.frombuffer(self._map, dtype=F16).reshape(rows, dim)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> npt.NDArray[np.float16]:
        if isinstance(key, slice):
            rows = np.arange(*key.indices(self.shape[0]), dtype=np.int64)
        else:
            rows = np.asarray(key, dtype=np.int64)
        flat = rows.ravel()
        if self._guard is not None:
            self._guard.check_rows(flat)
        out = np.empty((flat.size, self.shape[1]), dtype=F16)
        mapped = self._mapped_through(flat)
        if flat.size and int(mapped[-1]) > max(
            self._chunk_bytes, SCATTERED_BYTES_PER_ROW * flat.size
        ):
            self._read_each(flat, out)
            return out.reshape(*rows.shape, self.shape[1])
        start = 0
        while start < flat.size:
            before = int(mapped[start - 1]) if start else 0
            # the rows whose folios fit in one chunk, one row at least
            end = max(int(np.searchsorted(mapped, before + self._chunk_bytes, "right")), start + 1)
            out[start:end] = self._array[flat[start:end]]
            self._count(int(mapped[end - 1]) - before)
            start = end
        return out.reshape(*rows.shape, self.shape[1])

    def _read_each(self, rows: npt.NDArray[np.int64], out: npt.NDArray[np.float16]) -> None:
        """``rows`` into ``out``, one ``pread`` each (nothing is mapped into the process)."""
        if self._fd is None or rows.min() < 0 or rows.max() >= self.shape[0]:
            out[:] = self._array[rows]  # the array's own bounds error, or nothing to read
            return
        view = out.data.cast("B")
        size = self._row_bytes
        for i, row in enumerate(rows.tolist()):
            if os.preadv(self._fd, [view[i * size : (i + 1) * size]], row * size) != size:
                raise OSError(f"row {row} of the vector file could not be read whole")

    def close(self) -> None:
        """Let the file go (the mapping goes with the last array that views it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()

    def release(self) -> None:
        """Give the mapping's resident pages back (they stay in the page cache)."""
        with self._lock:
            self._mapped = 0
            if self._map is not None and _DONTNEED is not None:
                self._map.madvise(_DONTNEED)

    def _mapped_through(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The bytes reading ``rows`` in order may map, through each row: a folio for each
        folio-sized window of the file a row reaches that the row before did not."""
        first = rows * self._row_bytes // FOLIO_BYTES
        last = (rows * self._row_bytes + self._row_bytes - 1) // FOLIO_BYTES
        entered = np.ones(rows.size, dtype=np.int64)
        entered[1:] = first[1:] != last[:-1]
        return np.cumsum(entered + (last != first)) * FOLIO_BYTES

    def _count(self, mapped: int) -> None:
        """Add what a chunk may have mapped; give the pages back once past a chunk's worth."""
        with self._lock:
            self._mapped += mapped
            over = self._mapped > self._chunk_bytes
        if over:
            self.release()
