"""Digests of fixed-size blocks of ``vectors.f16``, so that a service can trust the rows it reads
without hashing the whole file before it answers: the record, and reading blocks.

Publishing (:mod:`indexer.storage.block_digests`) records, beside the checksum of the published
rows as a whole, the sha256 of every :data:`BLOCK_BYTES` block of them in ``vector_blocks.bin``
(the last block may be shorter); that file's own checksum is in ``index_info.json`` like every
other published file's. A service checks that file at start, then each block before it trusts
rows in it, and the rest in the background (:mod:`indexer.storage.block_guard`). The published
rows never change, so the next publication keeps the digests of the previous version's whole
blocks and hashes only the blocks the new rows reach.

Rewriting every digest at each checkpoint of a long run would cost more and more (20 MB at ten
million vectors), so, like the ANN index's recent part, the digests after the main file's whole
blocks go to ``vector_blocks-recent.bin``, the only file a checkpoint writes, until it holds
:data:`RECENT_MAX_DIGESTS`; the next publication then writes them all to the main file again.
The recent file has the same layout: its header's length is the length both files cover, and
its first digest is that of the block after the main file's last whole one.

The blocks are small so that checking a query's rows costs little more than reading them: a
re-rank reads a few thousand scattered rows, and each costs the hashing of the one block that
holds it. The digests are therefore binary, 32 bytes each after a fixed header
(:data:`HEADER`: a magic, the block size and the length covered).

An index published before this file existed has none (or the older ``vector_blocks.json`` of
4 MiB blocks, which is no longer read): its vectors are hashed whole at start, as before, and the
next publication records the blocks.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import IndexCorruptError

#: the published file and its name in ``index_info.json``'s checksums
VECTOR_BLOCKS_FILE = "vector_blocks.bin"
#: the digests of the blocks after the main file's whole ones, while they are few
RECENT_BLOCKS_FILE = "vector_blocks-recent.bin"
#: digests the recent file may hold before a publication folds them into the main one (1 MiB of
#: digests, the blocks of 512 MiB of vectors)
RECENT_MAX_DIGESTS = 32768
#: the file of 4 MiB blocks in JSON that earlier versions published (removed at the next one)
LEGACY_BLOCKS_FILE = "vector_blocks.json"
#: bytes of ``vectors.f16`` one digest covers
BLOCK_BYTES = 16 << 10
#: the file's header: magic, block size, bytes covered (little-endian)
HEADER = struct.Struct("<8sQQ")
_MAGIC = b"MSBLOCK1"
DIGEST_BYTES = 32
#: bytes read at once when many consecutive blocks are hashed
READ_BYTES = 4 << 20

#: block digests, one row of :data:`DIGEST_BYTES` bytes each
Digests = npt.NDArray[np.uint8]
NO_DIGESTS: Digests = np.zeros((0, DIGEST_BYTES), np.uint8)
NO_DIGESTS.setflags(write=False)


@dataclass(frozen=True, eq=False)
class VectorBlocks:
    """The sha256 of each block of the first ``length`` bytes of ``vectors.f16``: ``digests``
    holds one row of :data:`DIGEST_BYTES` bytes per block."""

    block_bytes: int
    length: int
    digests: Digests

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

    def whole_blocks(self) -> int:
        """The blocks this record covers whole (all but a shorter last one)."""
        return self.length // self.block_bytes

    def followed_by(self, recent: VectorBlocks) -> VectorBlocks:
        """The record of this main part's whole blocks and ``recent``, the digests after them."""
        digests = np.concatenate((self.digests[: self.whole_blocks()], recent.digests))
        return VectorBlocks(self.block_bytes, recent.length, digests)

    def matches(self, block: int, content: bytes | memoryview) -> bool:
        return block_digest(content) == self.digests[block].tobytes()

    def to_bytes(self) -> bytes:
        return HEADER.pack(_MAGIC, self.block_bytes, self.length) + self.digests.tobytes()

    @classmethod
    def from_bytes(cls, content: bytes, name: str = VECTOR_BLOCKS_FILE) -> VectorBlocks:
        """The record ``content`` holds (:class:`IndexCorruptError` if it holds none)."""
        if len(content) < HEADER.size:
            raise IndexCorruptError(f"{name} is shorter than its header")
        magic, block_bytes, length = HEADER.unpack_from(content)
        body = len(content) - HEADER.size
        if magic != _MAGIC or block_bytes < 1 or body % DIGEST_BYTES:
            raise IndexCorruptError(f"{name} is not a file of block digests")
        digests = np.frombuffer(content, np.uint8, offset=HEADER.size).reshape(-1, DIGEST_BYTES)
        return cls(block_bytes, length, digests)


def block_digest(content: bytes | memoryview) -> bytes:
    return hashlib.sha256(content).digest()


def digest_array(digests: list[bytes]) -> Digests:
    """``digests`` as rows of :class:`VectorBlocks`'s array."""
    return np.frombuffer(b"".join(digests), np.uint8).reshape(-1, DIGEST_BYTES)


def read_blocks(
    fd: int, blocks: VectorBlocks, first: int, end: int
) -> Iterator[tuple[int, memoryview]]:
    """Each block of ``first`` .. ``end - 1`` with its bytes as the file holds them now (shorter,
    or empty, when the file was cut), read :data:`READ_BYTES` at a time."""
    per_read = max(READ_BYTES // blocks.block_bytes, 1)
    for chunk_first in range(first, end, per_read):
        chunk_end = min(chunk_first + per_read, end)
        start = blocks.span(chunk_first)[0]
        content = memoryview(os.pread(fd, blocks.span(chunk_end - 1)[1] - start, start))
        for block in range(chunk_first, chunk_end):
            block_start, block_end = blocks.span(block)
            yield block, content[block_start - start : block_end - start]
