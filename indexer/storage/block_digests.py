"""Publishing and loading ``vector_blocks.bin``, and the block guard of a served version.

The file holds the :class:`~indexer.storage.vector_blocks.VectorBlocks` of the rows a version
publishes; ``index_info.json`` records its checksum like every other published file's, so a
service checks the small file whole at start and the blocks of ``vectors.f16`` one by one
(:mod:`indexer.storage.block_guard`).
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import IndexCorruptError
from . import checksums
from .atomic import reporting_disk_full, write_atomic
from .block_guard import BlockGuard
from .folder import IndexFolder
from .info import IndexInfo
from .row_table import F16
from .vector_blocks import (
    BLOCK_BYTES,
    DIGEST_BYTES,
    VECTOR_BLOCKS_FILE,
    VectorBlocks,
    block_digest,
    digest_array,
    read_blocks,
)


def guard_of(
    folder: IndexFolder, info: IndexInfo, previous: BlockGuard | None
) -> BlockGuard | None:
    """The guard of the vector file of ``info``'s version, having taken over what ``previous``
    (the version served before) checked of the unchanged blocks and checked the changed ones;
    None for a version that records no block digests (its rows are then hashed whole)."""
    blocks = load_vector_blocks(folder, info)
    if blocks is None:
        return None
    guard = BlockGuard(folder.vectors_path, blocks, info.dim * F16.itemsize)
    if previous is not None:
        guard.continue_from(previous)
    return guard


def publish_vector_blocks(
    folder: IndexFolder, info: IndexInfo, rows: int, *, block_bytes: int = BLOCK_BYTES
) -> dict[str, str]:
    """The checksum, by file name, of the digests of the ``block_bytes`` blocks of the first
    ``rows`` rows of ``vectors.f16``, written unless ``info``'s version published the same; the
    whole blocks of that version keep their recorded digests."""
    length = rows * info.dim * F16.itemsize
    try:
        previous = load_vector_blocks(folder, info)
    except IndexCorruptError:
        previous = None
    if previous is not None and (previous.block_bytes, previous.length) == (block_bytes, length):
        return {VECTOR_BLOCKS_FILE: info.checksums[VECTOR_BLOCKS_FILE]}
    kept = np.zeros((0, DIGEST_BYTES), np.uint8)
    if previous is not None and previous.block_bytes == block_bytes:
        kept = previous.digests[: min(previous.length, length) // block_bytes]
    blocks = VectorBlocks(block_bytes, length, kept)
    digests = []
    fd = os.open(folder.vectors_path, os.O_RDONLY) if length else -1
    try:
        for block, content in read_blocks(fd, blocks, len(kept), -(-length // block_bytes)):
            start, end = blocks.span(block)
            if len(content) != end - start:
                raise IndexCorruptError(
                    f"{folder.vectors_path.name} is shorter than the {length} bytes published"
                )
            digests.append(block_digest(content))
    finally:
        if fd >= 0:
            os.close(fd)
    record = VectorBlocks(block_bytes, length, np.concatenate((kept, digest_array(digests))))
    encoded = record.to_bytes()
    with reporting_disk_full(VECTOR_BLOCKS_FILE):
        write_atomic(folder.path / VECTOR_BLOCKS_FILE, encoded, durable=True)
    return {VECTOR_BLOCKS_FILE: checksums.content_checksum(encoded)}


def load_vector_blocks(folder: IndexFolder, info: IndexInfo) -> VectorBlocks | None:
    """The block digests ``info``'s version published, checked against their checksum; None for
    a version that records none (published before they existed)."""
    recorded = info.checksums.get(VECTOR_BLOCKS_FILE)
    if recorded is None:
        return None
    content = checksums.checked_bytes(folder.path / VECTOR_BLOCKS_FILE, recorded)
    blocks = VectorBlocks.from_bytes(content)
    expected = (info.vector_rows or 0) * info.dim * F16.itemsize
    whole = -(-blocks.length // max(blocks.block_bytes, 1))
    if blocks.block_bytes < 1 or blocks.length != expected or len(blocks) != whole:
        raise IndexCorruptError(
            f"{VECTOR_BLOCKS_FILE} covers {blocks.length} bytes in {len(blocks)} blocks; the "
            f"version publishes {expected} bytes of vectors"
        )
    return blocks
