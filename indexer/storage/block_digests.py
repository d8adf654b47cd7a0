"""Publishing and loading ``vector_blocks.bin`` (and its recent part), and the block guard of a
served version.

The files hold the :class:`~indexer.storage.vector_blocks.VectorBlocks` of the rows a version
publishes; ``index_info.json`` records their checksums like every other published file's, so a
service checks the small files whole at start and the blocks of ``vectors.f16`` one by one
(:mod:`indexer.storage.block_guard`).
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from ..errors import IndexCorruptError
from . import checksums
from .atomic import reporting_disk_full, write_atomic
from .block_guard import BlockGuard
from .folder import IndexFolder
from .info import IndexInfo
from .row_table import F16
from .run_publications import RunPublications
from .vector_blocks import (
    BLOCK_BYTES,
    NO_DIGESTS,
    RECENT_BLOCKS_FILE,
    RECENT_MAX_DIGESTS,
    VECTOR_BLOCKS_FILE,
    Digests,
    VectorBlocks,
    block_digest,
    digest_array,
    read_blocks,
)

_BLOCK_FILES = (VECTOR_BLOCKS_FILE, RECENT_BLOCKS_FILE)


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
    folder: IndexFolder,
    info: IndexInfo,
    rows: int,
    *,
    block_bytes: int = BLOCK_BYTES,
    run: RunPublications | None = None,
) -> dict[str, str]:
    """The checksums, by file name, of the digests of the ``block_bytes`` blocks of the first
    ``rows`` rows of ``vectors.f16``, written unless ``info``'s version published the same.

    The whole blocks of that version keep their recorded digests. Those after the main file's
    whole blocks are written to the recent file alone, while they number at most
    :data:`RECENT_MAX_DIGESTS`; else every digest goes to the main file and there is no recent
    one (:mod:`indexer.storage.vector_blocks`). ``run`` keeps the main file from one
    checkpoint to the next (:mod:`indexer.storage.run_publications`).
    """
    length = rows * info.dim * F16.itemsize

    def record(digests: Digests) -> VectorBlocks:
        return VectorBlocks(block_bytes, length, digests)

    def written_main(digests: Digests) -> dict[str, str]:
        blocks = record(digests)
        checksum = _written(folder, VECTOR_BLOCKS_FILE, blocks)
        if run is not None:
            run.keep_file(folder.path / VECTOR_BLOCKS_FILE, checksum, blocks)
        return {VECTOR_BLOCKS_FILE: checksum}

    # a damaged file (or one a killed publication replaced) is made again from the vectors
    main = recent = None
    with contextlib.suppress(IndexCorruptError):
        main = _main_file(folder, info, run)
        recent = _recent_file(folder, info, main) if main is not None else None
    if main is None or main.block_bytes != block_bytes:
        return written_main(_hashed(folder, 0, length, block_bytes))
    covered = (recent or main).length
    if covered == length:
        return {name: info.checksums[name] for name in _BLOCK_FILES if name in info.checksums}
    kept = min(covered, length) // block_bytes  # the previous version's blocks still whole
    after = main.whole_blocks()
    if kept >= after and -(-length // block_bytes) - after <= RECENT_MAX_DIGESTS:
        recent_kept = NO_DIGESTS if recent is None else recent.digests[: kept - after]
        digests = np.concatenate((recent_kept, _hashed(folder, kept, length, block_bytes)))
        return {
            VECTOR_BLOCKS_FILE: info.checksums[VECTOR_BLOCKS_FILE],
            RECENT_BLOCKS_FILE: _written(folder, RECENT_BLOCKS_FILE, record(digests)),
        }
    previous = _joined(main, recent)
    return written_main(
        np.concatenate((previous.digests[:kept], _hashed(folder, kept, length, block_bytes)))
    )


def _hashed(folder: IndexFolder, first: int, length: int, block_bytes: int) -> Digests:
    """The digests of the blocks from ``first`` on of the first ``length`` bytes."""
    blocks = VectorBlocks(block_bytes, length, NO_DIGESTS)
    digests = []
    fd = os.open(folder.vectors_path, os.O_RDONLY) if length else -1
    try:
        for block, content in read_blocks(fd, blocks, first, -(-length // block_bytes)):
            start, end = blocks.span(block)
            if len(content) != end - start:
                raise IndexCorruptError(
                    f"{folder.vectors_path.name} is shorter than the {length} bytes published"
                )
            digests.append(block_digest(content))
    finally:
        if fd >= 0:
            os.close(fd)
    return digest_array(digests)


def _written(folder: IndexFolder, name: str, blocks: VectorBlocks) -> str:
    """Write ``blocks`` as the file ``name``; its checksum."""
    encoded = blocks.to_bytes()
    with reporting_disk_full(name):
        write_atomic(folder.path / name, encoded, durable=True)
    return checksums.content_checksum(encoded)


def load_vector_blocks(folder: IndexFolder, info: IndexInfo) -> VectorBlocks | None:
    """The block digests ``info``'s version published, checked against their checksums; None
    for a version that records none (published before they existed)."""
    main = _main_file(folder, info)
    if main is None:
        return None
    recent = _recent_file(folder, info, main)
    blocks = _joined(main, recent)
    expected = (info.vector_rows or 0) * info.dim * F16.itemsize
    whole = -(-blocks.length // max(blocks.block_bytes, 1))
    if blocks.block_bytes < 1 or blocks.length != expected or len(blocks) != whole:
        raise IndexCorruptError(
            f"{VECTOR_BLOCKS_FILE} covers {blocks.length} bytes in {len(blocks)} blocks; the "
            f"version publishes {expected} bytes of vectors"
        )
    return blocks


def _main_file(
    folder: IndexFolder, info: IndexInfo, run: RunPublications | None = None
) -> VectorBlocks | None:
    """The main block file of ``info``'s version, checked against its checksum (or as ``run``
    kept it); None for a version that records none."""
    path, recorded = folder.path / VECTOR_BLOCKS_FILE, info.checksums.get(VECTOR_BLOCKS_FILE)
    if recorded is None:
        return None
    kept = run.kept_file(path, recorded) if run is not None else None
    if isinstance(kept, VectorBlocks):
        return kept
    main = _checked_record(folder, info, VECTOR_BLOCKS_FILE)
    if main is not None and run is not None:
        run.keep_file(path, recorded, main)
    return main


def _recent_file(folder: IndexFolder, info: IndexInfo, main: VectorBlocks) -> VectorBlocks | None:
    """The recent block file of ``info``'s version, checked against its checksum and against
    ``main``, which it follows; None for a version that records none."""
    recent = _checked_record(folder, info, RECENT_BLOCKS_FILE)
    if recent is not None and (
        recent.block_bytes != main.block_bytes
        or recent.length < main.whole_blocks() * main.block_bytes
    ):
        raise IndexCorruptError(f"{RECENT_BLOCKS_FILE} does not follow {VECTOR_BLOCKS_FILE}")
    return recent


def _joined(main: VectorBlocks, recent: VectorBlocks | None) -> VectorBlocks:
    """The record of every block a version publishes, from its main and recent files."""
    return main if recent is None else main.followed_by(recent)


def _checked_record(folder: IndexFolder, info: IndexInfo, name: str) -> VectorBlocks | None:
    recorded = info.checksums.get(name)
    if recorded is None:
        return None
    return VectorBlocks.from_bytes(checksums.checked_bytes(folder.path / name, recorded), name)
