"""Digests of fixed-size blocks of ``vectors.f16``, so that a service can trust the rows it reads
without hashing the whole file before it answers: the record, and reading a block.

Publishing (:mod:`indexer.storage.block_digests`) records, beside the checksum of the published
rows as a whole, the sha256 of every :data:`BLOCK_BYTES` block of them in ``vector_blocks.json``
(the last block may be shorter); that file's own checksum is in ``index_info.json`` like every
other published file's. A service checks that small file at start, then each block before it
trusts rows in it, and the rest in the background (:mod:`indexer.storage.block_guard`). The
published rows never change, so the next publication keeps the digests of the previous
version's whole blocks and hashes only the blocks the new rows reach.

An index published before this file existed has none: its vectors are hashed whole at start, as
before, and the next publication records the blocks.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: the published file and its name in ``index_info.json``'s checksums
VECTOR_BLOCKS_FILE = "vector_blocks.json"
#: bytes of ``vectors.f16`` one digest covers
BLOCK_BYTES = 4 << 20


@dataclass(frozen=True)
class VectorBlocks:
    """The sha256 (hex) of each block of the first ``length`` bytes of ``vectors.f16``."""

    block_bytes: int
    length: int
    digests: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.digests)

    def span(self, block: int) -> tuple[int, int]:
        """The byte range [start, end) of ``block``."""
        start = block * self.block_bytes
        return start, min(start + self.block_bytes, self.length)

    def blocks_of_rows(self, rows: npt.NDArray[np.int64], row_bytes: int) -> npt.NDArray[np.int64]:
        """The blocks (sorted, once each) holding any byte of the 0-based ``rows``; rows past
        the covered length map past the last block."""
        first = rows * row_bytes // self.block_bytes
        last = ((rows + 1) * row_bytes - 1) // self.block_bytes
        return np.unique(np.concatenate((first, last)))

    def matches(self, block: int, content: bytes) -> bool:
        return block_digest(content) == self.digests[block]


def block_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def read_block(fd: int, blocks: VectorBlocks, block: int) -> bytes:
    """The bytes of ``block`` as the file holds them now (shorter when the file was cut)."""
    start, end = blocks.span(block)
    return os.pread(fd, end - start, start)
